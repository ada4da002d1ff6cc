"""``mxgan bench`` (= ``python bench/throughput.py``): the flags of :class:`mxgan.config.BenchConfig` and ``--json``;
the step's throughput next to PyTorch's, or (``--profile``) where its time goes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

from mxgan.commands.options import add_options, data_dir, from_flags
from mxgan.config import BenchConfig, Option, declared
from mxgan.errors import MxganError
from mxgan.runtime.fileio import check_output_file

SUMMARY = "images/s of the training step, the generator and the data pipeline (vs PyTorch); --profile"
DESCRIPTION = "Throughput of mxgan next to PyTorch's DCGAN example; see bench/README.md."




@dataclass
class BenchCommand:
    """The flags of ``mxgan bench`` beyond :class:`BenchConfig`'s: what the command does with the results."""

    json: str = declared(Option("also write the results to this JSON file", "", metavar="FILE"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, BenchConfig)
    add_options(parser, BenchCommand)


def config(args: argparse.Namespace) -> tuple[BenchConfig, BenchCommand]:
    """What the flags ask for, every check passed (nothing measured yet)."""
    cfg, own = from_flags(args, BenchConfig), from_flags(args, BenchCommand)
    if cfg.profile:
        check_profile(cfg)
    if cfg.compare == "torch":
        if cfg.g_steps != 1:
            raise MxganError(f"--compare torch races PyTorch's example, which updates G once a step: --g-steps 1, "
                             f"not {cfg.g_steps}")
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise MxganError("--compare torch needs PyTorch: pip install '.[bench]' (torch==2.13.0, CPU)") from exc
    if own.json:
        check_output_file("--json", own.json)
    from mxgan.runtime.devices import on_gpu
    from mxgan.runtime.precision import resolve_dtype

    return replace(cfg, data_dir=str(data_dir(cfg.data_dir)), dtype=resolve_dtype(cfg.dtype, on_gpu(cfg.ctx))), own


def check_profile(cfg: BenchConfig) -> None:
    """``--profile`` times one step of one batch size, alone: the flags it would leave unused are refused."""
    if len(cfg.batch_sizes) > 1:
        raise MxganError(f"--profile times one batch size, not {len(cfg.batch_sizes)} "
                         f"({' '.join(map(str, cfg.batch_sizes))}); give one --batch-size, or run it once for each")
    if cfg.compare:
        raise MxganError(f"--profile and --compare {cfg.compare} do not combine: the profile is mxgan's step alone; "
                         "run them apart")
    if cfg.variants:
        raise MxganError("--profile and --variants do not combine: the profile is mxgan's step as it is; run them "
                         "apart")


def run(args: argparse.Namespace) -> int:
    cfg, own = config(args)
    from mxgan.bench.results import provenance, write_results
    from mxgan.bench.throughput import (
        format_profile_result,
        format_table,
        run_profile,
        run_throughput,
    )

    result = run_profile(cfg) if cfg.profile else run_throughput(cfg)
    printed = format_profile_result(result) if cfg.profile else format_table(result)
    print(printed)
    if own.json:
        write_results(own.json, {**result, **provenance(printed)})
    return 0

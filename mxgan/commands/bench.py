"""``mxgan bench`` (= ``python bench/throughput.py``): the flags of :class:`mxgan.config.BenchConfig`; the step's
throughput next to PyTorch's, or (``--profile``) where its time goes."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from mxgan.commands.options import add_options, check_output_file, data_dir, given
from mxgan.config import BenchConfig, check_options
from mxgan.errors import MxganError
from mxgan.runtime.fileio import write_bytes_atomic

# a smaller float32 product runs from the caches and is mostly call overhead, far from the peak the ratios need
# (2 cores here: 256 reached 106 GFLOP/s, 512 143, 2048 173)
SUMMARY = "images/s of the training step, the generator and the data pipeline (vs PyTorch); --profile"
DESCRIPTION = "Throughput of mxgan next to PyTorch's DCGAN example; see bench/README.md."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, BenchConfig)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def config(args: argparse.Namespace) -> BenchConfig:
    cfg = BenchConfig(**given(args, BenchConfig))
    check_options(cfg)
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
    if args.json:
        check_output_file("--json", args.json)
    from mxgan.runtime.devices import parse_ctx

    parse_ctx(cfg.ctx)
    return replace(cfg, data_dir=str(data_dir(cfg.data_dir)))


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
    cfg = config(args)
    from mxgan.bench.throughput import format_profile_result, format_table, run_profile, run_throughput

    result = run_profile(cfg) if cfg.profile else run_throughput(cfg)
    print(format_profile_result(result) if cfg.profile else format_table(result))
    if args.json:
        write_bytes_atomic(Path(args.json), json.dumps(result, indent=1, allow_nan=False).encode())
    return 0

"""``mxgan export``: an inference generator for stock MXNet (symbol + params) and ONNX."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from mxgan.commands.generator import load
from mxgan.commands.options import add_options, from_flags
from mxgan.config import GeneratorOptions, Option, declared
from mxgan.errors import MxganError
from mxgan.runtime.fileio import check_not_replaced, check_output_file, remove_dead_temporaries, sole_writer

SUMMARY = "write an inference generator for stock MXNet (and ONNX)"
DESCRIPTION = "Write PREFIX-symbol.json + PREFIX-0000.params (and PREFIX.onnx) of an inference generator."


@dataclass
class ExportConfig(GeneratorOptions):
    """What ``mxgan export`` writes, of which generator."""

    out: str = declared(Option("writes PREFIX-symbol.json and PREFIX-0000.params", "", metavar="PREFIX",
                               required=True))
    onnx: bool = declared(Option("also write PREFIX.onnx (needs the onnx extra)", False))
    force: bool = declared(Option("replace the files of --out where they exist already (else refused)", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, ExportConfig)


def config(args: argparse.Namespace) -> ExportConfig:
    """What the flags ask for, every check passed (nothing written yet)."""
    cfg = from_flags(args, ExportConfig)
    if not Path(cfg.out).name or cfg.out.endswith(("/", os.sep)):
        raise MxganError(f"--out {cfg.out!r} is a prefix: export writes PREFIX-symbol.json and PREFIX-0000.params; "
                         "give it a name, such as export/gen")
    check_output_file("--out", f"{cfg.out}-symbol.json")
    check_not_replaced("--out", cfg.out, _outputs(cfg, cfg.onnx), cfg.force)
    return cfg


def _outputs(cfg: ExportConfig, onnx: bool) -> list[Path]:
    """The files export writes for ``--out PREFIX`` (``onnx``: with PREFIX.onnx)."""
    endings = ["-symbol.json", "-0000.params", *([".onnx"] if onnx else [])]
    return [Path(f"{cfg.out}{ending}") for ending in endings]


def run(args: argparse.Namespace) -> int:
    cfg = config(args)
    from mxgan.checkpoints.export import export_generator

    with sole_writer(Path(cfg.out), "--out"):
        # what a killed export left (its pid is gone; a live one's stays), with or without --onnx
        remove_dead_temporaries(*_outputs(cfg, onnx=True))
        written = export_generator(load(cfg), cfg.out, onnx=cfg.onnx)
    for path in written:
        print(f"wrote {path}")
    return 0

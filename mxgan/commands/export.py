"""``mxgan export``: an inference generator for stock MXNet (symbol + params) and ONNX."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mxgan.commands.generator import add_generator_arguments, check_generator_arguments, load
from mxgan.commands.options import check_output_file
from mxgan.errors import MxganError
from mxgan.runtime.fileio import check_not_replaced, remove_dead_temporaries, sole_writer

SUMMARY = "write an inference generator for stock MXNet (and ONNX)"
DESCRIPTION = "Write PREFIX-symbol.json + PREFIX-0000.params (and PREFIX.onnx) of an inference generator."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_generator_arguments(parser)
    parser.add_argument("--out", required=True, metavar="PREFIX", help="writes PREFIX-symbol.json and "
                        "PREFIX-0000.params")
    parser.add_argument("--onnx", action="store_true", help="also write PREFIX.onnx (needs the onnx extra)")
    parser.add_argument("--force", action="store_true", help="replace the files of --out where they exist already "
                        "(else refused)")


def check(args: argparse.Namespace) -> None:
    check_generator_arguments(args)
    if not Path(args.out).name or args.out.endswith(("/", os.sep)):
        raise MxganError(f"--out {args.out!r} is a prefix: export writes PREFIX-symbol.json and PREFIX-0000.params; "
                         "give it a name, such as export/gen")
    check_output_file("--out", f"{args.out}-symbol.json")
    check_not_replaced("--out", args.out, _outputs(args), args.force)


def _outputs(args: argparse.Namespace, onnx: bool | None = None) -> list[Path]:
    """The files export writes for ``--out PREFIX`` (``onnx``: with PREFIX.onnx; default: as ``--onnx`` says)."""
    endings = ["-symbol.json", "-0000.params", *([".onnx"] if (args.onnx if onnx is None else onnx) else [])]
    return [Path(f"{args.out}{ending}") for ending in endings]


def run(args: argparse.Namespace) -> int:
    check(args)
    from mxgan.checkpoints.export import export_generator

    with sole_writer(Path(args.out), "--out"):
        # what a killed export left (its pid is gone; a live one's stays), with or without --onnx
        remove_dead_temporaries(*_outputs(args, onnx=True))
        written = export_generator(load(args), args.out, onnx=args.onnx)
    for path in written:
        print(f"wrote {path}")
    return 0

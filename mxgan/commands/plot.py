"""``mxgan plot``: pictures of a run folder (losses, D's accuracy, FID, a montage and a GIF of its grids)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mxgan.runtime.fileio import check_writable

SUMMARY = "pictures of a run: loss, D accuracy and FID curves, a montage and a GIF of its sample grids"
DESCRIPTION = "Write PNG curves, a montage and an animated GIF of a run folder's fixed-noise grids."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN_DIR", help="a run folder written by mxgan train")


def run(args: argparse.Namespace) -> int:
    from mxgan.inference.plots import plot_run

    if Path(args.run).is_dir():  # (plot_run says what is wrong with a run folder that is not one)
        check_writable(Path(args.run), "RUN_DIR")
    for path in plot_run(Path(args.run)):
        print(f"wrote {path}")
    return 0

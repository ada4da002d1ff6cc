"""``mxgan plot``: pictures of a run folder (losses, D's accuracy, FID, a montage and a GIF of its grids)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mxgan.commands.options import add_options, from_flags
from mxgan.config import Option, declared
from mxgan.runtime.fileio import check_writable

SUMMARY = "pictures of a run: loss, D accuracy and FID curves, a montage and a GIF of its sample grids"
DESCRIPTION = "Write PNG curves, a montage and an animated GIF of a run folder's fixed-noise grids."




@dataclass
class PlotConfig:
    """The run ``mxgan plot`` draws."""

    run: str = declared(Option("a run folder written by mxgan train", "", positional=True, metavar="RUN_DIR"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PlotConfig)


def run(args: argparse.Namespace) -> int:
    folder = Path(from_flags(args, PlotConfig).run)
    from mxgan.inference.plots import plot_run

    if folder.is_dir():  # (plot_run says what is wrong with a run folder that is not one)
        check_writable(folder, "RUN_DIR")
    for path in plot_run(folder):
        print(f"wrote {path}")
    return 0

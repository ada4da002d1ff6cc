"""``mxgan pack``: a folder of pictures as MXNet RecordIO (``.rec`` + ``.idx``) for ``--dataset rec``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mxgan.commands.options import add_options, from_flags
from mxgan.config import PROGRESS, Option, Range, declared
from mxgan.constants import IMAGE_SIZES
from mxgan.errors import MxganError
from mxgan.runtime.fileio import check_not_replaced, check_output_file, remove_dead_temporaries, sole_writer

SUMMARY = "pack a folder of pictures into MXNet RecordIO (.rec + .idx) for --dataset rec"
DESCRIPTION = "Pack every image under DIR (centre square, --size px) into OUT.rec and OUT.idx."
MAX_SIDE = 2048  # a 2048 px RGB picture is 12 MiB decoded; larger ones only cost memory and disk


@dataclass
class PackConfig:
    """What ``mxgan pack`` packs, how, and where to."""

    folder: str = declared(Option("folder of pictures (png/jpg/jpeg/bmp/webp, subfolders too)", "", positional=True,
                                  metavar="DIR"))
    out: str = declared(Option("RecordIO file to write; its index goes to OUT.idx beside it", "", positional=True,
                               metavar="OUT.rec"))
    size: int = declared(Option("side of the stored squares; --dataset rec crops and resizes them to --image-size",
                                64, bounds=Range(8, MAX_SIDE, hint=f" (each picture is held in memory at that size; "
                                                                   f"training uses at most {max(IMAGE_SIZES)})")))
    channels: int = declared(Option("3 (RGB) or 1 (gray)", 3, choices=(1, 3)))
    format: str = declared(Option("encoding of the stored images (png: lossless)", "png", choices=("png", "jpg")))
    quality: int = declared(Option("JPEG quality (--format jpg)", 95, bounds=Range(1, 100)))
    progress: bool = declared(PROGRESS)
    force: bool = declared(Option("replace OUT.rec and OUT.idx where they exist already (else refused)", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, PackConfig)


def config(args: argparse.Namespace) -> PackConfig:
    """What the flags ask for, every check passed (nothing written yet)."""
    cfg = from_flags(args, PackConfig)
    if not Path(cfg.folder).is_dir():
        raise MxganError(f"DIR {cfg.folder} is not a folder; give the folder of pictures to pack")
    if not cfg.out.endswith(".rec"):
        raise MxganError(f"OUT.rec {cfg.out}: the output must end in .rec (its index is written beside it as .idx)")
    check_output_file("OUT.rec", cfg.out)
    check_not_replaced("OUT.rec", cfg.out, _outputs(cfg.out), cfg.force)
    return cfg


def _outputs(out: str) -> list[Path]:
    """The two files pack writes: OUT.rec and its index, OUT.idx."""
    from mxgan.data.records import index_path

    return [Path(out), index_path(Path(out))]


def run(args: argparse.Namespace) -> int:
    cfg = config(args)
    from mxgan.data.records import pack_folder

    with sole_writer(Path(cfg.out), "OUT.rec"):
        remove_dead_temporaries(*_outputs(cfg.out))  # what a killed pack left (its pid is gone; a live one's stays)
        report = pack_folder(Path(cfg.folder), Path(cfg.out), cfg.size, cfg.channels, cfg.format, cfg.quality,
                             progress=cfg.progress)
    print(report.describe())
    return 0

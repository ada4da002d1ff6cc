"""``mxgan pack``: a folder of pictures as MXNet RecordIO (``.rec`` + ``.idx``) for ``--dataset rec``."""

from __future__ import annotations

import argparse
from pathlib import Path

from mxgan.commands.options import Declared, add_declared, check_declared, check_output_file
from mxgan.config import PROGRESS, Option, Range
from mxgan.constants import IMAGE_SIZES
from mxgan.errors import MxganError
from mxgan.runtime.fileio import check_not_replaced, remove_dead_temporaries, sole_writer

SUMMARY = "pack a folder of pictures into MXNet RecordIO (.rec + .idx) for --dataset rec"
DESCRIPTION = "Pack every image under DIR (centre square, --size px) into OUT.rec and OUT.idx."
MAX_SIDE = 2048  # a 2048 px RGB picture is 12 MiB decoded; larger ones only cost memory and disk
OPTIONS: Declared = (
    ("size", Option("side of the stored squares; --dataset rec crops and resizes them to --image-size", 64,
                    bounds=Range(8, MAX_SIDE, hint=f" (each picture is held in memory at that size; training uses at "
                                                   f"most {max(IMAGE_SIZES)})")), int),
    ("channels", Option("3 (RGB) or 1 (gray)", 3, choices=(1, 3)), int),
    ("format", Option("encoding of the stored images (png: lossless)", "png", choices=("png", "jpg")), str),
    ("quality", Option("JPEG quality (--format jpg)", 95, bounds=Range(1, 100)), int),
    ("progress", PROGRESS, bool),
    ("force", Option("replace OUT.rec and OUT.idx where they exist already (else refused)", False), bool),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="DIR", help="folder of pictures (png/jpg/jpeg/bmp/webp, subfolders too)")
    parser.add_argument("out", metavar="OUT.rec", help="RecordIO file to write; its index goes to OUT.idx beside it")
    add_declared(parser, OPTIONS)


def check(args: argparse.Namespace) -> None:
    if not Path(args.folder).is_dir():
        raise MxganError(f"DIR {args.folder} is not a folder; give the folder of pictures to pack")
    if not args.out.endswith(".rec"):
        raise MxganError(f"OUT.rec {args.out}: the output must end in .rec (its index is written beside it as .idx)")
    check_declared(args, OPTIONS)
    check_output_file("OUT.rec", args.out)
    check_not_replaced("OUT.rec", args.out, _outputs(args.out), args.force)


def _outputs(out: str) -> list[Path]:
    """The two files pack writes: OUT.rec and its index, OUT.idx."""
    from mxgan.data.records import index_path

    return [Path(out), index_path(Path(out))]


def run(args: argparse.Namespace) -> int:
    check(args)
    from mxgan.data.records import pack_folder

    with sole_writer(Path(args.out), "OUT.rec"):
        remove_dead_temporaries(*_outputs(args.out))  # what a killed pack left (its pid is gone; a live one's stays)
        report = pack_folder(Path(args.folder), Path(args.out), args.size, args.channels, args.format, args.quality,
                             progress=args.progress)
    print(report.describe())
    return 0

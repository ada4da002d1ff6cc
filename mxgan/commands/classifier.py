"""``mxgan classifier train``: remake the MNIST classifier ``mxgan eval`` judges with (it ships with mxgan)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mxgan.commands.options import Declared, add_declared, check_declared, check_output_file, data_dir
from mxgan.config import COUNT, DATA_DIR, POSITIVE, PROGRESS, SEED, Option
from mxgan.constants import CLASSIFIER_WEIGHTS

SUMMARY = "train the MNIST classifier that mxgan eval uses (it ships with mxgan)"
DESCRIPTION = "Train the LeNet-style MNIST classifier shipped in mxgan/quality/weights/."
OPTIONS: Declared = (
    ("epochs", Option("passes over MNIST's 60000 training images", 4, bounds=POSITIVE), int),
    ("seed", SEED, int),
    ("train_size", Option("train on the first N training images only (0: all)", 0, bounds=COUNT), int),
    ("out", Option("weights file to write (default: the weights mxgan ships, "
                   "mxgan/quality/weights/mnist_lenet.params)", ""), str),
    ("data_dir", DATA_DIR, str),
    ("progress", PROGRESS, bool),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("train",), help="train: (re)make the MNIST classifier mxgan eval uses")
    add_declared(parser, OPTIONS)


def run(args: argparse.Namespace) -> int:
    check_declared(args, OPTIONS)
    out = Path(args.out or CLASSIFIER_WEIGHTS)
    check_output_file("--out", str(out))
    from mxgan.quality.classifier import train_classifier

    accuracy = train_classifier(data_dir(args.data_dir), out, args.epochs, args.seed,
                                train_size=args.train_size, progress=args.progress)
    print(f"MNIST test accuracy {accuracy:.4f}; weights: {out}")
    return 0

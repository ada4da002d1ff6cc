"""``mxgan classifier train``: remake the MNIST classifier that scores ``mxgan eval``'s samples (it ships with
mxgan)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mxgan.commands.options import add_options, data_dir, from_flags
from mxgan.config import COUNT, DATA_DIR, POSITIVE, PROGRESS, SEED, Option, declared
from mxgan.constants import CLASSIFIER_WEIGHTS
from mxgan.runtime.fileio import check_not_replaced, check_output_file

SUMMARY = "train the MNIST classifier that mxgan eval uses (it ships with mxgan)"
DESCRIPTION = "Train the LeNet-style MNIST classifier shipped in mxgan/quality/weights/."


@dataclass
class ClassifierConfig:
    """What ``mxgan classifier train`` trains, and where it writes it."""

    action: str = declared(Option("train: (re)make the MNIST classifier mxgan eval uses", "", choices=("train",),
                                  positional=True))
    epochs: int = declared(Option("passes over MNIST's 60000 training images", 4, bounds=POSITIVE))
    seed: int = declared(SEED)
    train_size: int = declared(Option("train on the first N training images only (0: all)", 0, bounds=COUNT))
    out: str = declared(Option("weights file to write (default: the weights mxgan ships, "
                               "mxgan/quality/weights/mnist_lenet.params)", ""))
    data_dir: str = declared(DATA_DIR)
    progress: bool = declared(PROGRESS)
    force: bool = declared(Option("replace an --out file that exists already (else refused; the default, the "
                                  "shipped weights, is remade without it)", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, ClassifierConfig)


def run(args: argparse.Namespace) -> int:
    cfg = from_flags(args, ClassifierConfig)
    out = Path(cfg.out or CLASSIFIER_WEIGHTS)
    check_output_file("--out", str(out))
    if cfg.out:
        check_not_replaced("--out", cfg.out, [out], cfg.force)
    from mxgan.quality.classifier import train_classifier

    accuracy = train_classifier(data_dir(cfg.data_dir), out, cfg.epochs, cfg.seed, train_size=cfg.train_size,
                                progress=cfg.progress)
    print(f"MNIST test accuracy {accuracy:.4f}; weights: {out}")
    return 0

"""``mxgan download``: the four IDX files of an MNIST-format dataset, verified by md5, without training."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from mxgan.commands.options import add_options, data_dir, from_flags
from mxgan.config import DATA_DIR, Option, declared
from mxgan.constants import GRAY_DATASETS

SUMMARY = "fetch an MNIST-format dataset without training"
DESCRIPTION = "Download the four IDX files of a dataset into <data-dir>/<dataset>/, verified by md5."


@dataclass
class DownloadConfig:
    """Which dataset ``mxgan download`` fetches, and where to."""

    dataset: str = declared(Option("dataset to fetch", "", choices=GRAY_DATASETS, positional=True))  # the IDX ones
    data_dir: str = declared(DATA_DIR)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, DownloadConfig)


def run(args: argparse.Namespace) -> int:
    cfg = from_flags(args, DownloadConfig)
    from mxgan.data.download import dataset_folder, verify_dataset
    from mxgan.data.idx import IDX_DATASETS

    spec = IDX_DATASETS[cfg.dataset]
    folder = dataset_folder(spec, data_dir(cfg.data_dir))
    verify_dataset(spec, folder)  # files already there are checked too, not only fresh downloads
    print(f"{cfg.dataset}: all files present and verified (md5) in {folder}")
    return 0

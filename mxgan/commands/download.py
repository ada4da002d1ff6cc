"""``mxgan download``: the four IDX files of an MNIST-format dataset, verified by md5, without training."""

from __future__ import annotations

import argparse

from mxgan.commands.options import add_option, data_dir
from mxgan.config import DATA_DIR

SUMMARY = "fetch an MNIST-format dataset without training"
DESCRIPTION = "Download the four IDX files of a dataset into <data-dir>/<dataset>/, verified by md5."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mxgan.data.idx import IDX_DATASETS

    parser.add_argument("dataset", choices=sorted(IDX_DATASETS), help="dataset to fetch")
    add_option(parser, "data_dir", DATA_DIR, str)


def run(args: argparse.Namespace) -> int:
    from mxgan.data.download import dataset_folder, verify_dataset
    from mxgan.data.idx import IDX_DATASETS

    spec = IDX_DATASETS[args.dataset]
    folder = dataset_folder(spec, data_dir(args.data_dir))
    verify_dataset(spec, folder)  # files already there are checked too, not only fresh downloads
    print(f"{args.dataset}: all files present and verified (md5) in {folder}")
    return 0

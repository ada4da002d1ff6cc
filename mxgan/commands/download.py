"""``mxgan download``: the four IDX files of an MNIST-format dataset, verified by md5, or the FID Inception
network, verified by SHA-256, without training."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from mxgan.commands.options import add_options, data_dir, from_flags
from mxgan.config import DATA_DIR, Option, declared
from mxgan.constants import GRAY_DATASETS

SUMMARY = "fetch an MNIST-format dataset, or the FID Inception network, without training"
DESCRIPTION = ("Download the four IDX files of a dataset into <data-dir>/<dataset>/, verified by md5; or "
               "(inception) the FID Inception network into <data-dir>/inception/, verified by SHA-256.")
INCEPTION = "inception"  # not a dataset: the network of the quality figure for any data


@dataclass
class DownloadConfig:
    """Which dataset ``mxgan download`` fetches, and where to."""

    dataset: str = declared(Option("dataset to fetch (the IDX ones), or inception: the FID Inception network "
                                   "(about 90 MB)", "", choices=(*GRAY_DATASETS, INCEPTION), positional=True))
    data_dir: str = declared(DATA_DIR)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, DownloadConfig)


def run(args: argparse.Namespace) -> int:
    cfg = from_flags(args, DownloadConfig)
    if cfg.dataset == INCEPTION:
        return _inception(cfg)
    from mxgan.data.download import dataset_folder, verify_dataset
    from mxgan.data.idx import IDX_DATASETS

    spec = IDX_DATASETS[cfg.dataset]
    folder = dataset_folder(spec, data_dir(cfg.data_dir))
    verify_dataset(spec, folder)  # files already there are checked too, not only fresh downloads
    print(f"{cfg.dataset}: all files present and verified (md5) in {folder}")
    return 0


def _inception(cfg: DownloadConfig) -> int:
    from mxgan.constants import INCEPTION_FOLDER
    from mxgan.data.idx import default_data_dir
    from mxgan.quality.inception_weights import download_weights

    folder = data_dir(cfg.data_dir)
    path = download_weights(folder / INCEPTION_FOLDER)
    found = "mxgan finds it there" if folder.resolve() == default_data_dir().resolve() else \
        f"mxgan finds it there with MXGAN_DATA_DIR={folder}, or anywhere with MXGAN_INCEPTION_WEIGHTS={path}"
    print(f"inception: {path} present and verified (SHA-256); {found}")
    return 0

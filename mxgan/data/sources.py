"""The batches a training run draws, for every ``--dataset``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from mxgan.data.batches import WHOLE, ImageBatches, Shard, load_dataset
from mxgan.data.folder import FolderBatches, scan_folder
from mxgan.data.idx import IDX_DATASETS, find_idx_file, locate_dataset, read_idx_bytes
from mxgan.data.records import RecordBatches


class BatchOptions(Protocol):
    """The options that choose a run's batches (a :class:`mxgan.config.TrainConfig` has them)."""

    dataset: str
    data_dir: str
    image_size: int
    batch_size: int
    channels: int
    seed: int
    rand_crop: bool
    rand_mirror: bool


class Batches(Protocol):
    """What the training loop draws from: an epoch's batches of images in [-1, 1] (and their digits)."""

    @property
    def batches_per_epoch(self) -> int: ...

    @property
    def image_count(self) -> int: ...

    def epoch(self, epoch: int, start: int = 0) -> Iterator[np.ndarray]: ...


def training_batches(cfg: BatchOptions, shard: Shard = WHOLE) -> tuple[Batches, str]:
    """The run's batches (this worker's part of them), and a line saying what they are."""
    source = Path(cfg.data_dir)
    if cfg.dataset == "folder":
        scan = scan_folder(source)
        pictures = FolderBatches(scan, cfg.image_size, cfg.batch_size, cfg.channels, cfg.seed, shard)
        pictures.require_readable()
        return pictures, f"data: {scan.describe()}"
    if cfg.dataset == "rec":
        batches = RecordBatches(source, cfg.image_size, cfg.batch_size, cfg.channels, cfg.seed, cfg.rand_crop,
                                cfg.rand_mirror, shard)
        return batches, f"data: {batches.records} images of {batches.side} px in {source}"
    images, classes = load_dataset(cfg.dataset, source, cfg.image_size, cfg.seed)
    return (ImageBatches(images, cfg.batch_size, cfg.channels, cfg.seed, classes, shard),
            f"data: {len(images)} {cfg.dataset} images")


def data_identity(cfg: BatchOptions, batches: Batches) -> dict:
    """What a run trains on, so that a resume tells the same data from other data: the folder, the number of
    images and, for MNIST-format data, the MD5 of the training images."""
    identity: dict = {"data_dir": str(Path(cfg.data_dir).resolve()), "images": batches.image_count}
    spec = IDX_DATASETS.get(cfg.dataset)
    folder = locate_dataset(spec, Path(cfg.data_dir)) if spec else None
    if spec and folder:
        path = find_idx_file(folder, spec.files["train-images"].name)
        identity["md5"] = hashlib.md5(read_idx_bytes(path)).hexdigest() if path else None
    return identity

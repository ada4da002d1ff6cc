"""The batches a training run draws, for every ``--dataset``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from mxgan.data.batches import WHOLE, ImageBatches, Shard, load_dataset
from mxgan.data.folder import FolderBatches, scan_folder
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

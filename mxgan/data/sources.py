"""The batches a training run draws, for every ``--dataset``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from mxgan.data.batches import WHOLE, ImageBatches, Shard, load_dataset
from mxgan.data.folder import FolderBatches, FolderScan, scan_folder
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


def reference_images(cfg: BatchOptions, count: int) -> np.ndarray:
    """Up to ``count`` of the run's training images as it sees them (its size and channels; augmentation as
    ``cfg`` says), uint8 (N, C, S, S), in the order of epoch 0: what a quality figure compares samples with."""
    batches, _ = training_batches(replace(cfg, batch_size=1))  # type: ignore[type-var]  # a dataclass: TrainConfig
    taken, images = 0, []
    for batch in batches.epoch(0):
        images.append(np.rint((np.asarray(batch, np.float32) + 1.0) * 127.5).clip(0, 255).astype(np.uint8))
        taken += len(batch)
        if taken >= count:
            break
    return np.concatenate(images)[:count]


def data_identity(cfg: BatchOptions, batches: Batches) -> dict:
    """What a run trains on, so that a resume tells the same data from other data by content: the folder, the
    number of images and the MD5 of the training images (MNIST-format data: the images file; a folder of
    pictures: each picture's name and bytes; RecordIO: the .rec file). Synthetic data has no MD5: its images
    follow from the seed."""
    identity: dict = {"data_dir": str(Path(cfg.data_dir).resolve()), "images": batches.image_count}
    spec = IDX_DATASETS.get(cfg.dataset)
    if spec:
        folder = locate_dataset(spec, Path(cfg.data_dir))
        path = find_idx_file(folder, spec.files["train-images"].name) if folder else None
        identity["md5"] = hashlib.md5(read_idx_bytes(path)).hexdigest() if path else None
    elif isinstance(batches, FolderBatches):
        identity["md5"] = _pictures_md5(batches.scan)
    elif cfg.dataset == "rec":
        identity["md5"] = _file_md5(Path(cfg.data_dir))
    return identity


def _pictures_md5(scan: FolderScan) -> str:
    """The MD5 of a folder's pictures: each one's name (relative to the folder) and bytes, in the scan's order."""
    digest = hashlib.md5()
    for path in scan.files:
        digest.update(str(path.relative_to(scan.root)).encode("utf-8", "surrogateescape") + b"\0")
        _update(digest, path)
    return digest.hexdigest()


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    _update(digest, path)
    return digest.hexdigest()


def _update(digest: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)

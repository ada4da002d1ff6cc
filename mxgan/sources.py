"""The batches a training run draws, for every ``--dataset``."""

from __future__ import annotations

from pathlib import Path

from mxgan.data import WHOLE, ImageBatches, Shard, load_dataset
from mxgan.folder import FolderBatches, scan_folder
from mxgan.options import TrainConfig
from mxgan.records import RecordBatches

Batches = ImageBatches | FolderBatches | RecordBatches


def training_batches(cfg: TrainConfig, shard: Shard = WHOLE) -> tuple[Batches, str]:
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

"""Training images as batches: uint8 in memory, float32 in [-1, 1] one batch at a time.

MXNet's example materializes all of MNIST as float32 at 3x64x64 (3.4 GB);
here the images stay uint8 at one channel (245 MB for 60k at 64 px) and each
batch is converted and tiled to the requested channels when it is drawn.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple, TypeVar

import cv2
import numpy as np

from mxgan.data.download import dataset_folder
from mxgan.data.idx import IDX_DATASETS, load_idx_split
from mxgan.errors import MxganError
from mxgan.runtime.streams import stream

DATASETS = (*IDX_DATASETS, "synthetic")
SYNTHETIC_SIZE = 10000
T = TypeVar("T")


def resize_images(images: np.ndarray, image_size: int) -> np.ndarray:
    """Resize (N, H, W) uint8 images to (N, S, S) with cv2, as the example does."""
    if images.shape[1:] == (image_size, image_size):
        return images
    out = np.empty((len(images), image_size, image_size), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = cv2.resize(image, (image_size, image_size))
    return out


class Shard(NamedTuple):
    """This process's part of every epoch: part ``index`` of ``parts`` equal parts (one per worker)."""

    index: int = 0  # type: ignore[assignment]  # a field named like tuple.index, as the kvstore's rank
    parts: int = 1


WHOLE = Shard()  # a single process reads every image


class ShuffledBatches:
    """Batches of an indexable image collection in an order fixed by ``(seed, epoch)``.

    Parameters
    ----------
    size : int
        Images in the collection.
    batch_size : int
        Images per batch; the last partial batch of an epoch is dropped.
    channels : int
        Channels of the produced batches; gray images are tiled to it.
    seed : int
        The order of epoch ``e`` depends only on ``(seed, e)``, so a resumed
        run sees the same batches as an uninterrupted one.
    shard : Shard
        Distributed training: every worker shuffles alike and keeps its own
        equal part, so all workers run the same number of steps.

    Subclasses say how to read images: :meth:`read` returns (B, 1 or C, S, S) uint8.
    """

    def __init__(self, size: int, batch_size: int, channels: int, seed: int, shard: Shard = WHOLE):
        self.size, self.batch_size, self.channels, self.seed, self.shard = size, batch_size, channels, seed, shard
        if batch_size > size // shard.parts:
            part = f" (its part for one of {shard.parts} workers: {size // shard.parts})" if shard.parts > 1 else ""
            raise MxganError(
                f"--batch-size {batch_size} is larger than the dataset ({size} images{part}); "
                "use a smaller --batch-size"
            )

    def read(self, indices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def batches_per_epoch(self) -> int:
        return self.size // self.shard.parts // self.batch_size

    @property
    def image_count(self) -> int:
        """Images in the whole dataset (all workers' parts)."""
        return self.size

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The indices this process reads in ``epoch``, in order."""
        part = self.size // self.shard.parts
        return _permutation(self.seed, epoch, self.size)[self.shard.index * part:(self.shard.index + 1) * part]

    def to_float(self, indices: np.ndarray) -> np.ndarray:
        """Images at ``indices`` as float32 (B, C, S, S) in [-1, 1], as the example scales them."""
        batch = self.read(indices).astype(np.float32) / (255.0 / 2) - 1.0
        if batch.shape[1] != self.channels:
            batch = np.repeat(batch, self.channels, axis=1)
        return batch

    def epoch(self, epoch: int, start: int = 0) -> Iterator[np.ndarray]:
        """Batches ``start..`` of ``epoch``, as float32 arrays."""
        order = self.epoch_order(epoch)
        for b in range(start, self.batches_per_epoch):
            yield self.to_float(order[b * self.batch_size:(b + 1) * self.batch_size])


class ImageBatches(ShuffledBatches):
    """Shuffled batches of uint8 images held in memory, converted per batch.

    Parameters
    ----------
    images : np.ndarray
        (N, S, S) gray or (N, C, S, S) uint8 images.
    labels : np.ndarray, optional
        (N,) classes, for conditional models (see :meth:`labels_of`).

    The other parameters are :class:`ShuffledBatches`'.
    """

    def __init__(self, images: np.ndarray, batch_size: int, channels: int, seed: int,
                 labels: np.ndarray | None = None, shard: Shard = WHOLE):
        if images.ndim == 3:
            images = images[:, None]
        super().__init__(len(images), batch_size, channels, seed, shard)
        if images.shape[1] not in (1, channels):
            raise MxganError(f"images have {images.shape[1]} channels but --channels is {channels}")
        self.images = images
        self.labels = labels

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one batch, (B, C, S, S)."""
        return (self.batch_size, self.channels, *self.images.shape[2:])

    def read(self, indices: np.ndarray) -> np.ndarray:
        return self.images[indices]

    def labels_of(self, epoch: int, batch: int) -> np.ndarray:
        """The classes of batch ``batch`` of ``epoch`` (the images :meth:`epoch` yields there)."""
        if self.labels is None:
            raise MxganError("this dataset has no labels; a conditional model needs mnist or fashion-mnist")
        return self.labels[self.epoch_order(epoch)[batch * self.batch_size:(batch + 1) * self.batch_size]]


@functools.lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of an epoch; cached, as the prefetch thread and the labels of a batch both need it."""
    order = stream(seed, "shuffle", epoch).permutation(n)
    order.setflags(write=False)
    return order


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Produce ``items`` on a background thread, ``depth`` ahead, so a step never waits for data."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                buffer.put(item)
        except BaseException as exc:  # handed to the consumer, raised there
            buffer.put(exc)
        buffer.put(done)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := buffer.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(0.01)


def load_images(dataset: str, data_dir: Path, image_size: int, seed: int, split: str = "train") -> np.ndarray:
    """(N, S, S) uint8 images of ``dataset``, downloading MNIST-format files if missing."""
    return load_dataset(dataset, data_dir, image_size, seed, split)[0]


def load_dataset(
    dataset: str, data_dir: Path, image_size: int, seed: int, split: str = "train"
) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, S, S) uint8 images of ``dataset`` and their (N,) labels (None for synthetic data)."""
    if dataset == "synthetic":
        # Smooth random blobs rather than white noise, so a GAN has something to learn.
        rng = np.random.default_rng(seed)
        low = rng.integers(0, 256, size=(SYNTHETIC_SIZE, 7, 7), dtype=np.uint8)
        return resize_images(low, image_size), None
    if dataset not in IDX_DATASETS:
        raise MxganError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    spec = IDX_DATASETS[dataset]
    folder = dataset_folder(spec, data_dir)
    images, labels = load_idx_split(folder, spec, split)
    return resize_images(images, image_size), labels

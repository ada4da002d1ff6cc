"""Training images from a folder tree (``--dataset folder``), decoded by background threads.

Every png/jpg/jpeg/bmp/webp file under the folder, nested or not, is one
image: its centre square, resized to the image size, RGB or gray. Files with
other extensions are skipped and counted when the folder is scanned; files
that do not decode are found while training, skipped and counted then.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mxgan.data.batches import WHOLE, Shard, ShuffledBatches
from mxgan.errors import MxganError
from mxgan.runtime.env import available_cores
from mxgan.runtime.fileio import quiet_stderr

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class FolderScan:
    """The image files under ``root`` (sorted), and how many other files were skipped."""

    root: Path
    files: list[Path]
    not_images: int

    def describe(self) -> str:
        skipped = f" ({self.not_images} files that are not images skipped)" if self.not_images else ""
        return f"{len(self.files)} images under {self.root}{skipped}"


def scan_folder(root: Path, flag: str = "--data-dir") -> FolderScan:
    """List the images under ``root``; a clear :class:`MxganError` naming ``flag`` when there are none."""
    if not root.is_dir():
        raise MxganError(f"{flag} {root} is not a folder; give the folder holding the pictures")
    files, others = [], 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                files.append(path)
            else:
                others += 1
    if not files:
        also = f"; its {others} files have other extensions" if others else ""
        raise MxganError(
            f"{flag} {root} holds no images ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS)}, searched in "
            f"subfolders too){also}; point {flag} at a folder of pictures"
        )
    return FolderScan(root, files, others)


# OpenCV's own warnings about files that do not decode ("PNG input buffer is incomplete", twenty at a time):
# mxgan reports such files itself, in one line
cv2.setLogLevel(2)  # errors only


def load_image(path: Path, image_size: int, channels: int) -> np.ndarray | None:
    """One file as (1 or 3, S, S) uint8 RGB/gray: its centre square, resized; None if it does not decode."""
    data = np.fromfile(path, dtype=np.uint8)  # not cv2.imread: it fails on non-ASCII paths
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    # INTER_AREA averages the pixels a shrunk pixel covers (no aliasing); bilinear to enlarge
    interpolation = cv2.INTER_AREA if side > image_size else cv2.INTER_LINEAR
    resized = cv2.resize(square, (image_size, image_size), interpolation=interpolation)
    if channels == 1:
        return resized[None]
    return np.ascontiguousarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))


class FolderBatches(ShuffledBatches):
    """Shuffled batches of a folder's images, decoded by a pool of threads as they are drawn.

    OpenCV releases the GIL while it decodes and resizes, so the threads run
    in parallel (with :func:`mxgan.data.batches.prefetch`, ahead of the training step).
    A file that does not decode is replaced by the next readable file in the
    sorted list, so a batch is always full and the same on every run.
    """

    def __init__(self, scan: FolderScan, image_size: int, batch_size: int, channels: int, seed: int,
                 shard: Shard = WHOLE, workers: int = 0):
        super().__init__(len(scan.files), batch_size, channels, seed, shard)
        self.scan, self.image_size = scan, image_size
        self.unreadable: list[Path] = []
        self._bad: set[int] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers or available_cores(), thread_name_prefix="decode")

    def _load(self, index: int) -> np.ndarray | None:
        image = load_image(self.scan.files[index], self.image_size, self.channels)
        if image is None:
            with self._lock:
                if index not in self._bad:
                    self._bad.add(index)
                    self.unreadable.append(self.scan.files[index])
        return image

    def _replacement(self, index: int) -> np.ndarray:
        """The next readable image after file ``index`` (cyclically)."""
        for step in range(1, len(self.scan.files)):
            candidate = (index + step) % len(self.scan.files)
            if candidate not in self._bad and (image := self._load(candidate)) is not None:
                return image
        raise MxganError(f"none of the {len(self.scan.files)} image files under {self.scan.root} could be "
                         "decoded; check that they are real pictures")

    def require_readable(self) -> None:
        """Raise :class:`MxganError` unless some file decodes (before a run creates its folder)."""
        with quiet_stderr():  # libjpeg's complaint about each damaged file: the error (or the run's warning) says it
            if self._load(0) is None:
                self._replacement(0)

    def read(self, indices: np.ndarray) -> np.ndarray:
        images = list(self._pool.map(self._load, indices))
        return np.stack([self._replacement(i) if im is None else im for i, im in zip(indices, images)])

    def decoded(self, chunk: int = 256) -> Iterator[tuple[Path, np.ndarray]]:
        """Every readable file with its image, in sorted order (decoded in parallel, ``chunk`` at a time)."""
        for first in range(0, len(self.scan.files), chunk):
            indices = range(first, min(first + chunk, len(self.scan.files)))
            for index, image in zip(indices, self._pool.map(self._load, indices)):
                if image is not None:
                    yield self.scan.files[index], image

"""Sample grids as PNG files (the example's ``visual``, written with cv2, no window)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from mxgan.errors import MxganError
from mxgan.runtime.fileio import write_bytes_atomic


def make_grid(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into a uint8 (rows, cols, C) grid, ceil(sqrt N) wide by default."""
    images = np.clip((images.transpose(0, 2, 3, 1) + 1.0) * (255.0 / 2.0), 0, 255).astype(np.uint8)
    n, h, w, c = images.shape
    side = columns or math.ceil(math.sqrt(n))
    grid = np.zeros((math.ceil(n / side) * h, side * w, c), dtype=np.uint8)
    for i, image in enumerate(images):
        row, col = divmod(i, side)
        grid[row * h:(row + 1) * h, col * w:(col + 1) * w] = image
    return grid


def encode(path: Path, image: np.ndarray) -> bytes:
    """An RGB or gray uint8 image as the file ``path`` names: PNG (or .jpg, ...)."""
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # cv2 writes BGR
    suffix = Path(path).suffix.lower() or ".png"
    ok, encoded = cv2.imencode(suffix, image)
    if not ok:
        raise MxganError(f"could not encode {path} as {suffix}")
    return encoded.tobytes()


def save_png(path: Path, image: np.ndarray) -> Path:
    """Write an RGB or gray uint8 image to ``path`` atomically, as PNG (or what its name says: .jpg, ...)."""
    return write_bytes_atomic(path, encode(path, image))

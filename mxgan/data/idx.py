"""Where the IDX datasets live, what their files must hash to, and how to read them.

A dataset is looked for in ``<data-dir>/<name>/`` (then in the system folders
named here); missing files are downloaded (see :mod:`mxgan.data.download`).
IDX files may be raw or gzip-compressed.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mxgan.errors import MxganError

# IDX magic numbers: 0x08 = unsigned byte data, last byte = number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801
IDX_LABELS_HEADER = 8  # bytes before a labels file's first label: its magic number and count


@dataclass(frozen=True)
class IdxFile:
    """One IDX file: its name and the md5 of its uncompressed content."""

    name: str
    md5: str
    size: int


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-format dataset: four IDX files, mirrors, and system folders."""

    name: str
    files: dict[str, IdxFile]  # keys: train-images, train-labels, test-images, test-labels
    mirrors: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()


def _idx_files(md5s: dict[str, str]) -> dict[str, IdxFile]:
    names = {
        "train-images": ("train-images-idx3-ubyte", 47040016),
        "train-labels": ("train-labels-idx1-ubyte", 60008),
        "test-images": ("t10k-images-idx3-ubyte", 7840016),
        "test-labels": ("t10k-labels-idx1-ubyte", 10008),
    }
    return {key: IdxFile(name, md5s[key], size) for key, (name, size) in names.items()}


IDX_DATASETS = {
    "mnist": IdxDataset(
        name="mnist",
        files=_idx_files({
            "train-images": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels": "a25bea736e30d166cdddb491f175f624",
            "test-images": "2646ac647ad5339dbf082846283269ea",
            "test-labels": "27ae3e4e09519cfbb04c329615203637",
        }),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
    ),
    "fashion-mnist": IdxDataset(
        name="fashion-mnist",
        files=_idx_files({
            "train-images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels": "9018921c3c673c538a1fc5bad174d6f9",
            "test-images": "8181f5470baa50b63fa0f6fddb340f0a",
            "test-labels": "15d484375f8d13e6eb1aabb0c3f46965",
        }),
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
    ),
}


def default_data_dir() -> Path:
    """``$MXGAN_DATA_DIR`` if set, else ``./data``."""
    return Path(os.environ.get("MXGAN_DATA_DIR") or "data")


def find_idx_file(folder: Path, name: str) -> Path | None:
    """The ``name`` or ``name.gz`` file in ``folder``, whichever exists (raw first)."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx_bytes(path: Path) -> bytes:
    """The uncompressed content of an IDX file, raw or gzip."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                return gzip.GzipFile(fileobj=f).read()
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError; a damaged stream, zlib.error
        raise MxganError(f"{path}: cannot read ({exc}): damaged; {fetch_again(path)}") from exc


def fetch_again(path: Path) -> str:
    """How to replace a damaged file of a dataset folder: delete it and download it again."""
    dataset = Path(path).parent.name
    if dataset in IDX_DATASETS:
        return (f"delete it and run mxgan download {dataset} --data-dir {Path(path).parent.parent} to fetch it "
                "again")
    return "delete it and run again to fetch it again (or copy a good file there)"


def parse_idx(content: bytes, expected_magic: int, path: Path) -> np.ndarray:
    """Check an IDX header against the content length and return the uint8 array."""
    if len(content) < 4:
        raise MxganError(f"{path}: {len(content)} bytes is too short for an IDX file; {fetch_again(path)}")
    (magic,) = struct.unpack(">i", content[:4])
    if magic != expected_magic:
        raise MxganError(
            f"{path}: wrong IDX magic 0x{magic & 0xFFFFFFFF:08x} (expected 0x{expected_magic:08x}); "
            f"not an MNIST-format file of this kind; {fetch_again(path)}"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(content) < header:
        raise MxganError(f"{path}: truncated IDX header; {fetch_again(path)}")
    shape = struct.unpack(f">{ndim}i", content[4:header])
    expected = header + int(np.prod(shape))
    if len(content) != expected:
        raise MxganError(
            f"{path}: {len(content)} bytes but its header {shape} needs {expected}; "
            f"the file is truncated or corrupt; {fetch_again(path)}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def locate_dataset(dataset: IdxDataset, data_dir: Path) -> Path | None:
    """The first folder holding all four files of ``dataset``, or None."""
    for folder in (data_dir / dataset.name, *map(Path, dataset.system_dirs)):
        if all(find_idx_file(folder, f.name) for f in dataset.files.values()):
            return folder
    return None


def load_idx_split(folder: Path, dataset: IdxDataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of ``split`` ('train' or 'test')."""
    arrays = []
    for kind, magic in (("images", IDX_IMAGES_MAGIC), ("labels", IDX_LABELS_MAGIC)):
        spec = dataset.files[f"{split}-{kind}"]
        path = find_idx_file(folder, spec.name)
        if path is None:
            raise MxganError(f"{folder / spec.name}(.gz) is missing; put the file there or let mxgan download it")
        arrays.append(parse_idx(read_idx_bytes(path), magic, path))
    images, labels = arrays
    if len(images) != len(labels):
        raise MxganError(f"{folder}: {len(images)} images but {len(labels)} labels in the {split} split")
    return images, labels

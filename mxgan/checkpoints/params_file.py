"""Read MXNet ``.params`` files (``mx.nd.save`` format) in pure Python, defensively.

Every size in the file is checked against the bytes that are really there
before anything is allocated, so random or truncated bytes raise
:class:`MxganError` instead of crashing or exhausting memory; MXNet's own
loader never sees untrusted bytes.

Layout (little-endian): ``u64 0x112, u64 0, u64 n``, then n arrays, each
``u32 magic, i32 storage, u32 ndim, i64 dims[ndim], i32 dev_type, i32 dev_id,
i32 dtype`` and the raw data; then ``u64 n`` names, each ``u64 len`` + bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from mxgan.errors import MxganError

LIST_MAGIC = 0x112
ARRAY_MAGICS = (0xF993FAC9, 0xF993FACA)  # NDArray V2 and V3
DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64}
MAX_NDIM = 32


class _Reader:
    def __init__(self, data: bytes, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise self.error(f"truncated at byte {self.pos} (needs {size} more)")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise self.error(f"truncated at byte {self.pos} (needs {size} more)")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def error(self, what: str) -> MxganError:
        return MxganError(f"{self.path}: not a valid MXNet .params file ({what})")


def _read_array(reader: _Reader) -> np.ndarray:
    magic, storage = reader.take("<Ii")
    if magic not in ARRAY_MAGICS:
        raise reader.error(f"unknown array header 0x{magic:08x}")
    if storage != 0:
        raise reader.error(f"sparse storage type {storage}; DCGAN parameters are dense")
    (ndim,) = reader.take("<I")
    if ndim > MAX_NDIM:
        raise reader.error(f"{ndim} dimensions")
    shape = reader.take(f"<{ndim}q")
    if any(d < 0 for d in shape):
        raise reader.error(f"negative dimension in {shape}")
    _dev_type, _dev_id, dtype_flag = reader.take("<iii")
    if dtype_flag not in DTYPES:
        raise reader.error(f"unknown dtype code {dtype_flag}")
    dtype = np.dtype(DTYPES[dtype_flag])
    count = 1
    for d in shape:
        count *= d
        if count * dtype.itemsize > len(reader.data):  # checked before any allocation
            raise reader.error(f"array of shape {shape} is larger than the file")
    return np.frombuffer(reader.raw(count * dtype.itemsize), dtype=dtype).reshape(shape)


def read_params(path: Path, flag: str = "--checkpoint") -> dict[str, np.ndarray]:
    """The named arrays of a ``.params`` file, as numpy arrays (``flag``: the option that named it).

    Raises
    ------
    MxganError
        Missing file, not a ``.params`` file, truncated, or unnamed arrays.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MxganError(f"{path}: cannot read ({exc.strerror}); check the {flag} path") from exc
    reader = _Reader(data, path)
    magic, _reserved, count = reader.take("<QQQ")
    if magic != LIST_MAGIC:
        raise reader.error("wrong magic number; is it a .params file?")
    if count * 4 > len(data):
        raise reader.error(f"claims {count} arrays")
    arrays = [_read_array(reader) for _ in range(count)]
    (num_names,) = reader.take("<Q")
    if num_names != count:
        raise reader.error(f"{count} arrays but {num_names} names; a checkpoint's arrays are named")
    names = []
    for _ in range(num_names):
        (length,) = reader.take("<Q")
        try:
            names.append(reader.raw(length).decode())
        except UnicodeDecodeError as exc:
            raise reader.error("a parameter name is not text") from exc
    if reader.pos != len(data):
        raise reader.error(f"{len(data) - reader.pos} unexpected bytes at the end")
    if len(set(names)) != len(names):
        raise reader.error("duplicate parameter names")
    return dict(zip(names, arrays))

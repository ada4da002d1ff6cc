"""Atomic file writes: a reader never sees half a file, a crash never loses the old one."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from mxgan.errors import MxganError


def write_atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file over ``path``.

    The temporary file sits in the same folder (so the rename is atomic) and is
    removed if ``write`` fails. A full disk is one :class:`MxganError` (the old file, if any, untouched).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except Exception as exc:
        if _disk_full(exc):
            raise MxganError(f"could not write {path}: no space left on the device; free some and run again "
                             "(nothing earlier was overwritten; a training run continues with --resume)") from exc
        raise
    finally:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
    return path


def _disk_full(exc: BaseException) -> bool:
    """ENOSPC from Python, or MXNet's own word for a short write (``mx.nd.save``: "FileStream.Write incomplete")."""
    return getattr(exc, "errno", None) == errno.ENOSPC or "Write incomplete" in str(exc)


def write_bytes_atomic(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(content)

    return write_atomic(path, write)


class FolderLock:
    """An exclusive lock on a folder for one process (``fcntl.flock`` on ``.lock`` inside it), with the
    holder's pid written in the file; the operating system releases it if the process dies."""

    NAME = ".lock"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._file: IO[str] | None = None

    def acquire(self, flag: str = "--out") -> FolderLock:
        """Create the folder if needed and lock it, or raise one :class:`MxganError` naming the holder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / self.NAME, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise MxganError(f"{flag} {self.folder} is in use by another mxgan train (pid {holder}); wait for it "
                             "to finish or stop it, or choose another folder") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

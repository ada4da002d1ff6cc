"""Atomic file writes: a reader never sees half a file, a crash or a stop never loses the old one."""

from __future__ import annotations

import errno
import fcntl
import glob
import hashlib
import logging
import os
import re
import resource
import shutil
import stat
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from mxgan.errors import MxganError
from mxgan.runtime.signals import stop_signals_held

TEMPORARY = ".{name}.tmp-{pid}"  # where a file is written before it is renamed into place
PID_DIGITS = 7  # Linux pids reach 4194304
COMMITTED: deque[str] = deque(maxlen=50)  # the outputs this process has put in place, newest last
# a temporary's name: its output's, and the pid of the process writing it (older downloads wrote ".part-PID")
_TEMPORARY_NAME = re.compile(r"\.(?P<name>.+)\.(?:tmp|part)-(?P<pid>[0-9]+)")
NOTHING_LOST = "(nothing earlier was overwritten; a training run continues with --resume)"

log = logging.getLogger(__name__)


def temporary(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: beside it (so the rename is atomic), hidden,
    named with this process's pid (two processes never share one)."""
    return path.with_name(TEMPORARY.format(name=path.name, pid=os.getpid()))


class StagedOutputs:
    """A command's outputs, all of them or none: each is written under a temporary name beside it, removed if
    the command fails or is stopped, and :meth:`commit` renames them all into place in one step that stop
    signals wait for. A full disk is one :class:`MxganError` (an older file of the same name, untouched)."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []  # (temporary, final)

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        for tmp, _ in self._staged:  # what commit did not put in place
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            elif tmp.is_symlink() or tmp.exists():
                tmp.unlink()
        self._staged = []

    def reserve(self, path: Path) -> Path:
        """The temporary path to write ``path``'s content to (by any means), put in place at the commit."""
        tmp = temporary(Path(path))
        self._staged.append((tmp, Path(path)))
        return tmp

    def file(self, path: Path, write: Callable[[str], None]) -> None:
        """Write ``path``'s content with ``write(temporary_path)``."""
        tmp = self.reserve(path)
        try:
            write(str(tmp))
        except Exception as exc:
            raise_write_error(path, tmp, exc)
            raise

    def content(self, path: Path, content: bytes) -> None:
        """``path`` holding ``content``."""

        def write(tmp: str) -> None:
            Path(tmp).write_bytes(content)

        self.file(path, write)

    def folder(self, path: Path) -> Path:
        """A new folder to fill, which becomes ``path`` (absent or empty) at the commit."""
        tmp = self.reserve(path)
        tmp.mkdir()
        return tmp

    def commit(self) -> list[Path]:
        """Put every output in place; return their paths. A folder where a file goes (or a folder that is not
        empty where a folder goes) is one :class:`MxganError` before anything is renamed."""
        for tmp, final in self._staged:
            _check_place(tmp, final)
        with stop_signals_held():
            for tmp, final in self._staged:
                try:
                    if tmp.is_dir() and final.is_dir():
                        final.rmdir()  # empty (checked before any work): the new one takes its place
                    os.replace(tmp, final)
                except OSError as exc:  # an immutable file or folder (chattr +i): EPERM
                    raise MxganError(f"could not put {final} in place ({exc.strerror}); make it and its folder "
                                     f"writable and run again {NOTHING_LOST}") from exc
                COMMITTED.append(str(final))
        finals = [final for _, final in self._staged]
        self._staged = []
        return finals


def write_atomic(path: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file over ``path`` (see :class:`StagedOutputs`)."""
    with StagedOutputs() as outputs:
        outputs.file(path, write)
        return outputs.commit()[0]


def _check_place(tmp: Path, final: Path) -> None:
    """Whether ``tmp`` can be renamed to ``final``: no folder stands where a file goes, and a folder replaces only
    an empty one."""
    if final.is_dir() and not final.is_symlink():
        if not tmp.is_dir():
            raise MxganError(f"could not write {final}: a folder of that name is in the way; move or rename it and "
                             f"run again {NOTHING_LOST}")
        if any(final.iterdir()):
            raise MxganError(f"could not write {final}: a folder of that name holds files now; move it away and run "
                             "again")
    elif final.is_file() and not final.is_symlink() and _immutable(final):
        raise MxganError(f"could not put {final} in place: it may not be replaced (chattr +i?); make it writable and "
                         f"run again {NOTHING_LOST}")


def _immutable(path: Path) -> bool:
    """A file nobody may replace, not even its owner or root (``chattr +i``, ``+a``): opening it to write is
    refused with EPERM (an ordinary read-only file gives EACCES, and a rename replaces it still)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW))
    except OSError as exc:
        return exc.errno == errno.EPERM
    return False


def raise_write_error(path: Path, tmp: Path, exc: BaseException) -> None:
    """Raise one :class:`MxganError` for a write of ``path`` (to ``tmp``) that failed for want of room: a full
    device, or this process's file-size limit (``ulimit -f``; EFBIG, SIGXFSZ being ignored, as Python sets it).
    Return for any other failure."""
    # MXNet's and numpy's own words for a short write (mx.nd.save, ndarray.tofile), whatever the cause
    short = "Write incomplete" in str(exc) or ("requested and" in str(exc) and "written" in str(exc))
    code = getattr(exc, "errno", None)
    limit = file_size_limit()
    if code == errno.EFBIG or (short and limit is not None and _size(tmp) >= limit):
        shown = f"{limit / 2**20:.1f} MiB" if limit is not None and limit >= 2**20 else f"{(limit or 0) // 1024} KiB"
        raise MxganError(f"could not write {path}: it would pass this process's file-size limit ({shown}, ulimit "
                         f"-f); raise it (ulimit -f unlimited) and run again {NOTHING_LOST}") from exc
    if code == errno.ENOSPC or short:
        raise MxganError(f"could not write {path}: no space left on the device; free some and run again "
                         f"{NOTHING_LOST}") from exc


def file_size_limit() -> int | None:
    """The largest file this process may write, in bytes (``ulimit -f``), or None when there is no limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def check_not_replaced(flag: str, given: str, paths: list[Path], force: bool) -> None:
    """Refuse, before any work, to replace an output that exists already unless ``force`` (``--force``): one
    :class:`MxganError` naming ``flag`` (given as ``given``) and the file."""
    for path in paths:
        if not force and (path.exists() or path.is_symlink()):
            named = "" if str(path) == given else f": {path}"
            raise MxganError(f"{flag} {given}{named} exists already; add --force to replace it, or choose another "
                             f"{flag}")


def remove_dead_temporaries(*outputs: Path) -> list[Path]:
    """Delete the temporaries of ``outputs`` that processes which died while writing them (killed, the power
    lost) left beside them: those whose name holds the pid of no live process. A live process's temporary stays,
    as it may still be writing it; so does one of a pid that is alive again under another program, which is
    only a name. Call it at a command's start; returns what was removed."""
    removed = []
    for output in map(Path, outputs):
        for tmp in output.parent.glob(f".{glob.escape(output.name)}.*-*"):
            match = _TEMPORARY_NAME.fullmatch(tmp.name)
            if match is None or match["name"] != output.name or _alive(int(match["pid"])):
                continue
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
            log.info("removed %s, left by process %s, which is gone", tmp, match["pid"])
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (this machine's; one of another user's too)."""
    if not 0 < pid < 2**31:
        return True  # not a process's number: leave the file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's
        return True
    return True


def write_bytes_atomic(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` atomically."""
    with StagedOutputs() as outputs:
        outputs.content(path, content)
        return outputs.commit()[0]


class FolderLock:
    """An exclusive lock on a folder for one process (``fcntl.flock`` on ``.lock`` inside it), with the
    holder's pid written in the file; the operating system releases it if the process dies. Used as a context
    manager, it is released when the block ends (:meth:`acquire` may come later within it, once the folder may
    be created)."""

    NAME = ".lock"

    def __init__(self, folder: Path, name: str = NAME) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self._file: IO[str] | None = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def acquire(self, flag: str = "--out", busy: str = "", instead: str = "another folder") -> FolderLock:
        """Create the folder if needed and lock it, or raise one :class:`MxganError` naming the holder (``busy``:
        what the message says is going on, by default another training run in the folder; ``instead``: what to
        choose then)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = self._open(flag)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            busy = busy or f"{flag} {self.folder} is in use by another mxgan train"
            raise MxganError(f"{busy} (pid {holder}); wait for it to finish or stop it, or choose {instead}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def _open(self, flag: str) -> IO[str]:
        """The lock file, never through a link: a ``.lock`` that points elsewhere would have mxgan write there."""
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise MxganError(f"{flag} {self.folder}: its {self.path.name} is a symbolic link, which mxgan will "
                                 "not write through; remove it") from None
            raise
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise MxganError(f"{flag} {self.folder}: its {self.path.name} is not a regular file; remove it")
        return os.fdopen(descriptor, "r+")

    def release(self, remove: bool = False) -> None:
        """Unlock (``remove``: and delete the lock file, which a folder of pictures need not keep)."""
        if self._file is not None:
            if remove:
                self.path.unlink(missing_ok=True)
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


@contextmanager
def sole_writer(path: Path, flag: str) -> Iterator[None]:
    """Within the block this process is the only mxgan writing ``path`` (``flag`` names the option that gave it):
    a second one is refused with one :class:`MxganError` naming the holder, so an output is never a mix."""
    lock = FolderLock(Path(path).parent, f".{Path(path).name}.lock")
    lock.acquire(flag, f"{flag} {path} is being written by another mxgan", f"another {flag}")
    try:
        yield
    finally:
        lock.release(remove=True)


MIN_FREE = 1 << 20  # bytes a writing command wants free before it starts (more where it knows it needs more)
LONGEST_INSIDE = 64  # bytes of the longest name mxgan writes inside a folder it fills (a temporary checkpoint file)


def check_name_fits(path: Path, flag: str, inside: int = 0) -> None:
    """Refuse a path the file system cannot hold, before any work: a name longer than it allows, counted with
    the temporary suffix mxgan writes under (``inside``: ``path`` is a folder that will hold names that long)."""
    absolute = Path(path).absolute()
    existing = _existing_ancestor(absolute)
    name_max, path_max = os.pathconf(existing, "PC_NAME_MAX"), os.pathconf(existing, "PC_PATH_MAX")
    written = absolute if inside else absolute.with_name(TEMPORARY.format(name=absolute.name, pid="9" * PID_DIGITS))
    for part in written.parts[1:]:
        if len(os.fsencode(part)) > name_max:
            shown = part if len(part) <= 40 else part[:37] + "..."
            raise MxganError(f"{flag} {path}: the name {shown!r} is {len(os.fsencode(part))} bytes (with what mxgan "
                             f"adds while writing), more than the {name_max} this file system takes; choose a "
                             f"shorter {flag}")
    longest = len(os.fsencode(str(written))) + (1 + inside if inside else 0)
    if longest > path_max:
        raise MxganError(f"{flag} {path}: the path is too long for this file system ({longest} bytes with what "
                         f"mxgan writes, {path_max} at most); choose a shorter {flag}")


def _existing_ancestor(path: Path) -> Path:
    existing = path
    while not _exists(existing) and existing != existing.parent:
        existing = existing.parent
    return existing


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to look up
        return False


def check_writable(out: Path, flag: str = "--out", needs: int = MIN_FREE, folder: bool = True,
                   rewrites: bool = True) -> None:
    """Prove that ``out`` (a folder, or with ``folder`` False a file) can be created and written and has room
    (``needs`` bytes free), without creating anything: a refused command leaves no trace. ``rewrites``: mxgan may
    replace or add to the files the folder holds already (a run folder), so each must be writable, and no folder
    may sit where mxgan writes a file."""
    check_name_fits(out, flag, inside=LONGEST_INSIDE if folder else 0)
    if Path(out).is_symlink() and not Path(out).exists():
        raise MxganError(f"{flag} {out} is a symbolic link to {os.readlink(out)}, which does not exist; create its "
                         f"target, remove the link, or choose another {flag}")
    target = Path(out).absolute() if folder else Path(out).absolute().parent
    existing = _existing_ancestor(target)
    if not existing.is_dir():
        raise MxganError(f"{flag} {out}: {existing} is a file, not a folder; choose another {flag}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise MxganError(f"{flag} {out} is not writable ({exc.strerror}); choose another folder") from exc
    if folder and rewrites and existing == target:
        _check_contents(target, flag, out)
    free = shutil.disk_usage(existing).free
    if free < needs:
        raise MxganError(f"{flag} {out}: no space left on its device ({free / 2**20:.1f} MiB free, about "
                         f"{needs / 2**20:.0f} MiB needed); free some, or choose another {flag}")


# what mxgan names the files it writes into a folder (a run's checkpoints, state, log and grids, plot's montage)
WRITTEN_SUFFIXES = (".params", ".states", ".json", ".jsonl", ".png", ".gif", ".log")


def _check_contents(folder: Path, flag: str, out: Path) -> None:
    """Each file ``folder`` holds can be replaced or added to (``chattr +i`` makes one unwritable even for root),
    and no folder has the name of a file mxgan writes (a grid's)."""
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        raise MxganError(f"{flag} {out} cannot be read ({exc.strerror}); choose another folder") from exc
    for entry in entries:
        if entry.is_file(follow_symlinks=False) and not os.access(entry.path, os.W_OK):
            raise MxganError(f"{flag} {out}: {entry.name} in it cannot be changed (made immutable with chattr +i, "
                             f"or read-only); make it writable again (chattr -i, chmod u+w) or choose another "
                             f"{flag}")
        if entry.is_dir(follow_symlinks=False) and entry.name.endswith(WRITTEN_SUFFIXES):
            raise MxganError(f"{flag} {out}: {entry.name} in it is a folder, where mxgan writes a file of that "
                             f"name; move it away or choose another {flag}")


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Within the block, what C libraries print to the standard error goes nowhere (libjpeg's "Corrupt JPEG data"
    while mxgan probes a picture it then reports itself). Only for short blocks with no other output."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def sha256_of(path: Path) -> str:
    """The SHA-256 of the file ``path``, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_output_file(flag: str, path: str, image: bool = False) -> None:
    """A file ``flag`` will write: its name fits, its folder exists and takes files (``image``: OpenCV can encode
    its type)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    check_name_fits(target, flag)
    if target.is_dir():
        raise MxganError(f"{flag} {path} is a folder; give a file name")
    if target.exists() and not target.is_file():  # a device or a pipe: mxgan writes files by renaming over them
        raise MxganError(f"{flag} {path} is a device or a pipe, not a file; give a file name")
    if folder.exists() and not folder.is_dir():
        raise MxganError(f"{flag} {path}: {folder} is a file, not a folder; choose another {flag}")
    if not folder.is_dir():
        raise MxganError(f"{flag} {path}: the folder {folder} does not exist; create it or choose another {flag}")
    check_writable(target, flag, folder=False)
    if image and not _writes_pictures(target):
        raise MxganError(f"{flag} {path}: OpenCV cannot write a {target.suffix or 'suffix-less'} picture; "
                         "name it .png (or .jpg, .bmp, .webp)")



def _writes_pictures(target: Path) -> bool:
    import cv2  # here, not at the top: `mxgan --help` and every refusal before any work load no OpenCV

    return bool(cv2.haveImageWriter(str(target)))

"""Download missing IDX files from public mirrors, verified by md5, written atomically."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from mxgan.data.idx import IdxDataset, IdxFile, find_idx_file, locate_dataset, read_idx_bytes
from mxgan.errors import MxganError
from mxgan.runtime.fileio import StagedOutputs, check_writable, raise_write_error, remove_dead_temporaries

CHUNK = 1 << 16
TIMEOUT_S = 30
DIGEST_NAMES = {"md5": "md5", "sha256": "SHA-256"}  # as the files' sources write them


def mirrors_for(dataset: IdxDataset) -> tuple[str, ...]:
    """The dataset's mirrors, or the one in ``$MXGAN_MIRROR`` (an internal copy, a test server)."""
    override = os.environ.get("MXGAN_MIRROR")
    return (override,) if override else dataset.mirrors


@dataclass(frozen=True)
class Expected:
    """What a download must be: a digest (``algorithm``) of its content, uncompressed for a ``.gz`` (``gzip``);
    a prefix of the digest will do (a torch hub file's name promises 8 hexadecimal digits)."""

    algorithm: str
    digest: str
    gzip: bool = False

    def matches(self, got: str) -> bool:
        return got.startswith(self.digest)

    def mismatch(self, got: str) -> str:
        return f"{DIGEST_NAMES[self.algorithm]} {got} != expected {self.digest}"


def _stream(url: str, tmp: Path, expected: Expected, progress: bool) -> str:
    """Stream ``url`` into ``tmp``; return the digest ``expected`` names of what came (uncompressed, for a .gz)."""
    digest = hashlib.new(expected.algorithm)
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if expected.gzip else None  # gzip container
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        # a bar on a terminal only (disable=None): a log or a pipe gets no carriage-return lines
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                  disable=None if progress else True) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(inflate.decompress(chunk) if inflate else chunk)
                bar.update(len(chunk))
        if inflate:
            digest.update(inflate.flush())
    return digest.hexdigest()


def _from_first_mirror(final: Path, mirrors: tuple[str, ...], expected: Expected,
                       progress: bool) -> tuple[Path | None, list[str]]:
    """``final`` from the first mirror that serves it as ``expected``, written under a temporary name that goes
    on any exit (an error, Ctrl-C, SIGTERM); None and every mirror's answer where none did."""
    problems = []
    with StagedOutputs() as outputs:
        tmp = outputs.reserve(final)
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{final.name}"
            try:
                got = _stream(url, tmp, expected, progress)
            except urllib.error.HTTPError as exc:
                problems.append(f"{url}: HTTP {exc.code} {exc.reason}")
                continue
            except (urllib.error.URLError, OSError, zlib.error, ValueError) as exc:
                raise_write_error(final, tmp, exc)  # a full disk or the file-size limit: no mirror helps
                problems.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            if expected.matches(got):
                return outputs.commit()[0], problems
            problems.append(f"{url}: {expected.mismatch(got)}")
    return None, problems


def download_file(spec: IdxFile, folder: Path, mirrors: tuple[str, ...], progress: bool = True) -> Path:
    """Fetch ``<spec.name>.gz`` from the first mirror that serves it with the right content.

    The file is written under a temporary name and renamed only once its uncompressed md5 matches; the
    temporary goes on any exit (an error, Ctrl-C, SIGTERM), so an interrupted or bad download leaves nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fetched, problems = _from_first_mirror(folder / f"{spec.name}.gz", mirrors, Expected("md5", spec.md5, gzip=True),
                                           progress)
    if fetched is None:
        raise MxganError(f"could not download {spec.name}.gz ({'; '.join(problems)}); offline? copy the file into "
                         f"{folder}/ (see data/README.md for sources and checksums)")
    return fetched


def fetch_verified(name: str, folder: Path, mirrors: tuple[str, ...], sha256: str,
                   progress: bool = True) -> Path:
    """Fetch ``<mirror>/<name>`` into ``folder/name`` from the first mirror that serves it whole: its SHA-256
    is ``sha256`` (or, given 8 hexadecimal digits, begins so, as a torch hub file's name promises). Written under
    a temporary name that goes on any exit; one :class:`MxganError` naming every mirror's answer otherwise."""
    check_writable(folder, "--data-dir", needs=1 << 27)  # the FID Inception network: about 90 MB
    with folders_made_go_on_failure(folder):
        folder.mkdir(parents=True, exist_ok=True)
        fetched, problems = _from_first_mirror(folder / name, mirrors, Expected("sha256", sha256), progress)
        if fetched is None:
            raise MxganError(f"could not download {name} ({'; '.join(problems)})")
    return fetched


def ensure_dataset(
    dataset: IdxDataset, folder: Path, mirrors: tuple[str, ...] | None = None, progress: bool = True
) -> Path:
    """Make sure all four files of ``dataset`` are in ``folder``, downloading the missing ones. A download that
    fails leaves no folder it made behind."""
    missing = [spec for spec in dataset.files.values() if find_idx_file(folder, spec.name) is None]
    if not missing:
        return folder
    # gzip halves them at least; the files there already are only read
    check_writable(folder, "--data-dir", needs=sum(spec.size for spec in missing) // 2, rewrites=False)
    remove_dead_temporaries(*(folder / f"{spec.name}.gz" for spec in missing))
    with folders_made_go_on_failure(folder):
        for spec in missing:
            download_file(spec, folder, mirrors or mirrors_for(dataset), progress)
    return folder


@contextmanager
def folders_made_go_on_failure(folder: Path) -> Iterator[None]:
    """Within the block, ``folder`` and its missing parents may be made; a failure (or Ctrl-C) removes those
    still empty, so a download that fails leaves no folder behind."""
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    try:
        yield
    except BaseException:
        for empty in made:
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
        raise


def verify_dataset(dataset: IdxDataset, folder: Path) -> None:
    """Check the md5 of every file of ``dataset`` in ``folder`` (uncompressed content); one error naming a bad one."""
    for spec in dataset.files.values():
        path = find_idx_file(folder, spec.name)
        if path is None:
            raise MxganError(f"{folder / spec.name}(.gz) is missing; run mxgan download {dataset.name} again")
        digest = hashlib.md5(read_idx_bytes(path)).hexdigest()
        if digest != spec.md5:
            raise MxganError(f"{path} is damaged (md5 {digest}, expected {spec.md5}); delete it and run "
                             f"mxgan download {dataset.name} again to fetch it anew")


def dataset_folder(dataset: IdxDataset, data_dir: Path) -> Path:
    """The folder holding ``dataset``: found in ``data_dir`` or a system folder, else downloaded into ``data_dir``."""
    found = locate_dataset(dataset, data_dir)
    if found is not None:
        return found
    if all(find_idx_file(data_dir, f.name) for f in dataset.files.values()):  # one level too deep
        raise MxganError(f"--data-dir {data_dir} holds the {dataset.name} files itself; pass the folder that holds "
                         f"{dataset.name}/, {data_dir.parent}")
    if data_dir.exists() and not data_dir.is_dir():
        raise MxganError(f"--data-dir {data_dir} is a file; pass the folder that holds {dataset.name}/")
    return ensure_dataset(dataset, data_dir / dataset.name)

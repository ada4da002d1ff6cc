"""Download missing IDX files from public mirrors, verified by md5, written atomically."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tqdm import tqdm

from mxgan.data.idx import IdxDataset, IdxFile, find_idx_file, locate_dataset, read_idx_bytes
from mxgan.errors import MxganError
from mxgan.runtime.fileio import StagedOutputs, check_writable, raise_write_error, remove_dead_temporaries

CHUNK = 1 << 16
TIMEOUT_S = 30


def mirrors_for(dataset: IdxDataset) -> tuple[str, ...]:
    """The dataset's mirrors, or the one in ``$MXGAN_MIRROR`` (an internal copy, a test server)."""
    override = os.environ.get("MXGAN_MIRROR")
    return (override,) if override else dataset.mirrors


def _fetch_gz(url: str, tmp: Path, spec: IdxFile, progress: bool) -> str:
    """Stream ``url`` (a .gz) into ``tmp``; return the md5 of the uncompressed content."""
    md5 = hashlib.md5()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip container
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        # a bar on a terminal only (disable=None): a log or a pipe gets no carriage-return lines
        with tqdm(total=total, unit="B", unit_scale=True, desc=spec.name, disable=None if progress else True) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                md5.update(inflate.decompress(chunk))
                bar.update(len(chunk))
        md5.update(inflate.flush())
    return md5.hexdigest()


def download_file(spec: IdxFile, folder: Path, mirrors: tuple[str, ...], progress: bool = True) -> Path:
    """Fetch ``<spec.name>.gz`` from the first mirror that serves it with the right content.

    The file is written under a temporary name and renamed only once its uncompressed md5 matches; the
    temporary goes on any exit (an error, Ctrl-C, SIGTERM), so an interrupted or bad download leaves nothing.
    """
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{spec.name}.gz"
    problems = []
    with StagedOutputs() as outputs:
        tmp = outputs.reserve(final)
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{spec.name}.gz"
            try:
                digest = _fetch_gz(url, tmp, spec, progress)
            except urllib.error.HTTPError as exc:
                problems.append(f"{url}: HTTP {exc.code} {exc.reason}")
                continue
            except (urllib.error.URLError, OSError, zlib.error, ValueError) as exc:
                raise_write_error(final, tmp, exc)  # a full disk or the file-size limit: no mirror helps
                problems.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            if digest == spec.md5:
                return outputs.commit()[0]
            problems.append(f"{url}: md5 {digest} != expected {spec.md5}")
    raise MxganError(
        f"could not download {spec.name}.gz ({'; '.join(problems)}); "
        f"offline? copy the file into {folder}/ (see data/README.md for sources and checksums)"
    )


def fetch_verified(name: str, folder: Path, mirrors: tuple[str, ...], sha256: str,
                   progress: bool = True) -> Path:
    """Fetch ``<mirror>/<name>`` into ``folder/name`` from the first mirror that serves it whole: its SHA-256
    is ``sha256`` (or, given 8 hexadecimal digits, begins so, as a torch hub file's name promises). Written under
    a temporary name that goes on any exit; one :class:`MxganError` naming every mirror's answer otherwise."""
    check_writable(folder, "--data-dir", needs=1 << 27)  # the FID Inception network: about 90 MB
    folder.mkdir(parents=True, exist_ok=True)
    final, problems = folder / name, []
    with StagedOutputs() as outputs:
        tmp = outputs.reserve(final)
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{name}"
            try:
                digest = _fetch(url, tmp, name, progress)
            except urllib.error.HTTPError as exc:
                problems.append(f"{url}: HTTP {exc.code} {exc.reason}")
                continue
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise_write_error(final, tmp, exc)
                problems.append(f"{url}: {getattr(exc, 'reason', exc)}")
                continue
            if digest.startswith(sha256):
                return outputs.commit()[0]
            problems.append(f"{url}: SHA-256 {digest[:16]}... is not the file's ({sha256[:16]}...)")
    raise MxganError(f"could not download {name} ({'; '.join(problems)})")


def _fetch(url: str, tmp: Path, name: str, progress: bool) -> str:
    """Stream ``url`` into ``tmp``; return the SHA-256 of what came."""
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=None if progress else True) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    return digest.hexdigest()


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
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first
    try:
        for spec in missing:
            download_file(spec, folder, mirrors or mirrors_for(dataset), progress)
    except BaseException:
        for empty in made:
            if empty.is_dir() and not any(empty.iterdir()):
                empty.rmdir()
        raise
    return folder


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

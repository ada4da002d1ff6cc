"""What a run folder's ``state.json`` may say, checked: the one reader of its values, and the one check that a
file name read from a run folder stays inside it.

A run folder is data that may come from someone else (a shared disk, a downloaded run), so nothing read
from it is trusted: every file name must be the plain name of a checkpoint file of the role it is listed
for (no path, no ``..``, no hidden or foreign file), every number of the right type, finite and in range.
A value that is not is a :class:`StateError` naming the field; the readers in
:mod:`mxgan.checkpoints.run_folder` report it as damage, and never follow it.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

LARGEST_COUNT = 10**15  # epochs, iterations, bytes: far beyond any run, far below what overflows a float
SHA256 = re.compile(r"[0-9a-f]{64}")
# <dataset>_<role>-NNNN[-IIIIIII].<ext>: the names mxgan gives a set's files (run_folder.set_names)
_ROLE_FILE = {"G": ("G", "params"), "D": ("D", "params"), "G.states": ("G", "states"),
              "D.states": ("D", "states"), "G_ema": ("G_ema", "params"), "G_ema.states": ("G_ema", "states"),
              "hooks": ("hooks", "json")}
_NAME = r"[a-z][a-z-]*_{stem}-[0-9]{{4}}(-[0-9]{{7}})?\.{ext}"


class StateError(ValueError):
    """A value of ``state.json`` that is not what mxgan writes there; the message names the field."""


def file_name_problem(role: str, name: object) -> str | None:
    """Why ``name`` cannot be the file of ``role`` in a checkpoint set: None when it is a plain name of the kind
    mxgan writes for that role (so it can only ever mean a file inside the run folder)."""
    if role not in _ROLE_FILE:
        return f"{role!r} is not a role of a checkpoint set"
    stem, ext = _ROLE_FILE[role]
    if not isinstance(name, str) or not re.fullmatch(_NAME.format(stem=stem, ext=ext), name):
        return f"{name!r} is not the name of a {role} file of a checkpoint set"
    return None


def inside(out: Path, name: str) -> Path:
    """The path of ``name`` in run folder ``out``, once it is known to stay there: a link that leads elsewhere is
    a :class:`StateError` (the name itself was checked by :func:`file_name_problem` when it was read)."""
    path = Path(out) / name
    if path.is_symlink() and not path.resolve().is_relative_to(Path(out).resolve()):
        raise StateError(f"{name} is a link that leads outside the run folder")
    return path


def check_files(field: str, files: Any) -> dict[str, str]:
    """A set's files, role -> name: G and D at least, each name of its role's kind."""
    if not isinstance(files, dict) or "G" not in files or "D" not in files:
        raise StateError(f"{field} must map G, D (and their .states, G_ema) to file names, got {_shown(files)}")
    for role, name in files.items():
        problem = file_name_problem(role, name)
        if problem:
            raise StateError(f"{field}: {problem}")
    return files


def check_count(field: str, value: Any) -> int:
    """A whole number in [0, :data:`LARGEST_COUNT`] (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LARGEST_COUNT:
        raise StateError(f"{field} must be a whole number in [0, {LARGEST_COUNT:.0e}], got {_shown(value)}")
    return value


def check_number(field: str, value: Any) -> float:
    """A finite number of 0 or more."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise StateError(f"{field} must be a finite number of 0 or more, got {_shown(value)}")
    return float(value)


def check_dict(field: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise StateError(f"{field} must be a JSON object, got {_shown(value)}")
    return value


def check_list(field: str, value: Any) -> list:
    if not isinstance(value, list):
        raise StateError(f"{field} must be a list, got {_shown(value)}")
    return value


def check_progress(field: str, value: Any) -> dict[str, int]:
    """epoch, batch, iteration: whole numbers."""
    value = check_dict(field, value)
    return {key: check_count(f"{field}.{key}", value.get(key)) for key in ("epoch", "batch", "iteration")}


def check_optimizer_counts(field: str, value: Any) -> dict[str, dict]:
    """role -> Adam's update counts, as :func:`mxgan.runtime.compat.optimizer_counts` writes them."""
    value = check_dict(field, value)
    for role, counts in value.items():
        where = f"{field}.{role}"
        counts = check_dict(where, counts)
        check_count(f"{where}.num_update", counts.get("num_update"))
        for i, entry in enumerate(check_list(f"{where}.per_device", counts.get("per_device"))):
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):
                raise StateError(f"{where}.per_device[{i}] must be [device, [[index, count], ...]]")
            check_count(f"{where}.per_device[{i}] device", entry[0])
            for pair in entry[1]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise StateError(f"{where}.per_device[{i}] must hold [index, count] pairs, got {_shown(pair)}")
                if not isinstance(pair[0], str):  # a parameter's index, or its name (Adam in a kvstore)
                    check_count(f"{where}.per_device[{i}] index", pair[0])
                check_count(f"{where}.per_device[{i}] count", pair[1])
    return value


def check_checksums(field: str, sizes: Any, sha256: Any, files: dict[str, str]) -> None:
    """Each role's size (bytes) and SHA-256 (64 hexadecimal digits), for roles of the set."""
    for role, size in check_dict(f"{field}.sizes", sizes).items():
        if role not in files:
            raise StateError(f"{field}.sizes names {role!r}, which the set has no file for")
        check_count(f"{field}.sizes.{role}", size)
    for role, digest in check_dict(f"{field}.sha256", sha256).items():
        if role not in files:
            raise StateError(f"{field}.sha256 names {role!r}, which the set has no file for")
        if not isinstance(digest, str) or not SHA256.fullmatch(digest):
            raise StateError(f"{field}.sha256.{role} must be 64 hexadecimal digits, got {_shown(digest)}")


def check_evaluation(field: str, value: Any) -> dict:
    """An in-training quality check as :class:`mxgan.checkpoints.run_folder.Evaluation` writes it."""
    value = check_dict(field, value)
    for key in ("epoch", "iteration"):
        check_count(f"{field}.{key}", value.get(key))
    for key in ("seconds", "fid", "fid_raw", "check_seconds"):
        if key in value:
            check_number(f"{field}.{key}", value[key])
    if "files" in value:
        check_files(f"{field}.files", value["files"])
    return value


def check_best(field: str, value: Any) -> dict | None:
    """The run's best set (None: never evaluated): epoch, iteration, its FID (finite) and its files."""
    if value is None:
        return None
    value = check_dict(field, value)
    check_count(f"{field}.epoch", value.get("epoch"))
    check_count(f"{field}.iteration", value.get("iteration"))
    check_number(f"{field}.fid", value.get("fid"))
    check_files(f"{field}.files", value.get("files"))
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

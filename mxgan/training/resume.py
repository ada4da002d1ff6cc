"""Where a run (re)starts: the newest complete checkpoint set of its folder, on the same data, or its beginning.

Whatever instant a process died at, and whatever single file of its folder was damaged since, ``--resume``
(or, for a folder with no complete set, the same command again) continues: from the newest set whose
files verify, saying which newer set was passed over and why; from the run's beginning when there is
none. The folder is then cut back to that point (later sets, checks and metrics lines go), so the
run goes on as if they had never been written.
"""

from __future__ import annotations

import json
from pathlib import Path

from mxgan.checkpoints.run_folder import (
    ResumePoint,
    RunState,
    has_state,
    is_set_file,
    is_temporary,
    read_run_state,
    remove_stale_temporaries,
    resume_from,
    resume_point,
    resume_point_notes,
    write_state,
)
from mxgan.checkpoints.state_file import file_name_problem
from mxgan.config import TrainConfig, load_run_options
from mxgan.constants import METRICS_FILE, RUN_OPTIONS_FILE, STATE_FILE, STATE_PREVIOUS, TRAIN_LOG
from mxgan.errors import MxganError
from mxgan.jsontext import parse_json, read_json
from mxgan.runtime.fileio import FolderLock, write_bytes_atomic


def claim_folder(out: Path, flag: str) -> tuple[RunState, ResumePoint] | None:
    """What a run may do with its folder ``out`` (``flag`` named it): continue from a set (the state and the
    set), or None: (re)start the run there from its beginning (no folder, an empty one, or a run of mxgan's that
    never completed a set). Call it again under the folder's lock before writing: only then is the answer
    final.

    Raises a one-line :class:`MxganError` for a folder no run may write in, leaving everything in it as it is:
    another program's files, checkpoint sets beside no readable ``state.json``, or sets none of which verifies.
    """
    present = _present(out)
    if not present:
        return None
    state, unreadable = _readable_state(out)
    if state is None:
        sets = sorted(name for name in present if is_set_file(name))
        if sets:
            generators = [name for name in sets if file_name_problem("G", name) is None]
            hint = f"; to go on from one, start a new run with --checkpoint {out / generators[-1]}" \
                if generators else ""
            raise MxganError(f"{flag} {out} holds checkpoint files ({_listed(sets)}) but {unreadable}: mxgan will "
                             f"not overwrite them{hint}")
        if not _has_run_options(out):
            raise MxganError(f"{flag} {out} holds files that are not an mxgan run ({_listed(present)}): mxgan "
                             "will not write among them; choose a new or empty folder")
        return None
    point = resume_point(out, state)
    if point is not None:
        return state, point
    if state.checkpoints:
        why = resume_point_notes(out, state)[-1]
        raise MxganError(f"{flag} {out}: none of its {len(state.checkpoints)} checkpoint sets can be resumed "
                         f"({why}): nothing in it was changed; restore the files, or start again in a new folder")
    return None


def _listed(names: set[str] | list[str]) -> str:
    shown = sorted(names)
    return ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


def _present(out: Path) -> set[str]:
    """What ``out`` holds besides its lock, the temporaries of killed writers, and the ``train.log`` a run whose
    standard output went away writes from its start on (nothing: no such folder)."""
    if not out.is_dir():
        return set()
    return {p.name for p in out.iterdir() if p.name not in (FolderLock.NAME, TRAIN_LOG) and not is_temporary(p.name)}


def _readable_state(out: Path) -> tuple[RunState | None, str]:
    """The run's state, or None and why not (neither state file there, or both damaged)."""
    if not has_state(out):
        return None, f"no {STATE_FILE}"
    try:
        return read_run_state(out), ""
    except MxganError as exc:
        return None, f"{STATE_FILE} and {STATE_PREVIOUS} cannot be read ({exc})"


def _has_run_options(out: Path) -> bool:
    """Whether ``out`` has the run.json of an mxgan run (or the ``{}`` an older mxgan's failed start-up left)."""
    try:
        return load_run_options(out) is not None
    except MxganError:  # damaged
        return (out / RUN_OPTIONS_FILE).read_bytes().strip() == b"{}"


def check_same_data(cfg: TrainConfig, saved: dict, now: dict, position: str) -> None:
    """Refuse to resume on other data than the run's: another ``--data-dir`` must hold the same images;
    the run's own folder, changed since, needs ``--allow-data-change`` (the saved position means other
    batches then)."""
    compared = [key for key in saved if key != "data_dir"]  # what an older mxgan's state.json recorded, at least
    if not saved or all(saved[key] == now.get(key) for key in compared):
        return
    difference = (f"{now['images']} images, not {saved.get('images')}" if now["images"] != saved.get("images")
                  else f"other training images: MD5 {now.get('md5')}, not {saved.get('md5')}")
    if now["data_dir"] != saved.get("data_dir"):
        raise MxganError(f"--data-dir {cfg.data_dir} holds other data than the run trained on ({difference}): "
                         "a resume continues on the same data; start a new run (--out) to train on this")
    if not cfg.allow_data_change:
        raise MxganError(f"the data in {cfg.data_dir} changed since the checkpoint ({difference}): the saved "
                         f"position ({position}) would fall elsewhere in it; pass --allow-data-change to resume "
                         "anyway")


def begin_run_folder(out: Path, cfg: TrainConfig, data: dict) -> None:
    """Start the folder of a new run (or of a run that never completed a set, which :func:`claim_folder` let
    through under the lock): its run.json, a ``state.json`` listing no set yet (with a copy of the options, so
    that a lost run.json costs nothing), and no trace of an earlier attempt: its metrics, the files of a set
    it did not complete, the temporaries of killed writers."""
    out.mkdir(parents=True, exist_ok=True)
    for name in _present(out):
        if name in (METRICS_FILE, STATE_FILE, STATE_PREVIOUS) or is_set_file(name):
            (out / name).unlink(missing_ok=True)
    remove_stale_temporaries(out)
    write_bytes_atomic(out / RUN_OPTIONS_FILE, json.dumps(cfg.to_json(), indent=2).encode())
    write_state(out, RunState([], data=data, options=cfg.to_json()))


def cut_back(out: Path, cfg: TrainConfig, state: RunState, point: ResumePoint, data: dict) -> RunState:
    """The lead worker's share of a resume: the folder cut back to ``point``, metrics.jsonl too (so its
    iterations stay in order), and a ``--data-dir`` that holds the same data recorded for the next resume."""
    remove_stale_temporaries(out)
    # the run's own options (run.json's, or state.json's copy where run.json was lost), with where its data is now
    options = {**(state.options or _run_options_on_disk(out)), "data_dir": cfg.data_dir}
    if _run_options_on_disk(out) != options:  # the same data moved (check_same_data let it through), or run.json lost
        write_bytes_atomic(out / RUN_OPTIONS_FILE, json.dumps(options, indent=2).encode())
    state.data, state.options = data, options  # (a run of an older mxgan had neither recorded)
    state = resume_from(out, state, point)
    iteration = state.progress.iteration
    log = out / METRICS_FILE
    if log.is_file():
        lines = log.read_bytes().decode("utf-8", errors="replace").splitlines()
        kept = [line for line in lines if _logged_at(line) <= iteration]
        if len(kept) != len(lines):
            write_bytes_atomic(log, "".join(f"{line}\n" for line in kept).encode())
    return state


def _run_options_on_disk(out: Path) -> dict:
    try:
        saved = read_json(out / RUN_OPTIONS_FILE)
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def _logged_at(line: str) -> float:
    """The iteration a metrics line was logged at; infinity for a line cut short by a crash, or garbage, which
    goes too."""
    try:
        iteration = parse_json(line).get("iteration", 0)
    except (ValueError, AttributeError):
        return float("inf")
    return iteration if isinstance(iteration, (int, float)) and not isinstance(iteration, bool) else float("inf")

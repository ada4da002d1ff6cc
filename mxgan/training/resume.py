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
    read_run_state,
    remove_stale_temporaries,
    resume_from,
    resume_point,
)
from mxgan.config import TrainConfig
from mxgan.constants import METRICS_FILE, RUN_OPTIONS_FILE, STATE_FILE, STATE_PREVIOUS
from mxgan.errors import MxganError
from mxgan.runtime.fileio import write_bytes_atomic


def find_resume_point(out: Path) -> tuple[RunState, ResumePoint] | tuple[None, None]:
    """The run's state and the set to continue from; ``(None, None)`` when no set can be."""
    if not has_state(out):
        return None, None
    state = read_run_state(out)
    point = resume_point(out, state)
    return (state, point) if point else (None, None)


def check_same_data(cfg: TrainConfig, saved: dict, now: dict, position: str) -> None:
    """Refuse to resume on other data than the run's: another ``--data-dir`` must hold the same images;
    the run's own folder, changed since, needs ``--allow-data-change`` (the saved position means other
    batches then)."""
    if not saved or {k: v for k, v in saved.items() if k != "data_dir"} == \
            {k: v for k, v in now.items() if k != "data_dir"}:
        return
    difference = (f"{now['images']} images, not {saved['images']}" if now["images"] != saved["images"]
                  else f"other training images: MD5 {now.get('md5')}, not {saved.get('md5')}")
    if now["data_dir"] != saved["data_dir"]:
        raise MxganError(f"--data-dir {cfg.data_dir} holds other data than the run trained on ({difference}): "
                         "a resume continues on the same data; start a new run (--out) to train on this")
    if not cfg.allow_data_change:
        raise MxganError(f"the data in {cfg.data_dir} changed since the checkpoint ({difference}): the saved "
                         f"position ({position}) would fall elsewhere in it; pass --allow-data-change to resume "
                         "anyway")


def begin_run_folder(out: Path, cfg: TrainConfig) -> None:
    """Start the folder of a new run (or of a run that never completed a set): its run.json, and no trace of
    an earlier attempt (its metrics, its state, half-written temporaries)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in (METRICS_FILE, STATE_FILE, STATE_PREVIOUS):
        (out / name).unlink(missing_ok=True)
    remove_stale_temporaries(out)
    write_bytes_atomic(out / RUN_OPTIONS_FILE, json.dumps(cfg.to_json(), indent=2).encode())


def cut_back(out: Path, cfg: TrainConfig, state: RunState, point: ResumePoint, data: dict) -> RunState:
    """The lead worker's share of a resume: the folder cut back to ``point``, metrics.jsonl too (so its
    iterations stay in order), and a ``--data-dir`` that holds the same data recorded for the next resume."""
    remove_stale_temporaries(out)
    options = json.loads((out / RUN_OPTIONS_FILE).read_text())
    if options.get("data_dir") != cfg.data_dir:  # the same data, moved (check_same_data let it through)
        write_bytes_atomic(out / RUN_OPTIONS_FILE, json.dumps({**options, "data_dir": cfg.data_dir}, indent=2).encode())
    state.data = data  # (a run of an older mxgan had none recorded)
    state = resume_from(out, state, point)
    iteration = state.progress.iteration
    log = out / METRICS_FILE
    if log.is_file():
        lines = log.read_text().splitlines()
        kept = [line for line in lines if _logged_at(line) <= iteration]
        if len(kept) != len(lines):
            write_bytes_atomic(log, "".join(f"{line}\n" for line in kept).encode())
    return state


def _logged_at(line: str) -> float:
    try:
        return json.loads(line).get("iteration", 0)
    except (ValueError, AttributeError):
        return float("inf")  # a line cut short by a crash goes too

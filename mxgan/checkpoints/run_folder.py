"""Checkpoint sets of a run folder, and resuming from them exactly.

A checkpoint set is four files, each written to a temporary name and renamed:
``<dataset>_G-NNNN.params`` and ``_D-NNNN.params`` (the example's
``Module.save_params`` format), and ``_G-NNNN.states`` / ``_D-NNNN.states``
(``Module.save_optimizer_states``); with ``--ema-decay``, a fifth,
``<dataset>_G_ema-NNNN.params``, holds G's averaged weights (same format) with
BatchNorm statistics re-estimated for them. Epoch-end sets are named by the epoch as
the example names them; a set taken mid-epoch (Ctrl-C, ``--checkpoint-every``,
``--max-steps``) adds the iteration, ``-NNNN-IIIIIII``, so no set is ever
overwritten. ``state.json`` is written last and names the newest complete
set: a process killed mid-write leaves the previous set in charge.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mxnet as mx

from mxgan.checkpoints.module_format import keyed_params, load_module_params, save_module_params, save_params
from mxgan.constants import STATE_FILE
from mxgan.errors import MxganError
from mxgan.model.modules import GAN, set_generator_params
from mxgan.runtime.compat import optimizer_counts, restore_optimizer_counts
from mxgan.runtime.fileio import write_atomic, write_bytes_atomic

ROLES = ("G", "D")
EMA_ROLE = "G_ema"  # G's moving average, in sets of runs with --ema-decay


@dataclass
class Progress:
    """Where a run is: ``batch`` batches of ``epoch`` done, ``iteration`` steps in all."""

    epoch: int = 0
    batch: int = 0
    iteration: int = 0


@dataclass
class RunState:
    """The content of ``state.json``."""

    progress: Progress
    files: dict[str, str]                       # 'G', 'D', 'G.states', 'D.states' -> file name
    optimizer_counts: dict[str, dict]           # 'G', 'D' -> Adam update counts
    history: list[dict[str, str]] = field(default_factory=list)  # older sets, oldest first
    ema_updates: int = 0  # updates folded into G's moving average (its ramp-up)
    best: dict | None = None  # {'epoch', 'iteration', 'fid', 'files'}: the evaluated set with the lowest FID-MNIST
    seconds: float = 0.0  # the run's training time when this set was written, over all its processes
    evaluations: list[dict] = field(default_factory=list)  # every quality check: see Evaluation

    def sets(self) -> list[dict[str, str]]:
        """Every checkpoint set still on disk, oldest first (the best one too, where it is older)."""
        kept = [*self.history, self.files]
        if self.best and self.best["files"] not in kept:
            kept.insert(0, self.best["files"])
        return kept


@dataclass
class Evaluation:
    """An in-training quality check of the newest checkpoint set, as ``state.json`` keeps it."""

    epoch: int
    iteration: int
    seconds: float  # the run's training time when the check began
    fid: float  # FID-MNIST of the weights ``mxgan sample`` draws (the moving average where the run keeps one)
    fid_raw: float  # the same, of the raw weights
    check_seconds: float  # what the check itself took


def set_names(dataset: str, progress: Progress, epoch_end: bool, ema: bool = False) -> dict[str, str]:
    """File names of the checkpoint set at ``progress`` (``ema``: with G's moving average)."""
    suffix = f"{progress.epoch:04d}" if epoch_end else f"{progress.epoch:04d}-{progress.iteration:07d}"
    names = {role: f"{dataset}_{role}-{suffix}.params" for role in ROLES}
    names.update({f"{role}.states": f"{dataset}_{role}-{suffix}.states" for role in ROLES})
    if ema:
        names[EMA_ROLE] = f"{dataset}_{EMA_ROLE}-{suffix}.params"
    return names


@dataclass
class EmaSnapshot:
    """G's moving average as it is saved: standard-shape weights, re-estimated BatchNorm statistics."""

    arg_params: dict[str, mx.nd.NDArray]
    aux_params: dict[str, mx.nd.NDArray]
    updates: int


def save_run_checkpoint(
    out: Path, dataset: str, gan: GAN, progress: Progress, epoch_end: bool, keep: int = 0,
    optimizer_states: bool = True, ema: EmaSnapshot | None = None, seconds: float = 0.0,
) -> Path:
    """Write a complete checkpoint set, then ``state.json``; keep the newest ``keep`` sets (0: all),
    and always the best one.

    Returns the path of G's ``.params``. Raises :class:`DivergenceError` (and
    writes nothing) when a weight is not finite. ``optimizer_states`` False:
    no ``.states`` (dist_async keeps Adam on the servers, out of reach).
    """
    names = set_names(dataset, progress, epoch_end, ema is not None)
    if not optimizer_states:
        names = {role: name for role, name in names.items() if not role.endswith(".states")}
    save_module_params(gan.modD, out / names["D"])
    save_module_params(gan.modG, out / names["G"])
    if ema is not None:
        save_params(keyed_params(ema.arg_params, ema.aux_params), out / names[EMA_ROLE])
    if optimizer_states:
        for role, mod in (("G", gan.modG), ("D", gan.modD)):
            write_atomic(out / names[f"{role}.states"], mod.save_optimizer_states)
    previous = read_run_state(out) if (out / STATE_FILE).exists() else None
    history = [*previous.history, previous.files] if previous else []
    history = [old for old in history if old != names]
    cut = max(0, len(history) - (keep - 1)) if keep else 0
    state = RunState(
        progress=progress, files=names, history=history[cut:],
        optimizer_counts={"G": optimizer_counts(gan.optG), "D": optimizer_counts(gan.optD)},
        ema_updates=0 if ema is None else ema.updates, best=previous.best if previous else None,
        seconds=seconds, evaluations=previous.evaluations if previous else [],
    )
    _write_state(out, state)
    _remove_sets(out, [old for old in history[:cut] if not state.best or old != state.best["files"]])
    return out / names["G"]


def _write_state(out: Path, state: RunState) -> None:
    write_bytes_atomic(out / STATE_FILE, json.dumps(asdict(state), indent=1).encode())


def _remove_sets(out: Path, sets: list[dict[str, str]]) -> None:
    """Delete the files of ``sets`` (call only once ``state.json`` no longer names them)."""
    for old in sets:
        for name in old.values():
            (out / name).unlink(missing_ok=True)


def record_evaluation(out: Path, evaluation: Evaluation) -> bool:
    """Note a quality check of the newest checkpoint set; keep the set as the run's best if its FID-MNIST is
    the lowest yet.

    Returns whether it became the best. A best set that ``--keep`` already let go
    of is deleted when a better one replaces it.
    """
    state = read_run_state(out)
    state.evaluations.append({**asdict(evaluation), "files": state.files})
    if state.best is not None and state.best["fid"] <= evaluation.fid:
        _write_state(out, state)
        return False
    replaced = state.best["files"] if state.best else None
    state.best = {"epoch": evaluation.epoch, "iteration": evaluation.iteration, "fid": evaluation.fid,
                  "files": state.files}
    _write_state(out, state)
    if replaced is not None and replaced not in [*state.history, state.files]:
        _remove_sets(out, [replaced])
    return True


def read_run_state(out: Path) -> RunState:
    """``state.json`` of a run folder, or a clear error."""
    path = Path(out) / STATE_FILE
    try:
        raw = json.loads(path.read_text())
        return RunState(
            progress=Progress(**raw["progress"]), files=raw["files"],
            optimizer_counts=raw["optimizer_counts"], history=raw.get("history", []),
            ema_updates=raw.get("ema_updates", 0), best=raw.get("best"), seconds=raw.get("seconds", 0.0),
            evaluations=raw.get("evaluations", []),
        )
    except FileNotFoundError as exc:
        raise MxganError(
            f"{out} has no {STATE_FILE}: not an mxgan run folder, or no checkpoint was written yet"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise MxganError(f"{path} is damaged ({exc}); resume from a copy of the run folder") from exc


def restore_weights(out: Path, gan: GAN) -> RunState:
    """Load the weights of the newest checkpoint set of ``out`` into ``gan`` (before its optimizers)."""
    state = read_run_state(out)
    set_generator_params(gan.modG, *load_module_params(out / state.files["G"]))
    gan.modD.set_params(*load_module_params(out / state.files["D"]))
    return state


def restore_optimizers(out: Path, gan: GAN, state: RunState, on_servers: bool = False) -> bool:
    """Load Adam's moments and update counts of ``state`` (after :meth:`GAN.attach_optimizers`).

    Returns False, restoring nothing, for a set saved without them (a dist_async
    run's), or when Adam now runs on dist_async servers, out of reach.
    """
    if on_servers or "G.states" not in state.files:
        return False
    for role, mod, opt in (("G", gan.modG, gan.optG), ("D", gan.modD, gan.optD)):
        states = out / state.files[f"{role}.states"]
        if not states.is_file():
            raise MxganError(f"{states} is missing; the run folder is incomplete")
        mod.load_optimizer_states(str(states))
        restore_optimizer_counts(opt, state.optimizer_counts[role])
    return True


def remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files a killed process left behind (never a completed file)."""
    for tmp in Path(out).glob(".*.tmp-*"):
        tmp.unlink(missing_ok=True)

"""Checkpoint sets of a run folder, and resuming from them exactly.

A checkpoint set is four files, each written to a temporary name and renamed:
``<dataset>_G-NNNN.params`` and ``_D-NNNN.params`` (the example's
``Module.save_params`` format), and ``_G-NNNN.states`` / ``_D-NNNN.states``
(``Module.save_optimizer_states``); with ``--ema-decay``, a fifth,
``<dataset>_G_ema-NNNN.params``, holds G's averaged weights (same format) with
BatchNorm statistics re-estimated for them, and ``<dataset>_G_ema-NNNN.states`` the average as the run
keeps it between its folds (every tenth update), from which a resume continues exactly. Epoch-end sets are
named by the epoch as the example names them; a set taken mid-epoch (Ctrl-C, ``--checkpoint-every``,
``--max-steps``) adds the iteration, ``-NNNN-IIIIIII``, so no set is ever
overwritten.

``state.json``, written last, lists every set still on disk with what makes it
complete (each file's size and SHA-256), where the run was, Adam's update counts and
the run's training time; the copy it replaces stays as ``state.previous.json``. A
process killed at any instant leaves a folder whose newest complete set can be
found: resuming takes the newest set whose files all verify, and says why it
skipped any newer one.
"""

from __future__ import annotations

import fnmatch
import io
import json
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.checkpoints.module_format import keyed_params, load_module_params, save_module_params, save_params
from mxgan.checkpoints.state_file import (
    StateError,
    check_best,
    check_checksums,
    check_count,
    check_dict,
    check_evaluation,
    check_files,
    check_list,
    check_number,
    check_optimizer_counts,
    check_progress,
    file_name_problem,
    inside,
)
from mxgan.constants import STATE_FILE, STATE_PREVIOUS
from mxgan.errors import MxganError
from mxgan.jsontext import read_json
from mxgan.model.modules import GAN, set_generator_params
from mxgan.runtime.compat import optimizer_counts, restore_optimizer_counts
from mxgan.runtime.fileio import sha256_of, write_atomic, write_bytes_atomic

ROLES = ("G", "D")
EMA_ROLE = "G_ema"  # G's moving average, in sets of runs with --ema-decay
WEIGHT_ROLES = (*ROLES, EMA_ROLE)  # what a set needs to resume the networks (Adam's moments aside)
EMA_RUNNING = "G_ema.states"  # the moving average between its folds, which a resume continues exactly
HOOKS = "hooks"  # every hook's state after the set's step (mxgan.training.contract.Hook.state_dict)


@dataclass
class Progress:
    """Where a run is: ``batch`` batches of ``epoch`` done, ``iteration`` steps in all."""

    epoch: int = 0
    batch: int = 0
    iteration: int = 0


@dataclass
class CheckpointSet:
    """One checkpoint set as ``state.json`` keeps it: its files, and what resuming from it restores."""

    files: dict[str, str]  # 'G', 'D', 'G.states', 'D.states' (, 'G_ema') -> file name
    progress: Progress | None  # None: a set listed by an older mxgan, which kept no more than its names
    optimizer_counts: dict[str, dict] = field(default_factory=dict)  # 'G', 'D' -> Adam's update counts
    ema_updates: int = 0  # updates folded into G's moving average (its ramp-up)
    seconds: float = 0.0  # the run's training time when the set was written, over all its processes
    sizes: dict[str, int] = field(default_factory=dict)  # role -> bytes written
    sha256: dict[str, str] = field(default_factory=dict)  # role -> SHA-256 of what was written
    kept_for_best: bool = False  # --keep let it go, but it is the run's best: deleted once a better one comes

    def describe(self) -> str:
        where = f"iteration {self.progress.iteration}" if self.progress else "an older mxgan's"
        return f"the set of {where} ({self.files['G']})"

    def problem(self, out: Path, roles: tuple[str, ...] | None = None) -> str | None:
        """Why the set (its ``roles``' files) cannot be trusted: a file missing, cut short or changed since it
        was written; None when every file is as written."""
        for role, name in self.files.items():
            if roles is not None and role not in roles:
                continue
            try:
                path = inside(out, name)
            except StateError as exc:
                return str(exc)
            if not path.is_file():
                return f"{name} is missing"
            size = path.stat().st_size
            if role in self.sizes and size != self.sizes[role]:
                return f"{name} has {size} bytes where {self.sizes[role]} were written"
            if role in self.sha256 and sha256_of(path) != self.sha256[role]:
                return f"{name} changed since it was written (its SHA-256 differs)"
        return None


@dataclass
class RunState:
    """The content of ``state.json``."""

    checkpoints: list[CheckpointSet]  # every set on disk, oldest first (the best one too); the last is the newest
    best: dict | None = None  # {'epoch', 'iteration', 'fid', 'files'}: the evaluated set with the lowest FID-MNIST
    evaluations: list[dict] = field(default_factory=list)  # every quality check: see Evaluation
    data: dict = field(default_factory=dict)  # what the run trains on (see mxgan.data.sources.data_identity)
    options: dict = field(default_factory=dict)  # a copy of run.json, which a resume falls back on if it is lost
    source: str = STATE_FILE  # the file it was read from (state.previous.json when state.json was unusable)
    source_problem: str = ""  # why state.json was not used, when it was not

    @property
    def newest(self) -> CheckpointSet:
        if not self.checkpoints:
            raise MxganError(f"{self.source} lists no checkpoint set yet: the run has not written one")
        return self.checkpoints[-1]

    @property
    def files(self) -> dict[str, str]:
        return self.newest.files

    @property
    def progress(self) -> Progress:
        if not self.checkpoints:  # the run began, and wrote no set yet
            return Progress()
        if self.newest.progress is None:
            raise MxganError(f"{STATE_FILE} names no position for {self.newest.files['G']}")
        return self.newest.progress

    @property
    def optimizer_counts(self) -> dict[str, dict]:
        return self.newest.optimizer_counts

    @property
    def ema_updates(self) -> int:
        return self.newest.ema_updates

    @property
    def seconds(self) -> float:
        return self.newest.seconds

    @property
    def history(self) -> list[dict[str, str]]:
        """The older sets' files, oldest first."""
        return [s.files for s in self.checkpoints[:-1]]

    def file_sets(self) -> list[dict[str, str]]:
        """Every checkpoint set still on disk, oldest first, as role -> file name."""
        return [s.files for s in self.checkpoints]

    def to_json(self) -> dict:
        return {"checkpoints": [asdict(s) for s in self.checkpoints], "best": self.best,
                "evaluations": self.evaluations, "data": self.data, "options": self.options}


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
        names[EMA_RUNNING] = f"{dataset}_{EMA_ROLE}-{suffix}.states"
    names[HOOKS] = f"{dataset}_{HOOKS}-{suffix}.json"
    return names


@dataclass
class EmaSnapshot:
    """G's moving average as it is saved: standard-shape weights, re-estimated BatchNorm statistics."""

    arg_params: dict[str, mx.nd.NDArray]
    aux_params: dict[str, mx.nd.NDArray]
    updates: int
    running: dict[str, mx.nd.NDArray]  # the average as it is kept between folds (module shapes), to resume exactly


def save_run_checkpoint(
    out: Path, dataset: str, gan: GAN, progress: Progress, epoch_end: bool, keep: int = 0,
    optimizer_states: bool = True, ema: EmaSnapshot | None = None, seconds: float = 0.0, data: dict | None = None,
    hooks: dict[str, dict] | None = None, evaluation: Evaluation | None = None,
) -> Path:
    """Write a complete checkpoint set, then ``state.json``; keep the newest ``keep`` sets (0: all),
    and always the best one.

    Returns the path of G's ``.params``. Raises :class:`DivergenceError` (and
    writes nothing) when a weight is not finite. ``optimizer_states`` False:
    no ``.states`` (dist_async keeps Adam on the servers, out of reach). ``data``:
    what the run trains on, for a new ``state.json``. ``hooks``: every hook's state,
    a file of the set. ``evaluation``: the quality check of this step, kept in
    ``state.json`` with the set (which becomes the run's best if its FID is the lowest yet).
    """
    written = _write_set(out, dataset, gan, progress, epoch_end, optimizer_states, ema, hooks or {})
    written.seconds = round(seconds, 1)
    previous = read_run_state(out) if has_state(out) else RunState([], data=data or {})
    sets = [s for s in previous.checkpoints if s.files != written.files] + [written]
    best = _best_after(previous.best, evaluation, written.files)
    beyond = sets[:-keep] if keep else []
    for old in beyond:
        old.kept_for_best = old.files == (best or {}).get("files")
    dropped = [s for s in sets if (s in beyond and not s.kept_for_best)
               or (s.kept_for_best and s.files != (best or {}).get("files"))]  # a best that a better one replaced
    evaluations = previous.evaluations + ([{**asdict(evaluation), "files": written.files}] if evaluation else [])
    state = RunState([s for s in sets if s not in dropped], best, evaluations, previous.data, previous.options)
    write_state(out, state)
    remove_sets(out, [s.files for s in dropped])
    return out / written.files["G"]


def _best_after(best: dict | None, evaluation: Evaluation | None, files: dict[str, str]) -> dict | None:
    """The run's best set once ``evaluation`` (of the set ``files``) is counted: it, if its FID is the lowest."""
    if evaluation is None or (best is not None and best["fid"] <= evaluation.fid):
        return best
    return {"epoch": evaluation.epoch, "iteration": evaluation.iteration, "fid": evaluation.fid, "files": files}


def _write_set(out: Path, dataset: str, gan: GAN, progress: Progress, epoch_end: bool, optimizer_states: bool,
               ema: EmaSnapshot | None, hooks: dict[str, dict]) -> CheckpointSet:
    """The files of one set, each under a temporary name renamed when whole; what ``state.json`` keeps of them."""
    names = set_names(dataset, progress, epoch_end, ema is not None)
    if not optimizer_states:  # Adam's moments live on the dist_async servers (the EMA's running state stays)
        names = {role: name for role, name in names.items() if role not in ("G.states", "D.states")}
    save_module_params(gan.modD, out / names["D"])
    save_module_params(gan.modG, out / names["G"])
    if ema is not None:
        save_params(keyed_params(ema.arg_params, ema.aux_params), out / names[EMA_ROLE])
        write_atomic(out / names[EMA_RUNNING], lambda tmp: mx.nd.save(tmp, ema.running))
    write_bytes_atomic(out / names[HOOKS], json.dumps(hooks, allow_nan=False).encode())
    if optimizer_states:
        for role, mod in (("G", gan.modG), ("D", gan.modD)):
            write_atomic(out / names[f"{role}.states"], mod.save_optimizer_states)
    return CheckpointSet(
        files=names, progress=progress, optimizer_counts={"G": optimizer_counts(gan.optG),
                                                          "D": optimizer_counts(gan.optD)},
        ema_updates=0 if ema is None else ema.updates,
        sizes={role: (out / name).stat().st_size for role, name in names.items()},
        sha256={role: sha256_of(out / name) for role, name in names.items()},
    )


def write_state(out: Path, state: RunState) -> None:
    """``state.json``, atomically; the copy it replaces (the first time, the same) becomes ``state.previous.json``,
    the reader's fallback."""
    current, content = Path(out) / STATE_FILE, json.dumps(state.to_json(), indent=1, allow_nan=False).encode()
    write_bytes_atomic(Path(out) / STATE_PREVIOUS, current.read_bytes() if current.is_file() else content)
    write_bytes_atomic(current, content)


def remove_sets(out: Path, sets: list[dict[str, str]]) -> None:
    """Delete the files of ``sets`` (call only once ``state.json`` no longer names them). Their names were checked
    when ``state.json`` was read: each is a checkpoint file's plain name, so only files in ``out`` go (a link
    itself, never what it leads to)."""
    for old in sets:
        for name in old.values():
            (Path(out) / name).unlink(missing_ok=True)


def has_state(out: Path) -> bool:
    """Whether a run folder has a ``state.json`` (or its previous copy) to read."""
    return (Path(out) / STATE_FILE).is_file() or (Path(out) / STATE_PREVIOUS).is_file()


def read_run_state(out: Path) -> RunState:
    """``state.json`` of a run folder (or, when it is missing or damaged, the copy it replaced), or a clear error."""
    problem = ""
    for name in (STATE_FILE, STATE_PREVIOUS):
        path = Path(out) / name
        try:
            state = _parse_state(read_json(path))
        except FileNotFoundError:
            problem = problem or f"{name} is missing"
            continue
        except (OSError, ValueError) as exc:  # StateError is a ValueError, and so are JSON's errors
            problem = problem or f"{path} is damaged ({exc})"
            continue
        state.source, state.source_problem = name, problem
        return state
    if problem.endswith("is missing"):
        raise MxganError(f"{out} has no {STATE_FILE}: not an mxgan run folder, or no checkpoint was written yet")
    raise MxganError(f"{problem}, and {STATE_PREVIOUS} cannot stand in for it")


def _parse_state(raw: object) -> RunState:
    """``state.json``'s content, every value checked (:mod:`mxgan.checkpoints.state_file`): a :class:`StateError`
    names the first field that is not what mxgan writes."""
    raw = check_dict("state.json", raw)
    if "checkpoints" in raw:  # this mxgan's (an empty list: the run began, no set written yet)
        sets = [_parse_set(f"checkpoints[{i}]", s) for i, s in enumerate(check_list("checkpoints",
                                                                                     raw["checkpoints"]))]
    else:  # an older mxgan's: the newest set in full, the older ones by name
        newest = _parse_set("state", {**raw, "ema_updates": raw.get("ema_updates", 0),
                                      "seconds": raw.get("seconds", 0.0)})
        sets = [CheckpointSet(check_files(f"history[{i}]", files), None)
                for i, files in enumerate(check_list("history", raw.get("history", [])))] + [newest]
    best = check_best("best", raw.get("best"))
    if best and best["files"] not in [s.files for s in sets]:
        sets.insert(0, CheckpointSet(best["files"], None))
    evaluations = [check_evaluation(f"evaluations[{i}]", e)
                   for i, e in enumerate(check_list("evaluations", raw.get("evaluations", [])))]
    return RunState(sets, best, evaluations, check_dict("data", raw.get("data", {})),
                    check_dict("options", raw.get("options", {})))


def _parse_set(field: str, raw: object) -> CheckpointSet:
    raw = check_dict(field, raw)
    files = check_files(f"{field}.files", raw.get("files"))
    progress = raw.get("progress")
    checkpoint = CheckpointSet(
        files=files, progress=None if progress is None else Progress(**check_progress(f"{field}.progress", progress)),
        optimizer_counts=check_optimizer_counts(f"{field}.optimizer_counts", raw.get("optimizer_counts", {})),
        ema_updates=check_count(f"{field}.ema_updates", raw.get("ema_updates", 0)),
        seconds=check_number(f"{field}.seconds", raw.get("seconds", 0.0)),
        kept_for_best=raw.get("kept_for_best", False) is True)
    check_checksums(field, raw.get("sizes", {}), raw.get("sha256", {}), files)
    checkpoint.sizes, checkpoint.sha256 = raw.get("sizes", {}), raw.get("sha256", {})
    if progress is not None and not {"G", "D"} <= set(checkpoint.optimizer_counts) and "G.states" in files:
        raise StateError(f"{field}.optimizer_counts must hold G's and D's update counts")
    return checkpoint


@dataclass
class ResumePoint:
    """The set a resumed run continues from, and what it had to pass over to get there."""

    checkpoint: CheckpointSet
    adam: bool  # whether Adam's moments and counts are restored (else they restart, said in ``notes``)
    notes: list[str]


def resume_point(out: Path, state: RunState) -> ResumePoint | None:
    """The newest set whose files all verify; failing that, the newest whose weights do (Adam then restarts);
    None when no set can be resumed. ``notes`` say which newer sets were passed over and why."""
    notes = [f"{state.source_problem}: read {STATE_PREVIOUS}"] if state.source_problem else []
    candidates = [s for s in reversed(state.checkpoints) if s.progress is not None]
    for checkpoint in candidates:
        problem = checkpoint.problem(out)
        if problem is None:
            return ResumePoint(checkpoint, True, notes)
        notes.append(f"skipped {checkpoint.describe()}: {problem}")
    for checkpoint in candidates:
        if checkpoint.problem(out, WEIGHT_ROLES) is None:
            return ResumePoint(checkpoint, False, [*notes, f"{checkpoint.describe()}: its weights are whole but "
                                                           "not its Adam state: Adam restarts from zero moments"])
    return None


def resume_point_notes(out: Path, state: RunState) -> list[str]:
    """Why no set of ``state`` can be resumed, newest first (one line each)."""
    return [f"{checkpoint.describe()}: {checkpoint.problem(out, WEIGHT_ROLES) or 'no position recorded'}"
            for checkpoint in reversed(state.checkpoints)] or [f"{STATE_FILE} lists no set"]


def is_set_file(name: str) -> bool:
    """Whether ``name`` is of the kind mxgan gives the files of a checkpoint set."""
    return any(file_name_problem(role, name) is None
               for role in (*WEIGHT_ROLES, "G.states", "D.states", EMA_RUNNING, HOOKS))


def usable_checkpoint(out: Path) -> bool:
    """Whether a run folder holds a set a resume could start from (its weights, at least, as written)."""
    if not has_state(out):
        return False
    try:
        return resume_point(out, read_run_state(out)) is not None
    except MxganError:
        return False


def resume_from(out: Path, state: RunState, point: ResumePoint) -> RunState:
    """The run's state cut back to ``point``: later sets, checks and lines of metrics.jsonl are dropped
    (their files deleted), so that the run continues from there as if they had never been written."""
    iteration = point.checkpoint.progress.iteration if point.checkpoint.progress else 0
    kept = state.checkpoints[:state.checkpoints.index(point.checkpoint) + 1]
    best = state.best if state.best and state.best["files"] in [s.files for s in kept] else None
    cut = RunState(kept, best, [e for e in state.evaluations if e["iteration"] <= iteration], state.data,
                   state.options)
    write_state(out, cut)
    remove_sets(out, [s.files for s in state.checkpoints if s not in kept])
    return cut


def restore_weights(out: Path, gan: GAN, checkpoint: CheckpointSet) -> None:
    """Load the weights of ``checkpoint`` into ``gan`` (before its optimizers); one :class:`MxganError` naming
    the file where they are not this run's networks' (a file replaced, its digest restamped)."""
    for role in ("G", "D"):
        path = out / checkpoint.files[role]
        try:
            arg_params, aux_params = load_module_params(path)
            _check_finite(out, path, {**arg_params, **aux_params})
            if role == "G":
                set_generator_params(gan.modG, arg_params, aux_params)
            else:
                gan.modD.set_params(arg_params, aux_params)
        except (mx.MXNetError, RuntimeError, ValueError, KeyError) as exc:
            why = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise MxganError(f"--resume {out}: {path.name} does not load into this run's {role} ({why}): nothing "
                             "in the folder was changed") from None


def _check_finite(out: Path, path: Path, params: dict) -> None:
    """A set whose weights hold NaN or Inf is damaged (a set mxgan writes never does: it refuses to save one)."""
    bad = [name for name, value in params.items() if not np.isfinite(value.asnumpy()).all()]
    if bad:
        raise MxganError(f"--resume {out}: {path.name} holds NaN or Inf weights ({', '.join(bad[:3])}), which "
                         "mxgan never saves: the set is damaged; nothing in the folder was changed")


def restore_optimizers(out: Path, gan: GAN, checkpoint: CheckpointSet, on_servers: bool = False) -> str:
    """Load Adam's moments and update counts of ``checkpoint`` (after :meth:`GAN.attach_optimizers`).

    Returns "" when restored, else why Adam restarts: a set saved without them (a dist_async run's), Adam
    now on dist_async servers, out of reach, or ``.states`` files that do not load.
    """
    if on_servers or "G.states" not in checkpoint.files:
        return "Adam restarts: this run's Adam state lived on its dist_async servers, which do not save it"
    files = {role: out / checkpoint.files[f"{role}.states"] for role in ROLES}
    for path in files.values():  # both load, or neither: G and D restart alike
        try:
            _OptimizerStates(io.BytesIO(inside(out, path.name).read_bytes())).load()
        except Exception as exc:  # a pickle cut short or garbled raises many kinds
            return f"Adam restarts from zero moments: {path.name} does not load ({type(exc).__name__}: {exc})"
    for role, mod, opt in (("G", gan.modG, gan.optG), ("D", gan.modD, gan.optD)):
        mod.load_optimizer_states(str(files[role]))
        restore_optimizer_counts(opt, checkpoint.optimizer_counts[role])
    return ""


class _OptimizerStates(pickle.Unpickler):
    """An unpickler for what ``Module.save_optimizer_states`` writes (NDArrays in tuples and dicts), and nothing
    else: MXNet's own loader unpickles the file as it is, and a pickle can run any code it names, so a
    ``.states`` file from a run folder someone else made must first prove to hold only optimizer state."""

    ALLOWED = {("mxnet.ndarray.ndarray", "NDArray"), ("builtins", "bytearray")}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which an optimizer state never holds")
        return super().find_class(module, name)


TEMPORARIES = ".*.tmp-*"  # what runtime.fileio.temporary names a file while it is written


def is_temporary(name: str) -> bool:
    return fnmatch.fnmatchcase(name, TEMPORARIES)


def remove_stale_temporaries(out: Path) -> None:
    """Delete temporary files a killed process left behind (never a completed file; called under the lock)."""
    for tmp in Path(out).glob(TEMPORARIES):
        if tmp.is_file() or tmp.is_symlink():
            tmp.unlink(missing_ok=True)

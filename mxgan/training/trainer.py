"""The trainer and the contract of its hooks (as detectron2 keeps ``HookBase`` beside ``TrainerBase``).

:class:`Trainer` runs the example's step (:meth:`Trainer.run_step`) on batch after batch, and after each
step, each epoch and at the end calls its hooks. A hook reads the run through a view: :class:`RunView`, the
narrow one a user's :class:`Hook` gets (a :class:`ReadOnlyRun`: copies, and no assignment), or
:class:`TrainerView`, the wider one mxgan's own hooks (:mod:`mxgan.training.hooks`) read. No hook assigns
the trainer's attributes: what they find out (a metrics line, a checkpoint, a quality check, a reason to
stop) they report to :class:`RunRecord`.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

import mxnet as mx
import numpy as np
from tqdm import tqdm

from mxgan.checkpoints.formats import Architecture, GeneratorCheckpoint
from mxgan.checkpoints.module_format import standard_params
from mxgan.checkpoints.run_folder import Progress, read_run_state
from mxgan.config import TrainConfig
from mxgan.constants import CLASSES, METRICS_FILE
from mxgan.data.batches import prefetch
from mxgan.data.sources import Batches
from mxgan.errors import DivergenceError, Interrupted, MxganError
from mxgan.model.latent import noise_batch
from mxgan.model.modules import GAN, one_hot
from mxgan.runtime.distributed import LOCAL, Cluster
from mxgan.runtime.signals import Stopped, StopRequests
from mxgan.runtime.streams import stream
from mxgan.training.log import JsonlLog, TensorboardLog
from mxgan.training.progress import Pace
from mxgan.training.step import Labels, StepInputs, StepOutputs, schedule, train_step

LARGE_INIT_SIGMA = 0.1  # five times the example's 0.02: weights that large are what a divergence is blamed on


class RunView(Protocol):
    """What a user's hook may read of the run (read only)."""

    @property
    def cfg(self) -> TrainConfig:
        """The run's options."""

    @property
    def progress(self) -> Progress:
        """Where the run is: epoch, batch within it, iteration (the step just done counted)."""

    @property
    def outputs(self) -> StepOutputs | None:
        """D's outputs, P(real), in the step just done: ``D_x``, ``D_G_z1``, ``D_G_z2`` (NDArrays, finished)."""

    @property
    def metrics(self) -> dict:
        """The newest line of metrics.jsonl: ``facc`` (D's accuracy), ``errD``, ``errG``, ``D_x``, ... ({} before
        the first)."""

    @property
    def checkpoint(self) -> Path | None:
        """G's file of the newest checkpoint set this process wrote."""

    @property
    def fid(self) -> float | None:
        """FID-MNIST of the newest in-training quality check (None before the first)."""

    @property
    def out(self) -> Path:
        """The run folder."""

    def elapsed(self) -> float:
        """The run's training time so far, in seconds (earlier processes of a resumed run included)."""


class TrainerView(RunView, Protocol):
    """What mxgan's own hooks read of the trainer, besides a user's view (read only)."""

    @property
    def gan(self) -> GAN: ...

    @property
    def batches(self) -> Batches: ...

    @property
    def contexts(self) -> list[mx.Context]: ...

    @property
    def log(self) -> JsonlLog: ...

    @property
    def board(self) -> TensorboardLog | None: ...

    @property
    def pace(self) -> Pace: ...

    @property
    def record(self) -> RunRecord: ...

    @property
    def total(self) -> float: ...

    @property
    def data(self) -> dict: ...

    @property
    def g_updated(self) -> bool: ...

    @property
    def stop_requested(self) -> bool: ...

    @property
    def epoch_ends(self) -> bool: ...

    @property
    def run_ends(self) -> bool: ...

    @property
    def evaluation_due(self) -> bool: ...

    def generator(self) -> GeneratorCheckpoint: ...

    def warn(self, message: str | None) -> None: ...

    def say(self, line: str) -> None: ...


class Hook:
    """Your own code in the training loop: subclass it, override what you need, and pass it to
    :func:`mxgan.train` (``hooks=[...]``). It runs after mxgan's own hooks, so the step's metrics line,
    checkpoint and quality check are there to read."""

    def after_step(self, run: RunView) -> None:
        """After each step (``run.progress`` already counts it)."""

    def after_epoch(self, run: RunView) -> None:
        """After the last step of an epoch (not after a run that stops mid-epoch)."""

    def on_stop(self, run: RunView) -> None:
        """When the loop ends, for whatever reason (an error or a stop included)."""


HOOK_METHODS = ("after_step", "after_epoch", "on_stop")  # what the trainer calls: the whole contract
# a method with one of these prefixes that the contract lacks is a misspelling the trainer would never call
# (on_: Keras's and Lightning's on_epoch_end, on_train_end, ...)
HOOK_PREFIXES = ("after_", "before_", "on_")


def check_hooks(hooks: Any) -> list[Hook]:
    """``hooks`` (what :func:`mxgan.train` was given) as a list, each a :class:`Hook` whose methods the trainer
    can call; else one :class:`MxganError` naming the hook's position, before any work."""
    if isinstance(hooks, (str, bytes, Hook)) or not isinstance(hooks, Sequence):
        raise MxganError(f"hooks must be a list of mxgan.Hook instances, got {_kind(hooks)}")
    for i, hook in enumerate(hooks):
        _check_hook(f"hooks[{i}]", hook)
    return list(hooks)


def _kind(value: Any) -> str:
    return f"the class {value.__name__}" if isinstance(value, type) else f"{value!r} ({type(value).__name__})"


def _check_hook(where: str, hook: Any) -> None:
    """One hook: a :class:`Hook` instance, its contract's methods taking the run, no misspelt method."""
    if isinstance(hook, type) and issubclass(hook, Hook):
        raise MxganError(f"{where} is the class {hook.__name__}, not a hook: pass an instance, {hook.__name__}()")
    if not isinstance(hook, Hook):
        raise MxganError(f"{where} is {_kind(hook)}, not an mxgan.Hook: subclass mxgan.Hook and override "
                         f"{', '.join(HOOK_METHODS)}")
    name = type(hook).__name__
    for method in HOOK_METHODS:
        try:
            inspect.signature(getattr(hook, method)).bind(None)
        except (TypeError, ValueError) as exc:
            raise MxganError(f"{where} ({name}): {method} must take the run, as def {method}(self, run)") from exc
    for attribute in dir(hook):
        if (attribute.startswith(HOOK_PREFIXES) and attribute not in HOOK_METHODS
                and callable(inspect.getattr_static(hook, attribute))):
            raise MxganError(f"{where} ({name}) has {attribute}, which the trainer never calls; a hook's methods "
                             f"are {', '.join(HOOK_METHODS)}")


class FrozenConfig(TrainConfig):
    """A copy of the run's options that refuses assignment: what a user's hook reads as ``run.cfg``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"run.cfg.{name} is read-only: a run's options are fixed when it starts (set them "
                                 "in TrainConfig before mxgan.train)")
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"run.cfg.{name} is read-only: a run's options are fixed when it starts")


class ReadOnlyRun:
    """The :class:`RunView` a user's :class:`Hook` is given: exactly its members, read from the trainer through
    copies (so a hook that changes what it read changes nothing of the run); any assignment raises."""

    __slots__ = ("_trainer", "_cfg")
    _trainer: Trainer
    _cfg: FrozenConfig

    def __init__(self, trainer: Trainer) -> None:
        object.__setattr__(self, "_trainer", trainer)
        object.__setattr__(self, "_cfg", FrozenConfig(**{f.name: getattr(trainer.cfg, f.name)
                                                         for f in fields(trainer.cfg)}))

    @property
    def cfg(self) -> TrainConfig:
        return self._cfg

    @property
    def progress(self) -> Progress:
        return replace(self._trainer.progress)

    @property
    def outputs(self) -> StepOutputs | None:
        outputs = self._trainer.outputs
        return None if outputs is None else replace(outputs)

    @property
    def metrics(self) -> dict:
        return dict(self._trainer.metrics)

    @property
    def checkpoint(self) -> Path | None:
        return self._trainer.checkpoint

    @property
    def fid(self) -> float | None:
        return self._trainer.fid

    @property
    def out(self) -> Path:
        return self._trainer.out

    def elapsed(self) -> float:
        return self._trainer.elapsed()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"run.{name} is read-only: a hook reads the run, it does not change it")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"run.{name} is read-only: a hook reads the run, it does not change it")


class TrainerHook:
    """Base of mxgan's own hooks, which read the wider :class:`TrainerView`."""

    def after_step(self, trainer: TrainerView) -> None:
        """After each step."""

    def after_epoch(self, trainer: TrainerView) -> None:
        """After the last step of an epoch."""

    def on_stop(self, trainer: TrainerView) -> None:
        """When the loop ends."""


class Called(Protocol):
    """Any hook the trainer calls: a user's :class:`Hook` or one of mxgan's :class:`TrainerHook`."""

    def after_step(self, trainer: Trainer) -> None: ...

    def after_epoch(self, trainer: Trainer) -> None: ...

    def on_stop(self, trainer: Trainer) -> None: ...


class _ThroughView:
    """A user's hook as the trainer calls it: given the read-only view, never the trainer."""

    def __init__(self, hook: Any, view: RunView) -> None:  # a Hook (check_hooks refuses anything else)
        self.hook, self.view = hook, view

    def after_step(self, trainer: Trainer) -> None:
        self.hook.after_step(self.view)

    def after_epoch(self, trainer: Trainer) -> None:
        self.hook.after_epoch(self.view)

    def on_stop(self, trainer: Trainer) -> None:
        self.hook.on_stop(self.view)


@dataclass
class RunRecord:
    """What the hooks report as the run goes, for each other, for the run's views and for its result."""

    metrics: dict = field(default_factory=dict)  # the newest metrics.jsonl line
    checkpoint: Path | None = None  # G's file of the newest set written
    fid: float | None = None  # the newest quality check's FID-MNIST (of the weights sample draws)
    stop: str = ""  # why the run stops early (--until-fid), once it should

    def logged(self, line: dict) -> None:
        self.metrics = line

    def wrote(self, checkpoint: Path) -> None:
        self.checkpoint = checkpoint

    def checked(self, fid: float) -> None:
        self.fid = fid

    def stop_after_this_step(self, reason: str) -> None:
        self.stop = reason


@dataclass
class TrainResult:
    """What a finished run leaves: steps done, last checkpoint, last logged metrics."""

    iterations: int
    checkpoint: Path | None
    metrics: dict = field(default_factory=dict)
    stopped: str = ""  # why the run stopped before its --epochs / --max-steps (--until-fid), if it did
    steps: int = 0  # steps this process trained


class Trainer:
    """One run between steps: the modules, the data, where the run is and what its hooks reported.

    :meth:`run_step` is the example's step on the next batch; :meth:`train` runs the epochs and calls the
    hooks after each step, after each epoch and at the end.
    """

    def __init__(self, cfg: TrainConfig, gan: GAN, batches: Batches, progress: Progress, contexts: list[mx.Context],
                 cluster: Cluster = LOCAL, seconds: float = 0.0, data: dict | None = None) -> None:
        self.cfg, self.gan, self.batches, self.progress = cfg, gan, batches, progress
        self.contexts, self.cluster = contexts, cluster
        self.out = Path(cfg.out)
        self.architecture = Architecture(nz=cfg.nz, ngf=cfg.ngf, nc=cfg.channels, image_size=cfg.image_size,
                                         fix_gamma=cfg.g_fix_gamma, conditional=cfg.conditional, noise=cfg.noise)
        self.total = min(cfg.epochs * batches.batches_per_epoch, cfg.max_steps or math.inf)
        # steps between quality checks (0: none); a fraction of an epoch rounds to whole steps
        self.eval_interval = max(1, round(cfg.eval_every * batches.batches_per_epoch)) if cfg.quality_checked else 0
        self.pace = Pace()  # the times of the steps finished in this process
        self.seconds_before = seconds  # the run's training time in earlier processes (--resume)
        self.data = data or {}  # what the run trains on, for state.json
        self.labels = Labels.create(cfg.batch_size, cfg.dtype, cfg.real_label)
        self.log = JsonlLog(self.out / METRICS_FILE if cluster.lead else None)
        self.board = TensorboardLog(cfg.tensorboard) if cfg.tensorboard and cluster.lead else None
        self.record = RunRecord()
        self.outputs: StepOutputs | None = None
        self.g_updated = False
        self.stop_requested = False  # Ctrl-C, SIGTERM, SIGHUP: checkpoint and stop after this step

    @property
    def metrics(self) -> dict:
        return self.record.metrics

    @property
    def checkpoint(self) -> Path | None:
        return self.record.checkpoint

    @property
    def fid(self) -> float | None:
        return self.record.fid

    @property
    def epoch_ends(self) -> bool:
        return self.progress.batch == self.batches.batches_per_epoch

    @property
    def run_ends(self) -> bool:
        return self.progress.iteration == self.total

    @property
    def evaluation_due(self) -> bool:
        """Whether the quality check runs after this step (with a checkpoint to pin it to)."""
        return bool(self.eval_interval) and self.progress.iteration % self.eval_interval == 0

    def elapsed(self) -> float:
        began = self.pace.started
        return self.seconds_before + (0.0 if began is None else time.perf_counter() - began)

    def generator(self) -> GeneratorCheckpoint:
        """The training G as a checkpoint object (standard shapes), for sampling and judging."""
        return GeneratorCheckpoint(self.out, "module", *standard_params(self.gan.modG), self.architecture)

    def warn(self, message: str | None) -> None:
        if message:
            self.log.write({"iteration": self.progress.iteration, "warning": message})
            tqdm.write(f"warning: {message}", file=sys.stderr)

    def say(self, line: str) -> None:
        """A line for the user, above the progress bar."""
        tqdm.write(line, file=sys.stdout)

    def _z(self, index: int = 0) -> mx.nd.NDArray:
        cfg = self.cfg
        z = noise_batch(cfg.seed, self.progress.iteration, cfg.batch_size, cfg.nz, cfg.noise, index, self.cluster.rank)
        return mx.nd.array(z, dtype=cfg.dtype)

    def _classes(self) -> dict:
        """Conditional models: the real batch's digits, and random digits for G to draw."""
        cfg, progress = self.cfg, self.progress
        if not cfg.conditional:
            return {}
        asked = stream(cfg.seed, "digits", progress.iteration, self.cluster.rank).integers(0, CLASSES, cfg.batch_size)
        labels = self.batches.labels_of(progress.epoch, progress.batch)  # type: ignore[attr-defined]  # IDX data
        return {"real_cond": one_hot(labels, cfg.dtype), "fake_cond": one_hot(asked, cfg.dtype)}

    def run_step(self, real: np.ndarray) -> None:
        """The phases :func:`schedule` gives this iteration (D, then G's), on ``real`` and fresh z; wait for it
        to finish, then count and time it."""
        began = time.perf_counter()
        cfg, gan = self.cfg, self.gan
        phases = schedule(self.progress.iteration, cfg.d_steps, cfg.g_steps, cfg.pretrain_d)
        self.g_updated = "G" in phases
        # one host array per input; each is copied to the device once, by its single forward
        inputs = StepInputs(mx.nd.array(real, dtype=cfg.dtype), [self._z(i) for i in range(max(1, len(phases) - 1))],
                            **self._classes())
        self.outputs = train_step(gan.modG, gan.modD, inputs, self.labels, phases, gan.modD_G)
        self.outputs.wait()  # Python queued the step; count it once it has run
        self.pace.add(began, time.perf_counter() - began)
        self.progress = Progress(self.progress.epoch, self.progress.batch + 1, self.progress.iteration + 1)

    def train(self, hooks: list[Called]) -> TrainResult:
        """Run the epochs from ``self.progress`` on, calling ``hooks``; see :func:`mxgan.training.loop.train` for what
        it raises. mxgan's own hooks (:class:`TrainerHook`) read the trainer; any other, a :class:`ReadOnlyRun`."""
        view = ReadOnlyRun(self)
        hooks = [hook if isinstance(hook, TrainerHook) else _ThroughView(hook, view) for hook in hooks]
        began = self.progress.iteration
        try:
            with StopRequests() as stop:
                while not self._finished():
                    self._run_epoch(hooks, stop)
                    if stop.signum is not None:
                        raise self._interrupted(Stopped(stop.signum))
        except DivergenceError as exc:
            raise DivergenceError(f"training diverged: {exc} (stopped at iteration {self.progress.iteration}); last "
                                  f"good checkpoint: {self.checkpoint or self._newest_set()}; {self._hint()}") from exc
        finally:
            for hook in hooks:
                hook.on_stop(self)
        return TrainResult(iterations=self.progress.iteration, checkpoint=self.checkpoint, metrics=self.metrics,
                           stopped=self.record.stop, steps=self.progress.iteration - began)

    def _finished(self) -> bool:
        return (self.progress.iteration >= self.total or self.progress.epoch >= self.cfg.epochs
                or bool(self.record.stop))

    def _run_epoch(self, hooks: list[Called], stop: StopRequests) -> None:
        """The rest of the current epoch: each step, then the hooks; at its end, the epoch's hooks."""
        for real in prefetch(self.batches.epoch(self.progress.epoch, self.progress.batch)):
            self.run_step(real)
            self.stop_requested = stop.requested
            for hook in hooks:
                hook.after_step(self)
            if self.epoch_ends or self.run_ends or self.stop_requested or self.record.stop:
                break
        if self.epoch_ends:
            for hook in hooks:
                hook.after_epoch(self)
            self.progress = Progress(self.progress.epoch + 1, 0, self.progress.iteration)

    def _interrupted(self, signal: Stopped) -> Interrupted:
        return Interrupted(f"{signal.name} at iteration {self.progress.iteration}; checkpoint saved "
                           f"({self.checkpoint}); continue with: mxgan train --resume {self.out}", signal.exit_code)

    def _newest_set(self) -> str:
        """G's file of the set the run resumed from, if any."""
        try:
            return str(self.out / read_run_state(self.out).files["G"])
        except MxganError:
            return "none written yet"

    def _hint(self) -> str:
        """What to change after a divergence."""
        cfg = self.cfg
        if cfg.init_sigma > LARGE_INIT_SIGMA:
            return f"--init-sigma {cfg.init_sigma:g} starts the weights far larger than the example's 0.02: lower it"
        return f"lower --lr-g/--lr-d (now {cfg.lr_g:g}, {cfg.lr_d:g}) or check the data"

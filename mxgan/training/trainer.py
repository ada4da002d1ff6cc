"""The trainer (as detectron2 keeps ``TrainerBase``): :class:`Trainer` runs the example's step
(:meth:`Trainer.run_step`) on batch after batch, and calls its hooks (:mod:`mxgan.training.contract`) before
training, after each step, after each epoch and at the end, each with a :class:`ReadOnlyRun`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np

from mxgan.checkpoints.formats import Architecture, GeneratorCheckpoint
from mxgan.checkpoints.module_format import standard_params
from mxgan.checkpoints.run_folder import Evaluation, Progress, read_run_state
from mxgan.config import TrainConfig
from mxgan.constants import CLASSES
from mxgan.data.batches import prefetch
from mxgan.data.sources import Batches
from mxgan.errors import DivergenceError, Interrupted, MxganError
from mxgan.model.latent import noise_batch
from mxgan.model.modules import GAN, one_hot
from mxgan.runtime.distributed import LOCAL, Cluster
from mxgan.runtime.precision import array_dtype
from mxgan.runtime.signals import Stopped, StopRequests
from mxgan.runtime.streams import stream
from mxgan.training.contract import Hook, RunRecord, RunView, hook_keys, hook_state, in_order, load_hook_state
from mxgan.training.progress import Pace
from mxgan.training.step import Labels, StepInputs, StepOutputs, schedule, train_step

LARGE_INIT_SIGMA = 0.1  # five times the example's 0.02: weights that large are what a divergence is blamed on


class FrozenConfig(TrainConfig):
    """A copy of the run's options that refuses assignment: what a hook reads as ``run.cfg``."""

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
    """The :class:`RunView` every hook is given: exactly its members, read from the trainer through copies (so
    a hook that changes what it read changes nothing of the run); any assignment raises."""

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
    def steps_per_epoch(self) -> int:
        return self._trainer.batches.batches_per_epoch

    @property
    def total_steps(self) -> int:
        return self._trainer.total

    @property
    def outputs(self) -> StepOutputs | None:
        outputs = self._trainer.outputs
        return None if outputs is None else replace(outputs)

    @property
    def g_updated(self) -> bool:
        return self._trainer.g_updated

    @property
    def epoch_ends(self) -> bool:
        return self._trainer.epoch_ends

    @property
    def run_ends(self) -> bool:
        return self._trainer.run_ends

    @property
    def metrics(self) -> dict:
        return dict(self._trainer.record.metrics)

    @property
    def evaluation(self) -> Evaluation | None:
        evaluation = self._trainer.record.evaluation
        return None if evaluation is None else replace(evaluation)

    @property
    def fid(self) -> float | None:
        evaluation = self._trainer.record.evaluation
        return None if evaluation is None else evaluation.fid

    @property
    def checkpoint(self) -> Path | None:
        return self._trainer.record.checkpoint

    @property
    def out(self) -> Path:
        return self._trainer.out

    def elapsed(self) -> float:
        return self._trainer.elapsed()

    def logged(self, line: dict) -> None:
        self._trainer.record.metrics = dict(line)

    def evaluated(self, evaluation: Evaluation) -> None:
        self._trainer.record.evaluation = replace(evaluation)

    def wrote(self, checkpoint: Path) -> None:
        self._trainer.record.checkpoint = Path(checkpoint)

    def stop(self, reason: str) -> None:
        self._trainer.record.stop = self._trainer.record.stop or str(reason)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"run.{name} is read-only: a hook reads the run, it does not change it")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"run.{name} is read-only: a hook reads the run, it does not change it")


@dataclass
class TrainResult:
    """What a finished run leaves: steps done, last checkpoint, last logged metrics."""

    iterations: int
    checkpoint: Path | None
    metrics: dict = field(default_factory=dict)
    stopped: str = ""  # why the run stopped before its --epochs / --max-steps (--until-fid), if it did
    steps: int = 0  # steps this process trained


def total_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """The iteration a run ends at: its ``--epochs``, or its ``--max-steps`` where that comes first."""
    every_step = cfg.epochs * steps_per_epoch
    return min(every_step, cfg.max_steps or every_step)


class Trainer:
    """One run between steps: the modules, the data, where the run is and what its hooks reported.

    :meth:`run_step` is the example's step on the next batch; :meth:`train` runs the epochs and calls the
    hooks after each step, after each epoch and at the end.
    """

    def __init__(self, cfg: TrainConfig, gan: GAN, architecture: Architecture, batches: Batches, progress: Progress,
                 contexts: list[mx.Context], cluster: Cluster = LOCAL, seconds: float = 0.0) -> None:
        self.cfg, self.gan, self.architecture, self.batches, self.progress = cfg, gan, architecture, batches, progress
        self.contexts, self.cluster = contexts, cluster
        self.out = Path(cfg.out)
        self.total = total_steps(cfg, batches.batches_per_epoch)
        self.pace = Pace()  # the times of the steps finished in this process
        self.seconds_before = seconds  # the run's training time in earlier processes (--resume)
        self.arrays = array_dtype(cfg.dtype)  # the inputs' dtype (bfloat16 computes on float32 arrays)
        self.labels = Labels.create(cfg.batch_size, self.arrays, cfg.real_label)
        self.record = RunRecord(metrics={})
        self.hooks: list[Hook] = []
        self.outputs: StepOutputs | None = None
        self.g_updated = False
        self.stop_signal: int | None = None  # Ctrl-C, SIGTERM, SIGHUP, SIGUSR1: checkpoint and stop after this step

    @property
    def epoch_ends(self) -> bool:
        return self.progress.batch == self.batches.batches_per_epoch

    @property
    def run_ends(self) -> bool:
        return self.progress.iteration >= self.total or self.stop_signal is not None or bool(self.record.stop)

    def elapsed(self) -> float:
        began = self.pace.started
        return self.seconds_before + (0.0 if began is None else time.perf_counter() - began)

    def generator(self) -> GeneratorCheckpoint:
        """The training G as a checkpoint object (standard shapes), for sampling and measuring."""
        return GeneratorCheckpoint(self.out, "module", *standard_params(self.gan.modG), self.architecture)

    def hook_states(self) -> dict[str, dict]:
        """Every hook's state, by its key (what a checkpoint set keeps)."""
        return {key: hook_state(key, hook) for key, hook in zip(hook_keys(self.hooks), self.hooks)}

    def _z(self, index: int = 0) -> mx.nd.NDArray:
        cfg = self.cfg
        z = noise_batch(cfg.seed, self.progress.iteration, cfg.batch_size, cfg.nz, cfg.noise, index, self.cluster.rank)
        return mx.nd.array(z, dtype=self.arrays)

    def _classes(self) -> dict:
        """Conditional models: the real batch's digits, and random digits for G to draw."""
        cfg, progress = self.cfg, self.progress
        if not cfg.conditional:
            return {}
        asked = stream(cfg.seed, "digits", progress.iteration, self.cluster.rank).integers(0, CLASSES, cfg.batch_size)
        labels = self.batches.labels_of(progress.epoch, progress.batch)  # type: ignore[attr-defined]  # IDX data
        return {"real_cond": one_hot(labels, self.arrays), "fake_cond": one_hot(asked, self.arrays)}

    def run_step(self, real: np.ndarray) -> None:
        """The phases :func:`schedule` gives this iteration (D, then G's), on ``real`` and fresh z; wait for it
        to finish, then count and time it."""
        began = time.perf_counter()
        cfg, gan = self.cfg, self.gan
        phases = schedule(self.progress.iteration, cfg.d_steps, cfg.g_steps, cfg.pretrain_d)
        self.g_updated = "G" in phases
        # one host array per input; each is copied to the device once, by its single forward
        inputs = StepInputs(mx.nd.array(real, dtype=self.arrays), [self._z(i) for i in range(max(1, len(phases) - 1))],
                            **self._classes())
        self.outputs = train_step(gan.modG, gan.modD, inputs, self.labels, phases, gan.modD_G)
        self.outputs.wait()  # Python queued the step; count it once it has run
        self.pace.add(began, time.perf_counter() - began)
        self.progress = Progress(self.progress.epoch, self.progress.batch + 1, self.progress.iteration + 1)

    def train(self, hooks: list[Hook], states: dict[str, dict] | None = None) -> TrainResult:
        """Run the epochs from ``self.progress`` on, calling ``hooks`` in their order (each given its saved
        state first, when the run resumes: ``states``); see :func:`mxgan.training.loop.train` for what it
        raises."""
        self.hooks = in_order(hooks)
        for key, hook in zip(hook_keys(self.hooks), self.hooks):
            if states and key in states:
                load_hook_state(key, hook, states[key])
        view, began = ReadOnlyRun(self), self.progress.iteration
        try:
            for hook in self.hooks:
                hook.before_train(view)
            with StopRequests() as stop:
                while not self._finished():
                    self._run_epoch(view, stop)
                    if self.stop_signal is not None:
                        raise self._interrupted(Stopped(self.stop_signal))
        except DivergenceError as exc:
            raise DivergenceError(f"training diverged: {exc} (stopped at iteration {self.progress.iteration}); last "
                                  f"good checkpoint: {self.record.checkpoint or self._newest_set()}; "
                                  f"{self._hint()}") from exc
        finally:
            for hook in self.hooks:
                hook.after_train(view)
        return TrainResult(iterations=self.progress.iteration, checkpoint=self.record.checkpoint,
                           metrics=self.record.metrics, stopped=self.record.stop, steps=self.progress.iteration - began)

    def _finished(self) -> bool:
        return self.progress.iteration >= self.total or self.progress.epoch >= self.cfg.epochs or bool(self.record.stop)

    def _run_epoch(self, view: RunView, stop: StopRequests) -> None:
        """The rest of the current epoch: each step, then the hooks; at its end, the epoch's hooks."""
        for real in prefetch(self.batches.epoch(self.progress.epoch, self.progress.batch)):
            self.run_step(real)
            self.stop_signal = stop.signum
            for hook in self.hooks:
                hook.after_step(view)
            if self.epoch_ends or self.run_ends:
                break
        if self.epoch_ends:
            for hook in self.hooks:
                hook.after_epoch(view)
            self.progress = Progress(self.progress.epoch + 1, 0, self.progress.iteration)

    def _interrupted(self, signal: Stopped) -> Interrupted:
        return Interrupted(f"{signal.name} at iteration {self.progress.iteration}; checkpoint saved "
                           f"({self.record.checkpoint}); continue with: mxgan train --resume {self.out}",
                           signal.exit_code)

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

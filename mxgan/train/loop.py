"""The training loop: a run prepared, then ``for`` each batch ``run_step`` and the hooks; noise, Ctrl-C, resume."""

from __future__ import annotations

import hashlib
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import mxnet as mx
import numpy as np
from tqdm import tqdm

from mxgan.checkpoints.formats import (
    Architecture,
    DiscriminatorCheckpoint,
    GeneratorCheckpoint,
    check_shapes,
    load_generator,
    starting_discriminator,
)
from mxgan.checkpoints.module_format import load_module_params, standard_params
from mxgan.checkpoints.run_folder import (
    EMA_ROLE,
    Progress,
    read_run_state,
    restore_optimizers,
    restore_weights,
)
from mxgan.config import TrainConfig
from mxgan.constants import CLASSES
from mxgan.data.batches import Shard, prefetch
from mxgan.data.idx import IDX_DATASETS
from mxgan.data.sources import Batches, data_identity, training_batches
from mxgan.errors import DivergenceError, Interrupted, MxganError
from mxgan.inference.sampling import latent
from mxgan.model.modules import GAN, build_gan, one_hot, set_generator_params
from mxgan.model.symbols import make_discriminator_sym, pad_single_filter_params
from mxgan.runtime.devices import parse_ctx
from mxgan.runtime.distributed import LOCAL, Cluster, Watchdog, connect
from mxgan.runtime.fileio import FolderLock
from mxgan.runtime.signals import Stopped, StopRequests
from mxgan.runtime.streams import stream
from mxgan.train.alarms import GENERIC_HINT, GRAY_AS_RGB_HINT, OverpoweringAlarm
from mxgan.train.ema import EmaView, GeneratorEMA
from mxgan.train.hooks import (
    Checkpointer,
    EmaUpdate,
    Heartbeat,
    Hook,
    MetricsLog,
    ProgressReport,
    QualityCheck,
    SampleGrids,
)
from mxgan.train.log import JsonlLog, TensorboardLog
from mxgan.train.progress import Pace, ProgressDisplay
from mxgan.train.resume import begin_run_folder, check_same_data, cut_back, find_resume_point
from mxgan.train.step import Labels, StepInputs, StepOutputs, schedule, train_step


def noise_batch(
    seed: int, iteration: int, batch_size: int, nz: int, kind: str = "normal", index: int = 0, rank: int = 0
) -> np.ndarray:
    """z for ``iteration`` (its ``index``-th batch, on worker ``rank``), a function of these alone (resumable)."""
    return latent(stream(seed, "noise", iteration, index, rank), batch_size, nz, kind)


def fixed_noise(seed: int, batch_size: int, nz: int, kind: str = "normal") -> np.ndarray:
    """The fixed z of the sample grids, distinct from every training z."""
    return latent(stream(seed, "grid"), batch_size, nz, kind)


LARGE_INIT_SIGMA = 0.1  # five times the example's 0.02: weights that large are what a divergence is blamed on


@dataclass
class TrainResult:
    """What a finished run leaves: steps done, last checkpoint, last logged metrics."""

    iterations: int
    checkpoint: Path | None
    metrics: dict = field(default_factory=dict)
    stopped: str = ""  # why the run stopped before its --epochs / --max-steps (--until-fid), if it did
    steps: int = 0  # steps this process trained


def architecture(cfg: TrainConfig) -> Architecture:
    """The generator a training configuration builds (standard shapes, for inference and checks)."""
    return Architecture(nz=cfg.nz, ngf=cfg.ngf, nc=cfg.channels, image_size=cfg.image_size,
                        fix_gamma=cfg.g_fix_gamma, conditional=cfg.conditional, noise=cfg.noise)


def _starting_points(cfg: TrainConfig) -> tuple[GeneratorCheckpoint | None, DiscriminatorCheckpoint | None]:
    """``--checkpoint``'s G and ``--discriminator``'s D (else the D file beside G, if any), checked against the
    flags before anything is written, so a mismatch leaves no folder behind. Records whether each learned gamma."""
    start = load_generator(cfg.checkpoint) if cfg.checkpoint else None
    if start is not None:
        cfg.g_fix_gamma = not start.learns_gamma
        mine = architecture(cfg)
        try:
            check_shapes(mine.symbol(), start.arg_params, start.aux_params, mine.inputs(), start.path)
        except MxganError as exc:
            raise MxganError(f"{exc}; the checkpoint was trained with {start.flags()}: pass those flags") from exc
    startD = starting_discriminator(cfg.discriminator, start.path if start else None)
    if startD is None:
        return start, None
    cfg.d_fix_gamma = not startD.learns_gamma
    inputs = {"data": (1, cfg.channels, cfg.image_size, cfg.image_size), "label": (1,)}
    try:
        check_shapes(make_discriminator_sym(cfg.ndf, image_size=cfg.image_size), startD.arg_params,
                     startD.aux_params, inputs, f"{startD.flag} {startD.path}")
    except MxganError as exc:
        raise MxganError(f"{exc}; that discriminator was trained with {startD.flags()}: pass those flags") from exc
    return start, startD


def _start_from(gan: GAN, start: GeneratorCheckpoint | None, startD: DiscriminatorCheckpoint | None) -> str:
    """Load the starting G and D into the modules; say where each came from."""
    fresh = "starts fresh"
    if start is not None:
        set_generator_params(gan.modG, start.arg_params, start.aux_params)
    if startD is not None:
        gan.modD.set_params(startD.arg_params, startD.aux_params)
    whence_g = f"G from {start.path} ({start.format})" if start else f"G {fresh}"
    whence_d = (f"D from {startD.path} ({startD.format})" if startD
                else f"D {fresh}" + (" (no D file beside it)" if start else ""))
    return f"{whence_g}, {whence_d}"


def _restore_ema(out: Path, gan: GAN, ema: GeneratorEMA) -> None:
    """Continue G's moving average from the set the run resumed from (a run that had none starts it from G)."""
    state = read_run_state(out)  # cut back to that set by now
    if EMA_ROLE in state.files:
        arg_params, _ = load_module_params(out / state.files[EMA_ROLE])
        ema.restore(pad_single_filter_params(gan.modG.symbol, arg_params), state.ema_updates)


class Trainer:
    """One run's state between steps: the modules, the data, where the run is, and what its hooks share.

    :meth:`run_step` is the example's step on the next batch; :meth:`train` runs the epochs and calls
    the hooks (:mod:`mxgan.train.hooks`) after each step, after each epoch and at the end.
    """

    def __init__(self, cfg: TrainConfig, gan: GAN, batches: Batches, progress: Progress, contexts: list[mx.Context],
                 cluster: Cluster = LOCAL, seconds: float = 0.0, data: dict | None = None) -> None:
        self.cfg, self.gan, self.batches, self.progress = cfg, gan, batches, progress
        self.contexts, self.cluster = contexts, cluster
        self.out = Path(cfg.out)
        self.architecture = architecture(cfg)
        self.total = min(cfg.epochs * batches.batches_per_epoch, cfg.max_steps or math.inf)
        # steps between quality checks (0: none); a fraction of an epoch rounds to whole steps
        self.eval_interval = max(1, round(cfg.eval_every * batches.batches_per_epoch)) if cfg.quality_checked else 0
        self.pace = Pace()  # the times of the steps finished in this process
        self.seconds_before = seconds  # the run's training time in earlier processes (--resume)
        self.data = data or {}  # what the run trains on, for state.json
        self.labels = Labels.create(cfg.batch_size, cfg.dtype, cfg.real_label)
        self.log = JsonlLog(self.out / "metrics.jsonl" if cluster.lead else None)
        self.board = TensorboardLog(cfg.tensorboard) if cfg.tensorboard and cluster.lead else None
        self.outputs: StepOutputs | None = None
        self.g_updated = False
        self.checkpoint: Path | None = None
        self.metrics: dict = {}
        self.stop_requested = False  # Ctrl-C, SIGTERM, SIGHUP: checkpoint and stop after this step
        self.goal_reached = ""  # --until-fid: why the run stops (its checkpoint is written)

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
        """The run's training time so far, in seconds: this process's since its first step, and earlier ones'."""
        began = self.pace.started
        return self.seconds_before + (0.0 if began is None else time.perf_counter() - began)

    def reach_goal(self, reason: str) -> None:
        """Stop after this step's hooks: the run has what it was asked for (``reason`` says what)."""
        self.goal_reached = reason

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

    def _divergence_hint(self) -> str:
        cfg = self.cfg
        if cfg.init_sigma > LARGE_INIT_SIGMA:
            return (f"--init-sigma {cfg.init_sigma:g} starts the weights far larger than the example's 0.02: "
                    "lower it")
        return f"lower --lr-g/--lr-d (now {cfg.lr_g:g}, {cfg.lr_d:g}) or check the data"

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

    def train(self, hooks: list[Hook]) -> TrainResult:
        """Run the epochs from ``self.progress`` on, calling ``hooks``; see :func:`train` for what it raises."""
        began = self.progress.iteration
        try:
            with StopRequests() as stop:
                while self.progress.iteration < self.total and self.progress.epoch < self.cfg.epochs:
                    for real in prefetch(self.batches.epoch(self.progress.epoch, self.progress.batch)):
                        self.run_step(real)
                        self.stop_requested = stop.requested
                        for hook in hooks:
                            hook.after_step(self)
                        if self.epoch_ends or self.run_ends or self.stop_requested or self.goal_reached:
                            break
                    if self.epoch_ends:
                        for hook in hooks:
                            hook.after_epoch(self)
                        self.progress = Progress(self.progress.epoch + 1, 0, self.progress.iteration)
                    if stop.signum is not None:
                        signal = Stopped(stop.signum)
                        raise Interrupted(f"{signal.name} at iteration {self.progress.iteration}; checkpoint saved "
                                          f"({self.checkpoint}); continue with: mxgan train --resume {self.out}",
                                          signal.exit_code)
                    if self.goal_reached:
                        break
        except DivergenceError as exc:
            raise DivergenceError(
                f"training diverged: {exc} (stopped at iteration {self.progress.iteration}); last good checkpoint: "
                f"{self.checkpoint or _last_checkpoint(self.out)}; {self._divergence_hint()}"
            ) from exc
        finally:
            for hook in hooks:
                hook.on_stop(self)
        return TrainResult(iterations=self.progress.iteration, checkpoint=self.checkpoint, metrics=self.metrics,
                           stopped=self.goal_reached, steps=self.progress.iteration - began)


def default_hooks(trainer: Trainer, ema_view: EmaView | None, watchdog: Watchdog | None) -> list[Hook]:
    """The hooks of a run, in the order they must run: the average and the heartbeat first, the NaN check of the
    metrics log before any checkpoint, and only the lead worker writes."""
    cfg, cluster = trainer.cfg, trainer.cluster
    hooks: list[Hook] = [EmaUpdate(ema_view)] if ema_view else []
    if watchdog:
        hooks.append(Heartbeat(watchdog))
    gray_as_rgb = cfg.channels == 3 and cfg.dataset in IDX_DATASETS
    hooks.append(MetricsLog(OverpoweringAlarm(GRAY_AS_RGB_HINT if gray_as_rgb else GENERIC_HINT)))
    display = ProgressDisplay(trainer.progress.iteration, int(trainer.total), cfg.batch_size, cfg.progress,
                              cfg.status_every, show=cluster.lead)
    if not cluster.lead:
        return [*hooks, ProgressReport(display, None)]
    hooks += [Checkpointer(cfg.keep, not cluster.updates_on_servers, ema_view),
              SampleGrids(fixed_noise(cfg.seed, cfg.batch_size, cfg.nz, cfg.noise), ema_view)]
    quality = QualityCheck(cfg, ema_view) if cfg.quality_checked else None
    return [*hooks, *([quality] if quality else []), ProgressReport(display, quality)]


class _Start(NamedTuple):
    """What a run starts from: its modules and data, and where it is (a new run: nowhere yet)."""

    gan: GAN
    batches: Batches
    progress: Progress
    cluster: Cluster
    data: dict  # what it trains on (mxgan.data.sources.data_identity), kept in state.json
    seconds: float = 0.0  # training time already spent (a resumed run)


def _build_gan(cfg: TrainConfig) -> GAN:
    mx.random.seed(cfg.seed)
    return build_gan(parse_ctx(cfg.ctx), cfg.batch_size, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size,
                     cfg.lr_g, cfg.beta1, cfg.wd, cfg.init_sigma, fix_gamma_G=cfg.g_fix_gamma,
                     dtype=cfg.dtype, cudnn_tune=cfg.cudnn_tune or None, conditional=cfg.conditional,
                     lr_d=cfg.lr_d, beta2=cfg.beta2, fix_gamma_D=cfg.d_fix_gamma)


def _prepare(cfg: TrainConfig, announce: Callable[[str], object], lock: FolderLock) -> _Start:
    """The modules, data and position of a run, its folder started (or cut back to its newest complete set)
    and locked. Nothing is written before every check passed; the lead worker alone writes."""
    out = Path(cfg.out)
    cluster = connect(cfg.kvstore)
    if cluster.distributed:
        announce(f"kvstore {cfg.kvstore}: this worker has rank {cluster.rank} of {cluster.workers}")
    batches, described = training_batches(cfg, Shard(cluster.rank, cluster.workers))
    announce(described)
    data = data_identity(cfg, batches)
    state, point = find_resume_point(out) if cfg.resume else (None, None)
    if cfg.resume and point is None:
        announce(f"{out} holds no complete checkpoint set yet: the run starts from its beginning, with its options")
    if state is not None and point is not None:
        check_same_data(cfg, state.data, data, _position(point.checkpoint.progress))
    start, startD = _starting_points(cfg) if point is None else (None, None)
    if cluster.lead:
        lock.acquire("--resume" if cfg.resume else "--out")  # one writer per run folder
        if point is None:
            begin_run_folder(out, cfg)
        else:
            assert state is not None
            state = cut_back(out, cfg, state, point, data)
    gan = _build_gan(cfg)
    if point is None:
        if start or startD:
            announce(_start_from(gan, start, startD))
        gan.attach_optimizers(cluster.kvstore, cluster.workers)
        return _Start(gan, batches, Progress(), cluster, data)
    checkpoint = point.checkpoint
    restore_weights(out, gan, checkpoint)
    gan.attach_optimizers(cluster.kvstore, cluster.workers)
    restarted = restore_optimizers(out, gan, checkpoint, cluster.updates_on_servers) if point.adam else ""
    for note in [*point.notes, restarted]:
        if note:
            announce(f"{out}: {note}")
    progress = checkpoint.progress
    assert progress is not None
    if progress.batch >= batches.batches_per_epoch:  # the checkpoint closed its epoch
        progress = Progress(progress.epoch + 1, 0, progress.iteration)
    announce(f"resuming {out} at iteration {progress.iteration} ({_position(progress)})")
    return _Start(gan, batches, progress, cluster, data, checkpoint.seconds)


def _position(progress: Progress | None) -> str:
    return "the start" if progress is None else f"epoch {progress.epoch}, batch {progress.batch}"


def train(cfg: TrainConfig, announce: Callable[[str], object] = print) -> TrainResult:
    """Train (or, with ``cfg.resume``, continue) a DCGAN; write checkpoints, samples, metrics to ``cfg.out``.

    Raises
    ------
    MxganError
        Bad devices, data or checkpoint.
    DivergenceError
        A loss or parameter became NaN/Inf; no non-finite checkpoint is written.
    Interrupted
        Ctrl-C: a checkpoint was saved; the message says how to resume.
    """
    lock = FolderLock(Path(cfg.out))
    try:
        return _train(cfg, announce, lock)
    finally:
        lock.release()


def _train(cfg: TrainConfig, announce: Callable[[str], object], lock: FolderLock) -> TrainResult:
    gan, batches, progress, cluster, data, seconds = _prepare(cfg, announce, lock)
    contexts = parse_ctx(cfg.ctx)
    trainer = Trainer(cfg, gan, batches, progress, contexts, cluster, seconds, data)
    ema_view = None
    if cfg.ema_decay:
        ema = GeneratorEMA(gan.modG, cfg.ema_decay)
        if progress.iteration:
            _restore_ema(trainer.out, gan, ema)
        ema_view = EmaView(ema, gan.modG, trainer.architecture, trainer.out, cfg.seed, contexts)
    if not cluster.distributed:
        return trainer.train(default_hooks(trainer, ema_view, None))
    with Watchdog(cfg.dist_timeout, f"worker rank {cluster.rank}") as watchdog:
        result = trainer.train(default_hooks(trainer, ema_view, watchdog))
    announce(f"worker rank {cluster.rank}: {result.iterations} steps; weights sha256 {weights_digest(gan)}")
    return result

def weights_digest(gan: GAN) -> str:
    """A fingerprint of G's and D's weights, which every dist_sync worker should share (BatchNorm's
    moving statistics are left out: each worker gathers its own, and rank 0's are saved)."""
    digest = hashlib.sha256()
    for module in (gan.modG, gan.modD):
        arg_params, _ = standard_params(module)
        for name in sorted(arg_params):
            digest.update(name.encode() + arg_params[name].asnumpy().tobytes())
    return digest.hexdigest()[:16]


def _last_checkpoint(out: Path) -> str:
    try:
        return str(out / read_run_state(out).files["G"])
    except MxganError:
        return "none written yet"



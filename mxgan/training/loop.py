"""Training a DCGAN: :func:`train` checks the options, prepares the run (:mod:`mxgan.training.start`), and runs
the :class:`mxgan.training.trainer.Trainer` with mxgan's hooks and yours."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from mxgan.checkpoints.module_format import standard_params
from mxgan.config import TrainConfig
from mxgan.constants import METRICS_FILE, TRAIN_LOG
from mxgan.data.folder import FolderBatches
from mxgan.data.idx import IDX_DATASETS
from mxgan.errors import MxganError
from mxgan.model.latent import fixed_noise, latent
from mxgan.model.modules import GAN
from mxgan.quality.evaluator import TRAINING_REFERENCE_IMAGES, EvaluatorChoice, make_evaluator
from mxgan.quality.inception_weights import inception_weights_found
from mxgan.runtime.devices import parse_ctx
from mxgan.runtime.distributed import Watchdog
from mxgan.runtime.fileio import FolderLock
from mxgan.runtime.messages import console_messages
from mxgan.runtime.streams import stream
from mxgan.training.alarms import GENERIC_HINT, GRAY_AS_RGB_HINT, OverpoweringAlarm
from mxgan.training.checks import check_train_config, resumed_config
from mxgan.training.contract import Hook, check_hooks
from mxgan.training.ema import EmaView, GeneratorEMA
from mxgan.training.hooks import (
    Checkpointer,
    CheckpointSettings,
    EmaUpdate,
    Generators,
    Heartbeat,
    MetricsLog,
    OverpoweringWarning,
    ProgressReport,
    QualityCheck,
    QualitySettings,
    RunLog,
    SampleGrids,
    TensorboardScalars,
    UnreadablePictures,
    steps_between_checks,
)
from mxgan.training.log import JsonlLog, TensorboardLog, output_outlives_reader
from mxgan.training.progress import ProgressDisplay
from mxgan.training.start import prepare, restore_ema, restore_hook_states
from mxgan.training.trainer import Trainer, TrainResult

log = logging.getLogger(__name__)


def default_hooks(trainer: Trainer, ema_view: EmaView | None, watchdog: Watchdog | None, data: dict) -> list[Hook]:
    """mxgan's hooks of a run, each given its settings now; their :attr:`~Hook.order` says when each runs (the
    metrics line with its NaN check before any checkpoint, the checkpoint after every other hook). Only the
    lead worker writes."""
    cfg, lead, out = trainer.cfg, trainer.cluster.lead, trainer.out
    runlog = RunLog(JsonlLog(out / METRICS_FILE if lead else None),
                    TensorboardLog(cfg.tensorboard) if cfg.tensorboard and lead else None)
    generators = Generators(trainer.generator, ema_view)
    gray_as_rgb = cfg.channels == 3 and cfg.dataset in IDX_DATASETS
    hooks: list[Hook] = [EmaUpdate(ema_view.ema)] if ema_view else []
    hooks += [Heartbeat(watchdog)] if watchdog else []
    hooks += [MetricsLog(runlog.jsonl, cfg.log_every, cfg.batch_size),
              OverpoweringWarning(OverpoweringAlarm(GRAY_AS_RGB_HINT if gray_as_rgb else GENERIC_HINT), runlog)]
    hooks += [TensorboardScalars(runlog.board)] if runlog.board else []
    if isinstance(trainer.batches, FolderBatches):
        hooks += [UnreadablePictures(trainer.batches.unreadable, runlog)]
    if lead:
        z = fixed_noise(cfg.seed, cfg.batch_size, cfg.nz, cfg.noise)
        hooks += [SampleGrids(z, cfg.sample_every, generators, cfg.conditional, runlog, trainer.contexts)]
        hooks += _quality_check(trainer, generators, runlog)
        hooks += [Checkpointer(CheckpointSettings(out, cfg.dataset, cfg.checkpoint_every, cfg.keep,
                                                  not trainer.cluster.updates_on_servers, data),
                               trainer.gan, ema_view, trainer.hook_states)]
    display = ProgressDisplay(trainer.progress.iteration, trainer.total, cfg.batch_size, cfg.progress,
                              cfg.status_every, show=lead)
    return [*hooks, ProgressReport(display, trainer.pace, cfg.batch_size)]


def _quality_check(trainer: Trainer, generators: Generators, runlog: RunLog) -> list[Hook]:
    """The quality check of ``--eval-every`` (none at 0, or without the Inception weights a non-MNIST run's check
    needs: said once; ``--until-fid`` was refused before any work then)."""
    cfg = trainer.cfg
    if not cfg.eval_every:
        return []
    choice = EvaluatorChoice(cfg.dataset, cfg.image_size, cfg.channels)
    if choice.inception and not inception_weights_found():
        log.warning("no quality checks: no FID Inception weights; `mxgan download inception` fetches them "
                    "(--eval-every 0 says you want none)")
        return []
    settings = QualitySettings(every=steps_between_checks(cfg.eval_every, trainer.batches.batches_per_epoch),
                               until_fid=cfg.until_fid,
                               z=latent(stream(cfg.seed, "quality"), cfg.eval_samples, cfg.nz, cfg.noise))
    evaluator = make_evaluator(choice, cfg, trainer.out, contexts=trainer.contexts,
                               reference_images=TRAINING_REFERENCE_IMAGES)
    return [QualityCheck(settings, evaluator, generators, runlog, trainer.pace, trainer.contexts)]


def train(cfg: TrainConfig, hooks: Sequence[Hook] = (), announce: Callable[[str], object] | None = None) -> TrainResult:
    """Train (or, with ``cfg.resume``, continue) a DCGAN; write checkpoints, samples and metrics to ``cfg.out``.

    Parameters
    ----------
    cfg : TrainConfig
        The run's options (``TrainConfig(dataset="mnist")`` is the ``mxgan train`` command's run).
    hooks : sequence of Hook
        Your own hooks (:class:`mxgan.Hook`), called with mxgan's before training, after each step, after each
        epoch and at the end, in the order of their ``order``; their state is kept with each checkpoint.
    announce : callable
        Where the run's start lines go (what data, where it resumes, ...); by default the ``mxgan`` logger,
        as every message of the run (printed, unless you configured logging yourself).

    Returns
    -------
    TrainResult
        The iterations done, the newest checkpoint, the newest metrics line, and why it stopped early, if it did.

    Raises
    ------
    MxganError
        Bad options, devices, data or checkpoint: one line naming the flag, before anything is written.
    DivergenceError
        A loss or parameter became NaN/Inf; no non-finite checkpoint is written.
    Interrupted
        Ctrl-C, SIGTERM, SIGHUP or SIGUSR1: a checkpoint was saved; the message says how to resume.
    """
    if not isinstance(cfg, TrainConfig):
        raise MxganError(f"train takes a TrainConfig (mxgan.TrainConfig(dataset=...)), got {type(cfg).__name__}")
    if announce is not None and not callable(announce):
        raise MxganError(f"announce must be a function of one str (or None: the mxgan logger), got "
                         f"{type(announce).__name__}")
    checked = check_hooks(hooks)  # before any work: a hook the trainer could not call is one line naming its place
    return _train_in_folder(check_train_config(resumed_config(cfg) if cfg.resume else cfg), checked, announce)


def train_checked(cfg: TrainConfig, hooks: Sequence[Hook] = (), announce: Callable[[str], object] | None = None,
                  ) -> TrainResult:
    """:func:`train` with ``cfg`` as it stands: already checked, and on a resume already the run's own options
    with their changes (what ``mxgan train --resume RUN`` made of its flags, where ``--until-fid 0`` is a change,
    not "the default")."""
    return _train_in_folder(cfg, check_hooks(hooks), announce)


def _train_in_folder(cfg: TrainConfig, hooks: list[Hook], announce: Callable[[str], object] | None) -> TrainResult:
    """The run, with its folder locked and its standard output outliving its reader."""
    with FolderLock(Path(cfg.out)) as lock, output_outlives_reader(Path(cfg.out) / TRAIN_LOG), console_messages():
        return _train(cfg, hooks, announce or log.info, lock)


def _train(cfg: TrainConfig, hooks: list[Hook], announce: Callable[[str], object], lock: FolderLock) -> TrainResult:
    contexts = parse_ctx(cfg.ctx)
    cfg, gan, architecture, batches, progress, cluster, data, seconds = prepare(cfg, contexts, announce, lock)
    trainer = Trainer(cfg, gan, architecture, batches, progress, contexts, cluster, seconds)
    ema_view = None
    if cfg.ema_decay:
        ema = GeneratorEMA(gan.modG, cfg.ema_decay)
        if progress.iteration:
            restore_ema(trainer.out, gan, ema, announce)
        ema_view = EmaView(ema, gan.modG, trainer.architecture, trainer.out, cfg.seed, contexts)
    states = restore_hook_states(trainer.out, announce) if progress.iteration else {}
    if not cluster.distributed:
        return trainer.train([*default_hooks(trainer, ema_view, None, data), *hooks], states)
    with Watchdog(cfg.dist_timeout, f"worker rank {cluster.rank}") as watchdog:
        result = trainer.train([*default_hooks(trainer, ema_view, watchdog, data), *hooks], states)
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

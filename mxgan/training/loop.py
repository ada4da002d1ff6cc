"""Training a DCGAN: :func:`train` checks the options, prepares the run (:mod:`mxgan.training.start`), and runs
the :class:`mxgan.training.trainer.Trainer` with mxgan's hooks and yours."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

from mxgan.checkpoints.module_format import standard_params
from mxgan.config import TrainConfig
from mxgan.constants import TRAIN_LOG
from mxgan.data.idx import IDX_DATASETS
from mxgan.model.latent import fixed_noise
from mxgan.model.modules import GAN
from mxgan.runtime.devices import parse_ctx
from mxgan.runtime.distributed import Watchdog
from mxgan.runtime.fileio import FolderLock
from mxgan.training.alarms import GENERIC_HINT, GRAY_AS_RGB_HINT, OverpoweringAlarm
from mxgan.training.checks import check_train_config, resumed_config
from mxgan.training.ema import EmaView, GeneratorEMA
from mxgan.training.hooks import (
    Checkpointer,
    EmaUpdate,
    Heartbeat,
    MetricsLog,
    OverpoweringWarning,
    ProgressReport,
    QualityCheck,
    SampleGrids,
    TensorboardScalars,
    UnreadablePictures,
)
from mxgan.training.log import output_outlives_reader
from mxgan.training.progress import ProgressDisplay
from mxgan.training.start import prepare, restore_ema
from mxgan.training.trainer import Called, Hook, Trainer, TrainerHook, TrainResult, check_hooks


def default_hooks(trainer: Trainer, ema_view: EmaView | None, watchdog: Watchdog | None) -> list[TrainerHook]:
    """mxgan's hooks of a run, in the order they must run: the average and the heartbeat first, the metrics line
    (with its NaN check) before any checkpoint, a checkpoint before the quality check that names it, and the
    progress display last; only the lead worker writes."""
    cfg, lead = trainer.cfg, trainer.cluster.lead
    gray_as_rgb = cfg.channels == 3 and cfg.dataset in IDX_DATASETS
    hooks: list[TrainerHook] = [EmaUpdate(ema_view)] if ema_view else []
    hooks += [Heartbeat(watchdog)] if watchdog else []
    hooks += [MetricsLog(), TensorboardScalars(),
              OverpoweringWarning(OverpoweringAlarm(GRAY_AS_RGB_HINT if gray_as_rgb else GENERIC_HINT))]
    hooks += [UnreadablePictures()] if cfg.dataset == "folder" else []
    if lead:
        hooks += [Checkpointer(cfg.keep, not trainer.cluster.updates_on_servers, ema_view),
                  SampleGrids(fixed_noise(cfg.seed, cfg.batch_size, cfg.nz, cfg.noise), ema_view)]
        hooks += [QualityCheck(cfg, ema_view)] if cfg.quality_checked else []
    display = ProgressDisplay(trainer.progress.iteration, int(trainer.total), cfg.batch_size, cfg.progress,
                              cfg.status_every, show=lead)
    return [*hooks, ProgressReport(display)]


def train(cfg: TrainConfig, hooks: Sequence[Hook] = (), announce: Callable[[str], object] = print) -> TrainResult:
    """Train (or, with ``cfg.resume``, continue) a DCGAN; write checkpoints, samples and metrics to ``cfg.out``.

    Parameters
    ----------
    cfg : TrainConfig
        The run's options (``TrainConfig(dataset="mnist")`` is the ``mxgan train`` command's run).
    hooks : sequence of Hook
        Your own hooks, called after mxgan's after each step, after each epoch and at the end.
    announce : callable
        Where the run's lines go (what data, where it resumes, ...); ``print`` by default.

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
        Ctrl-C, SIGTERM or SIGHUP: a checkpoint was saved; the message says how to resume.
    """
    hooks = check_hooks(hooks)  # before any work: a hook the trainer could not call is one line naming its place
    cfg = check_train_config(resumed_config(cfg) if cfg.resume else cfg)
    lock = FolderLock(Path(cfg.out))
    try:
        with output_outlives_reader(Path(cfg.out) / TRAIN_LOG):
            return _train(cfg, list(hooks), announce, lock)
    finally:
        lock.release()


def _train(cfg: TrainConfig, hooks: list[Hook], announce: Callable[[str], object], lock: FolderLock) -> TrainResult:
    contexts = parse_ctx(cfg.ctx)
    gan, batches, progress, cluster, data, seconds = prepare(cfg, contexts, announce, lock)
    trainer = Trainer(cfg, gan, batches, progress, contexts, cluster, seconds, data)
    ema_view = None
    if cfg.ema_decay:
        ema = GeneratorEMA(gan.modG, cfg.ema_decay)
        if progress.iteration:
            restore_ema(trainer.out, gan, ema)
        ema_view = EmaView(ema, gan.modG, trainer.architecture, trainer.out, cfg.seed, contexts)
    if not cluster.distributed:
        return trainer.train(_called(default_hooks(trainer, ema_view, None), hooks))
    with Watchdog(cfg.dist_timeout, f"worker rank {cluster.rank}") as watchdog:
        result = trainer.train(_called(default_hooks(trainer, ema_view, watchdog), hooks))
    announce(f"worker rank {cluster.rank}: {result.iterations} steps; weights sha256 {weights_digest(gan)}")
    return result


def _called(own: list[TrainerHook], yours: list[Hook]) -> list[Called]:
    """mxgan's hooks, then the user's: each of them a hook the trainer calls."""
    return [*own, *yours]


def weights_digest(gan: GAN) -> str:
    """A fingerprint of G's and D's weights, which every dist_sync worker should share (BatchNorm's
    moving statistics are left out: each worker gathers its own, and rank 0's are saved)."""
    digest = hashlib.sha256()
    for module in (gan.modG, gan.modD):
        arg_params, _ = standard_params(module)
        for name in sorted(arg_params):
            digest.update(name.encode() + arg_params[name].asnumpy().tobytes())
    return digest.hexdigest()[:16]

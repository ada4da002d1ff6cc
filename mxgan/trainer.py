"""The training loop: data, noise, steps, logging, samples, checkpoints, divergence guard."""

from __future__ import annotations

import hashlib
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import mxnet as mx
import numpy as np
from tqdm import tqdm

from mxgan.alarms import GENERIC_HINT, GRAY_AS_RGB_HINT, OverpoweringAlarm, collapse_warning
from mxgan.checkpoint import load_module_params, settle_aux_states, standard_params
from mxgan.classifier import load_classifier
from mxgan.contexts import parse_ctx
from mxgan.data import Shard, prefetch
from mxgan.datasets import IDX_DATASETS
from mxgan.distributed import LOCAL, Cluster, Watchdog, connect
from mxgan.ema import GeneratorEMA
from mxgan.errors import DivergenceError, Interrupted, MxganError
from mxgan.fileio import write_bytes_atomic
from mxgan.formats import (
    Architecture,
    DiscriminatorCheckpoint,
    GeneratorCheckpoint,
    check_shapes,
    load_discriminator,
    load_generator,
    sibling_discriminator,
)
from mxgan.metrics import JsonlLog, TensorboardLog, step_metrics
from mxgan.model import GAN, build_gan, set_generator_params
from mxgan.options import TrainConfig
from mxgan.quality import EVAL_SIZES, QualityReport, judge, mnist_reference
from mxgan.recalibrate import recalibrate_batchnorm
from mxgan.runstate import (
    EMA_ROLE,
    EmaSnapshot,
    Progress,
    read_run_state,
    record_evaluation,
    remove_stale_temporaries,
    restore_optimizers,
    restore_weights,
    save_run_checkpoint,
)
from mxgan.sampling import generate_all, latent
from mxgan.sources import Batches, training_batches
from mxgan.step import CLASSES, Labels, StepOutputs, one_hot, train_step
from mxgan.symbols import make_discriminator_sym, pad_single_filter_params, unpad_single_filter_params
from mxgan.visual import make_grid, save_png

GRID_SAMPLES = 64
RECALIBRATION_BATCHES = 16  # training-mode batches that re-estimate the moving average's BatchNorm statistics


def noise_batch(
    seed: int, iteration: int, batch_size: int, nz: int, kind: str = "normal", index: int = 0, rank: int = 0
) -> np.ndarray:
    """z for ``iteration`` (its ``index``-th batch, on worker ``rank``), a function of these alone (resumable)."""
    key = [seed, 1, iteration] + ([index] if index or rank else []) + ([rank] if rank else [])
    return latent(np.random.default_rng(key), batch_size, nz, kind)


def fixed_noise(seed: int, batch_size: int, nz: int, kind: str = "normal") -> np.ndarray:
    """The fixed z of the sample grids, distinct from every training z."""
    return latent(np.random.default_rng([seed, 2]), batch_size, nz, kind)


@dataclass
class TrainResult:
    """What a finished run leaves: steps done, last checkpoint, last logged metrics."""

    iterations: int
    checkpoint: Path | None
    metrics: dict = field(default_factory=dict)


class _Window:
    """D's outputs since the last log line; checked for NaN/Inf when logged."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, StepOutputs]] = []
        self.start = time.perf_counter()

    def metrics(self, batch_size: int) -> dict:
        """Metrics of the window; raises :class:`DivergenceError` at the first non-finite step."""
        empty = np.zeros((0, 1), np.float32)  # D_G_z2 of a step in which G rested
        arrays = [(it, [empty if o is None else o.asnumpy() for o in (s.D_x, s.D_G_z1, s.D_G_z2)])
                  for it, s in self.steps]
        for iteration, outputs in arrays:
            if not all(np.isfinite(o).all() for o in outputs):
                raise DivergenceError(f"D's output became NaN/Inf at iteration {iteration}")
        D_x, D_G_z1, D_G_z2 = (np.concatenate([a[i] for _, a in arrays]) for i in range(3))
        elapsed = time.perf_counter() - self.start
        return {**step_metrics(D_x, D_G_z1, D_G_z2), "images_per_sec": len(arrays) * batch_size / elapsed}


class _CtrlC:
    """The first Ctrl-C asks the loop to checkpoint and stop after the current step; a second one aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def sample_fixed(modG: mx.mod.Module, inputs: list[mx.nd.NDArray]) -> np.ndarray:
    """G's images for the fixed noise (and digits), BatchNorm on moving statistics (as ``mxgan sample``)."""
    settle_aux_states()
    modG.forward(mx.io.DataBatch(inputs), is_train=False)
    return modG.get_outputs()[0].asnumpy()[:GRID_SAMPLES]


class _QualityCheck:
    """FID-MNIST and the digit histogram of the current G, on a fixed batch of z (MNIST runs only)."""

    def __init__(self, cfg: TrainConfig, contexts: list[mx.Context]):
        self.cfg, self.contexts = cfg, contexts
        self.z = latent(np.random.default_rng([cfg.seed, 3]), cfg.eval_samples, cfg.nz, cfg.noise)
        self.classifier = self.reference = None

    @staticmethod
    def applies(cfg: TrainConfig) -> bool:
        return cfg.eval_every > 0 and cfg.dataset == "mnist" and cfg.image_size in EVAL_SIZES

    def __call__(self, generator: GeneratorCheckpoint) -> QualityReport:
        if self.classifier is None:  # loaded at the first check, not at start-up
            self.classifier = load_classifier(contexts=self.contexts)
            self.reference = mnist_reference(self.classifier, Path(self.cfg.data_dir), self.cfg.image_size)
        digits = np.arange(len(self.z)) % CLASSES if self.cfg.conditional else None
        images = generate_all(generator, self.z, "eval", 250, self.contexts, digits)
        return judge(images, self.classifier, self.reference, digits)


class _EmaView:
    """G's moving average as a checkpoint (standard shapes, BatchNorm statistics re-estimated for it),
    made at most once per step: the checkpoint, the grid and the quality check share it."""

    def __init__(self, ema: GeneratorEMA, modG: mx.mod.Module, cfg: TrainConfig, contexts: list[mx.Context]):
        self.ema, self.modG, self.cfg, self.contexts = ema, modG, cfg, contexts
        self._snapshot: EmaSnapshot | None = None

    def snapshot(self) -> EmaSnapshot:
        if self._snapshot is None or self._snapshot.updates != self.ema.updates:
            averages = {name: value.copy() for name, value in self.ema.averages.items()}
            arg_params = unpad_single_filter_params(self.modG.symbol, averages)
            current = GeneratorCheckpoint(Path(self.cfg.out), "module", arg_params, standard_params(self.modG)[1],
                                          architecture(self.cfg))
            # the same z for every re-estimate of a run, so a resumed run writes the same files
            calibrated = recalibrate_batchnorm(current, RECALIBRATION_BATCHES, self.cfg.seed, contexts=self.contexts)
            self._snapshot = EmaSnapshot(calibrated.arg_params, calibrated.aux_params, self.ema.updates)
        return self._snapshot

    def checkpoint(self) -> GeneratorCheckpoint:
        snapshot = self.snapshot()
        return GeneratorCheckpoint(Path(self.cfg.out), "module", snapshot.arg_params, snapshot.aux_params,
                                   architecture(self.cfg))


def architecture(cfg: TrainConfig) -> Architecture:
    """The generator a training configuration builds (standard shapes, for inference and checks)."""
    return Architecture(nz=cfg.nz, ngf=cfg.ngf, nc=cfg.channels, image_size=cfg.image_size,
                        fix_gamma=cfg.g_fix_gamma, conditional=cfg.conditional, noise=cfg.noise)


def _check_start(cfg: TrainConfig, ckpt: GeneratorCheckpoint) -> DiscriminatorCheckpoint | None:
    """``--checkpoint``'s G (and the ``_D`` file beside it, if any) fit the flags; the D to load, or None."""
    mine = architecture(cfg)
    try:
        check_shapes(mine.symbol(), ckpt.arg_params, ckpt.aux_params, mine.inputs(), ckpt.path)
    except MxganError as exc:
        raise MxganError(f"{exc}; the checkpoint was trained with {ckpt.flags()}: pass those flags") from exc
    pathD = sibling_discriminator(ckpt.path)
    if pathD is None:
        return None
    ckptD = load_discriminator(str(pathD))
    check_shapes(make_discriminator_sym(cfg.ndf, image_size=cfg.image_size), ckptD.arg_params,
                 ckptD.aux_params, ckptD.inputs(), pathD)
    return ckptD


def _start_from_checkpoint(gan: GAN, ckpt: GeneratorCheckpoint, ckptD: DiscriminatorCheckpoint | None) -> str:
    """Load ``--checkpoint`` into G (and D, when a matching ``_D`` file sits beside it)."""
    set_generator_params(gan.modG, ckpt.arg_params, ckpt.aux_params)
    if ckptD is None:
        return f"G from {ckpt.path} ({ckpt.format}); D starts fresh (no matching _D file beside it)"
    gan.modD.set_params(ckptD.arg_params, ckptD.aux_params)
    return f"G from {ckpt.path} ({ckpt.format}), D from {ckptD.path}"


def _restore_ema(out: Path, gan: GAN, ema: GeneratorEMA) -> None:
    """Continue G's moving average from the run's newest set (a run that had none starts it from G)."""
    state = read_run_state(out)
    if EMA_ROLE in state.files:
        arg_params, _ = load_module_params(out / state.files[EMA_ROLE])
        ema.restore(pad_single_filter_params(gan.modG.symbol, arg_params), state.ema_updates)


def train(cfg: TrainConfig, announce=print) -> TrainResult:
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
    out = Path(cfg.out)
    contexts = parse_ctx(cfg.ctx)
    cluster = connect(cfg.kvstore)
    if cluster.distributed:
        announce(f"kvstore {cfg.kvstore}: this worker has rank {cluster.rank} of {cluster.workers}")
    batches, described = training_batches(cfg, Shard(cluster.rank, cluster.workers))
    announce(described)
    start = load_generator(cfg.checkpoint) if cfg.checkpoint and not cfg.resume else None
    if start is not None:
        cfg.g_fix_gamma = not start.learns_gamma
        startD = _check_start(cfg, start)  # before anything is written: a mismatch leaves no folder behind
    if cluster.lead:
        out.mkdir(parents=True, exist_ok=True)
        if not cfg.resume:
            write_bytes_atomic(out / "run.json", json.dumps(cfg.to_json(), indent=2).encode())

    mx.random.seed(cfg.seed)
    gan = build_gan(contexts, cfg.batch_size, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size,
                    cfg.lr_g, cfg.beta1, cfg.wd, cfg.init_sigma, fix_gamma_G=cfg.g_fix_gamma,
                    dtype=cfg.dtype, cudnn_tune=cfg.cudnn_tune or None, conditional=cfg.conditional,
                    lr_d=cfg.lr_d, beta2=cfg.beta2)
    progress = Progress()
    if cfg.resume:
        if cluster.lead:
            remove_stale_temporaries(out)
        state = restore_weights(out, gan)
        gan.attach_optimizers(cluster.kvstore, cluster.workers)
        if not restore_optimizers(out, gan, state, cluster.updates_on_servers):
            announce("Adam restarts: this run's Adam state lived on its dist_async servers, which do not save it")
        progress = state.progress
        if progress.batch >= batches.batches_per_epoch:  # the checkpoint closed its epoch
            progress = Progress(progress.epoch + 1, 0, progress.iteration)
        announce(f"resuming {out} at iteration {progress.iteration} (epoch {progress.epoch}, batch {progress.batch})")
    else:
        if start is not None:
            announce(_start_from_checkpoint(gan, start, startD))
        gan.attach_optimizers(cluster.kvstore, cluster.workers)
    ema = GeneratorEMA(gan.modG, cfg.ema_decay) if cfg.ema_decay else None
    if ema and cfg.resume:
        _restore_ema(out, gan, ema)
    ema_view = _EmaView(ema, gan.modG, cfg, contexts) if ema else None
    quality = _QualityCheck(cfg, contexts) if _QualityCheck.applies(cfg) and cluster.lead else None
    if not cluster.distributed:
        return _loop(cfg, gan, batches, progress, out, quality, ema_view=ema_view)
    with Watchdog(cfg.dist_timeout, f"worker rank {cluster.rank}") as watchdog:
        result = _loop(cfg, gan, batches, progress, out, quality, cluster, watchdog, ema_view)
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


def _loop(cfg: TrainConfig, gan: GAN, batches: Batches, progress: Progress, out: Path,
          quality: _QualityCheck | None = None, cluster: Cluster = LOCAL,
          watchdog: Watchdog | None = None, ema_view: _EmaView | None = None) -> TrainResult:
    labels = Labels.create(cfg.batch_size, cfg.dtype, cfg.real_label)
    grid_z = [mx.nd.array(fixed_noise(cfg.seed, cfg.batch_size, cfg.nz, cfg.noise), dtype=cfg.dtype)]
    if cfg.conditional:  # the grid cycles through the digits
        grid_z.append(one_hot(np.arange(cfg.batch_size) % CLASSES, cfg.dtype))

    def classes(epoch: int, batch: int, iteration: int) -> dict:
        """Conditional models: the real batch's digits, and random digits for G to draw."""
        if not cfg.conditional:
            return {}
        key = [cfg.seed, 4, iteration] + ([cluster.rank] if cluster.rank else [])
        asked = np.random.default_rng(key).integers(0, CLASSES, cfg.batch_size)
        return {"real_cond": one_hot(batches.labels_of(epoch, batch), cfg.dtype),
                "fake_cond": one_hot(asked, cfg.dtype)}

    def z_batch(iteration: int, index: int = 0) -> mx.nd.NDArray:
        return mx.nd.array(noise_batch(cfg.seed, iteration, cfg.batch_size, cfg.nz, cfg.noise, index,
                                       cluster.rank), dtype=cfg.dtype)
    log = JsonlLog(out / "metrics.jsonl" if cluster.lead else None)
    total = min(cfg.epochs * batches.batches_per_epoch, cfg.max_steps or math.inf)
    checkpoint, metrics, window = None, {}, _Window()
    bar = tqdm(initial=progress.iteration, total=total, unit="step", disable=not (cfg.progress and cluster.lead),
               dynamic_ncols=True)
    gray_as_rgb = cfg.channels == 3 and cfg.dataset in IDX_DATASETS
    alarm = OverpoweringAlarm(GRAY_AS_RGB_HINT if gray_as_rgb else GENERIC_HINT)

    board = TensorboardLog(cfg.tensorboard) if cfg.tensorboard and cluster.lead else None
    unreadable = 0

    def show(name: str) -> None:
        """The fixed-noise sample grid: a PNG in the run folder (and an image in TensorBoard)."""
        if not cluster.lead:
            return
        if ema_view:  # the moving average's samples, as mxgan sample draws them
            z = grid_z[0].asnumpy()[:GRID_SAMPLES]
            digits = np.arange(len(z)) % CLASSES if cfg.conditional else None
            grid = make_grid(generate_all(ema_view.checkpoint(), z, "eval", GRID_SAMPLES, ema_view.contexts[:1],
                                          digits))
        else:
            grid = make_grid(sample_fixed(gan.modG, grid_z))
        save_png(out / name, grid)
        if board:
            board.image("samples", grid, progress.iteration)

    def warn(message: str | None) -> None:
        if message:
            log.write({"iteration": progress.iteration, "warning": message})
            tqdm.write(f"warning: {message}", file=sys.stderr)

    def save(epoch_end: bool) -> Path | None:
        if not cluster.lead:
            return None
        return save_run_checkpoint(out, cfg.dataset, gan, progress, epoch_end, cfg.keep,
                                   optimizer_states=not cluster.updates_on_servers,
                                   ema=ema_view.snapshot() if ema_view else None)

    def report_unreadable() -> None:
        """Folders: one warning for the files found unreadable since the last one."""
        nonlocal unreadable
        found = getattr(batches, "unreadable", [])
        if len(found) > unreadable:
            names = ", ".join(str(p) for p in found[unreadable:unreadable + 3])
            more = f" and {len(found) - unreadable - 3} more" if len(found) - unreadable > 3 else ""
            warn(f"skipped unreadable images: {names}{more} ({len(found)} so far; each replaced by the next file)")
            unreadable = len(found)

    try:
        with _CtrlC() as ctrl_c:
            while progress.iteration < total and progress.epoch < cfg.epochs:
                epoch = progress.epoch
                for real in prefetch(batches.epoch(epoch, progress.batch)):
                    # one host array per input; each is copied to the device once, by its single forward
                    g_due = g_updates_at(progress.iteration, cfg)
                    extra = tuple(z_batch(progress.iteration, i) for i in range(1, cfg.g_steps)) if g_due else ()
                    outputs = train_step(gan.modG, gan.modD, mx.nd.array(real, dtype=cfg.dtype),
                                         z_batch(progress.iteration), labels, gan.modD_G, g_due, extra,
                                         **classes(epoch, progress.batch, progress.iteration))
                    if g_due and ema_view:
                        ema_view.ema.update()
                    window.steps.append((progress.iteration, outputs))
                    if watchdog:  # a step that never finishes means a peer died
                        outputs.D_x.wait_to_read()
                        watchdog.beat()
                    progress = Progress(epoch, progress.batch + 1, progress.iteration + 1)
                    bar.update()
                    epoch_ends = progress.batch == batches.batches_per_epoch
                    run_ends = progress.iteration == total
                    # the outputs are checked for NaN/Inf here, so always before a checkpoint
                    if progress.iteration % cfg.log_every == 0 or epoch_ends or run_ends or ctrl_c.requested:
                        metrics = _log(window.metrics(cfg.batch_size), log, progress, bar)
                        window = _Window()
                        if board:
                            board.scalars(metrics, progress.iteration)
                        warn(alarm.update(metrics["facc"], progress.iteration))
                        report_unreadable()
                    sample_due = cfg.sample_every and progress.iteration % cfg.sample_every == 0
                    if sample_due or (run_ends and not epoch_ends):  # a run's last state is always shown
                        show(f"samples-{progress.iteration:07d}.png")
                    if epoch_ends:
                        break
                    every = cfg.checkpoint_every and progress.iteration % cfg.checkpoint_every == 0
                    if run_ends or ctrl_c.requested or every:
                        checkpoint = save(epoch_end=False)
                    if run_ends or ctrl_c.requested:
                        break
                if progress.batch == batches.batches_per_epoch:
                    checkpoint = save(epoch_end=True)
                    show(f"samples-epoch-{epoch:04d}.png")
                    if quality and (epoch + 1) % cfg.eval_every == 0:
                        warn(_evaluate(quality, gan, ema_view, log, board, progress, epoch))
                    progress = Progress(epoch + 1, 0, progress.iteration)
                if ctrl_c.requested:
                    raise Interrupted(
                        f"interrupted at iteration {progress.iteration}; checkpoint saved ({checkpoint}); "
                        f"continue with: mxgan train --resume {out}"
                    )
    except DivergenceError as exc:
        raise DivergenceError(
            f"training diverged: {exc} (stopped at iteration {progress.iteration}); last good checkpoint: "
            f"{checkpoint or _last_checkpoint(out)}; lower --lr (now G {cfg.lr_g:g}, D {cfg.lr_d:g}) or check the data"
        ) from exc
    finally:
        bar.close()
        if board:
            board.close()
    return TrainResult(iterations=progress.iteration, checkpoint=checkpoint, metrics=metrics)


def _evaluate(quality: _QualityCheck, gan: GAN, ema_view: _EmaView | None, log: JsonlLog,
              board: TensorboardLog | None, progress: Progress, epoch: int) -> str | None:
    """The end-of-epoch quality check of the raw G (and of its moving average): logged, shown, and
    remembered as the run's best when its FID-MNIST is the lowest yet. Returns a collapse warning, or None."""
    cfg = quality.cfg
    raw = quality(GeneratorCheckpoint(Path(cfg.out), "module", *standard_params(gan.modG), architecture(cfg)))
    reports = {"eval": raw} | ({"eval_ema": quality(ema_view.checkpoint())} if ema_view else {})
    log.write({"epoch": epoch, "iteration": progress.iteration, **{k: r.to_json() for k, r in reports.items()}})
    for key, report in reports.items():
        if board:
            board.scalars(report.to_json(), progress.iteration, prefix=f"{key.replace('_', '/')}/")
        weights = "EMA" if key == "eval_ema" else "raw"
        tqdm.write(f"epoch {epoch} ({weights} weights): FID-MNIST {report.fid:.2f} (floor {report.fid_floor:.2f}), "
                   f"mean confidence {report.mean_confidence:.3f}, coverage {report.coverage:.3f}")
    sampled = reports.get("eval_ema", raw)  # what mxgan sample draws from this run
    if record_evaluation(Path(cfg.out), epoch, sampled.fid):
        tqdm.write(f"epoch {epoch} is the best so far (FID-MNIST {sampled.fid:.2f}): {cfg.out}:best selects it")
    return collapse_warning(sampled.rare_digits, sampled.mean_confidence)


def _last_checkpoint(out: Path) -> str:
    try:
        return str(out / read_run_state(out).files["G"])
    except MxganError:
        return "none written yet"


def g_updates_at(iteration: int, cfg: TrainConfig) -> bool:
    """Whether G is updated at ``iteration``: after ``--pretrain-d`` D-only steps, every ``--d-steps``-th."""
    return iteration >= cfg.pretrain_d and (iteration - cfg.pretrain_d + 1) % cfg.d_steps == 0


def _log(metrics: dict, log: JsonlLog, progress: Progress, bar: tqdm) -> dict:
    """Append a metrics line and show it on the progress bar."""
    record = {"epoch": progress.epoch, "iteration": progress.iteration,
              **{k: None if v is None else round(v, 6) for k, v in metrics.items()}}
    log.write(record)
    shown = {"facc": "facc", "errD": "errD", "errG": "errG", "img_s": "images_per_sec"}
    bar.set_postfix({k: "-" if metrics[v] is None else f"{metrics[v]:.3f}" for k, v in shown.items()})
    return record

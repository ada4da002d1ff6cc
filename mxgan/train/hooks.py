"""What runs around each training step: the loop calls every hook after each step, after each
epoch and when it stops, in the order given (as detectron2's ``engine/hooks.py``, or MXNet's
``batch_end_callback``). Each hook does one job and reads the trainer's state; none changes training.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.checkpoints.run_folder import record_evaluation, save_run_checkpoint
from mxgan.config import TrainConfig
from mxgan.constants import CLASSES
from mxgan.errors import DivergenceError
from mxgan.inference.grids import make_grid, save_png
from mxgan.inference.sampling import generate_all, latent
from mxgan.quality.classifier import Classifier, load_classifier
from mxgan.quality.metrics import EVAL_SIZES, QualityReport, Reference, judge, mnist_reference
from mxgan.runtime.distributed import Watchdog
from mxgan.runtime.streams import stream
from mxgan.train.alarms import OverpoweringAlarm, collapse_warning
from mxgan.train.ema import EmaView
from mxgan.train.log import step_metrics
from mxgan.train.step import StepOutputs

if TYPE_CHECKING:
    from mxgan.train.loop import Trainer

GRID_SAMPLES = 64


class Hook:
    """Does nothing; subclasses override what they need."""

    def after_step(self, trainer: Trainer) -> None:
        """After each step (``trainer.progress`` already counts it)."""

    def after_epoch(self, trainer: Trainer) -> None:
        """After the last step of an epoch (not after a run that stops mid-epoch)."""

    def on_stop(self, trainer: Trainer) -> None:
        """When the loop ends, for whatever reason."""


class EmaUpdate(Hook):
    """Folds G's weights into their moving average after each step that updated G."""

    def __init__(self, view: EmaView) -> None:
        self.view = view

    def after_step(self, trainer: Trainer) -> None:
        if trainer.g_updated:
            self.view.ema.update()


class Heartbeat(Hook):
    """dist_*: waits for each step and tells the watchdog (a step that never finishes means a peer died)."""

    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog

    def after_step(self, trainer: Trainer) -> None:
        assert trainer.outputs is not None
        trainer.outputs.D_x.wait_to_read()
        self.watchdog.beat()


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


class MetricsLog(Hook):
    """Every ``--log-every`` steps (and at an epoch's or the run's end): a metrics.jsonl line, the progress bar,
    TensorBoard scalars, the overpowering alarm and unreadable pictures. Checks D's outputs for NaN/Inf, so it
    must run before any hook that writes a checkpoint."""

    def __init__(self, alarm: OverpoweringAlarm, bar: tqdm) -> None:
        self.alarm, self.bar = alarm, bar
        self.window = _Window()
        self.unreadable = 0

    def after_step(self, trainer: Trainer) -> None:
        assert trainer.outputs is not None
        self.window.steps.append((trainer.progress.iteration - 1, trainer.outputs))
        self.bar.update()
        due = trainer.progress.iteration % trainer.cfg.log_every == 0
        if not (due or trainer.epoch_ends or trainer.run_ends or trainer.stop_requested):
            return
        metrics = self.window.metrics(trainer.cfg.batch_size)
        self.window = _Window()
        record = {"epoch": trainer.progress.epoch, "iteration": trainer.progress.iteration,
                  **{k: None if v is None else round(v, 6) for k, v in metrics.items()}}
        trainer.log.write(record)
        trainer.metrics = record
        shown = {"facc": "facc", "errD": "errD", "errG": "errG", "img_s": "images_per_sec"}
        self.bar.set_postfix({k: "-" if metrics[v] is None else f"{metrics[v]:.3f}" for k, v in shown.items()})
        if trainer.board:
            trainer.board.scalars(record, trainer.progress.iteration)
        trainer.warn(self.alarm.update(metrics["facc"], trainer.progress.iteration))
        self._report_unreadable(trainer)

    def _report_unreadable(self, trainer: Trainer) -> None:
        """Folders: one warning for the files found unreadable since the last one."""
        found = getattr(trainer.batches, "unreadable", [])
        if len(found) > self.unreadable:
            names = ", ".join(str(p) for p in found[self.unreadable:self.unreadable + 3])
            more = len(found) - self.unreadable - 3
            trainer.warn(f"skipped unreadable images: {names}{f' and {more} more' if more > 0 else ''} "
                         f"({len(found)} so far; each replaced by the next file)")
            self.unreadable = len(found)

    def on_stop(self, trainer: Trainer) -> None:
        self.bar.close()
        if trainer.board:
            trainer.board.close()


class SampleGrids(Hook):
    """The fixed-noise sample grid, a PNG in the run folder (and an image in TensorBoard): every
    ``--sample-every`` steps, at the end of a run that stops mid-epoch, and after each epoch. Drawn from
    G's moving average where the run keeps one, as ``mxgan sample`` draws."""

    def __init__(self, z: np.ndarray, ema_view: EmaView | None) -> None:
        self.z, self.ema_view = z[:GRID_SAMPLES], ema_view
        self.digits = np.arange(len(self.z)) % CLASSES

    def after_step(self, trainer: Trainer) -> None:
        every = trainer.cfg.sample_every
        if (every and trainer.progress.iteration % every == 0) or (trainer.run_ends and not trainer.epoch_ends):
            self.show(trainer, f"samples-{trainer.progress.iteration:07d}.png")

    def after_epoch(self, trainer: Trainer) -> None:
        self.show(trainer, f"samples-epoch-{trainer.progress.epoch:04d}.png")

    def show(self, trainer: Trainer, name: str) -> None:
        generator = self.ema_view.checkpoint() if self.ema_view else trainer.generator()
        digits = self.digits if trainer.cfg.conditional else None
        grid = make_grid(generate_all(generator, self.z, "eval", GRID_SAMPLES, trainer.contexts[:1], digits))
        save_png(trainer.out / name, grid)
        if trainer.board:
            trainer.board.image("samples", grid, trainer.progress.iteration)


class Checkpointer(Hook):
    """A checkpoint set after each epoch, every ``--checkpoint-every`` steps, at the run's end and on Ctrl-C."""

    def __init__(self, keep: int, optimizer_states: bool, ema_view: EmaView | None) -> None:
        self.keep, self.optimizer_states, self.ema_view = keep, optimizer_states, ema_view

    def after_step(self, trainer: Trainer) -> None:
        every = trainer.cfg.checkpoint_every
        due = every and trainer.progress.iteration % every == 0
        if not trainer.epoch_ends and (due or trainer.run_ends or trainer.stop_requested):
            self.save(trainer, epoch_end=False)

    def after_epoch(self, trainer: Trainer) -> None:
        self.save(trainer, epoch_end=True)

    def save(self, trainer: Trainer, epoch_end: bool) -> None:
        trainer.checkpoint = save_run_checkpoint(
            trainer.out, trainer.cfg.dataset, trainer.gan, trainer.progress, epoch_end, self.keep,
            optimizer_states=self.optimizer_states, ema=self.ema_view.snapshot() if self.ema_view else None)


class QualityCheck(Hook):
    """Every ``--eval-every`` epochs of an MNIST run: FID-MNIST, the digit histogram and the neighbourhood
    metrics of the raw G (and of its moving average), logged, shown, and remembered as the run's best
    when the samples ``mxgan sample`` would draw have the lowest FID-MNIST yet."""

    def __init__(self, cfg: TrainConfig, ema_view: EmaView | None) -> None:
        self.z = latent(stream(cfg.seed, "quality"), cfg.eval_samples, cfg.nz, cfg.noise)
        self.ema_view = ema_view
        self.judged_by: tuple[Classifier, Reference] | None = None  # loaded at the first check, not at start-up

    @staticmethod
    def applies(cfg: TrainConfig) -> bool:
        return cfg.eval_every > 0 and cfg.dataset == "mnist" and cfg.image_size in EVAL_SIZES

    def after_epoch(self, trainer: Trainer) -> None:
        if (trainer.progress.epoch + 1) % trainer.cfg.eval_every:
            return
        reports = {"eval": self.judge(trainer, trainer.generator())}
        if self.ema_view:
            reports["eval_ema"] = self.judge(trainer, self.ema_view.checkpoint())
        epoch = trainer.progress.epoch
        trainer.log.write({"epoch": epoch, "iteration": trainer.progress.iteration,
                           **{key: report.to_json() for key, report in reports.items()}})
        for key, report in reports.items():
            if trainer.board:
                trainer.board.scalars(report.to_json(), trainer.progress.iteration, prefix=f"{key.replace('_', '/')}/")
            weights = "EMA" if key == "eval_ema" else "raw"
            tqdm.write(f"epoch {epoch} ({weights} weights): FID-MNIST {report.fid:.2f} (floor {report.fid_floor:.2f}), "
                       f"mean confidence {report.mean_confidence:.3f}, coverage {report.coverage:.3f}")
        sampled = reports.get("eval_ema", reports["eval"])
        if record_evaluation(trainer.out, epoch, sampled.fid):
            tqdm.write(f"epoch {epoch} is the best so far (FID-MNIST {sampled.fid:.2f}): {trainer.out}:best selects it")
        trainer.warn(collapse_warning(sampled.rare_digits, sampled.mean_confidence))

    def judge(self, trainer: Trainer, generator: GeneratorCheckpoint) -> QualityReport:
        cfg = trainer.cfg
        if self.judged_by is None:
            classifier = load_classifier(contexts=trainer.contexts)
            self.judged_by = classifier, mnist_reference(classifier, Path(cfg.data_dir), cfg.image_size)
        digits = np.arange(len(self.z)) % CLASSES if cfg.conditional else None
        images = generate_all(generator, self.z, "eval", 250, trainer.contexts, digits)
        return judge(images, *self.judged_by, digits)

"""mxgan's own hooks: what runs around each training step, one job each. The trainer calls every hook after
each step, after each epoch and when it stops, in the order :func:`mxgan.training.loop.default_hooks` gives
(as detectron2's ``engine/hooks.py``, or MXNet's ``batch_end_callback``). Each reads the run through
:class:`mxgan.training.trainer.TrainerView` and reports what it found out to the run's record; none changes
training.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.checkpoints.run_folder import Evaluation, record_evaluation, save_run_checkpoint
from mxgan.config import TrainConfig
from mxgan.constants import CLASSES
from mxgan.errors import DivergenceError
from mxgan.inference.grids import make_grid, save_png
from mxgan.inference.sampling import generate_all
from mxgan.model.latent import latent
from mxgan.quality.classifier import Classifier, load_classifier
from mxgan.quality.metrics import QualityReport, Reference, judge, mnist_reference
from mxgan.runtime.distributed import Watchdog
from mxgan.runtime.humanize import duration
from mxgan.runtime.streams import stream
from mxgan.training.alarms import OverpoweringAlarm, collapse_warning
from mxgan.training.ema import EmaView
from mxgan.training.log import step_metrics
from mxgan.training.progress import ProgressDisplay, forecast
from mxgan.training.step import StepOutputs
from mxgan.training.trainer import TrainerHook, TrainerView

GRID_SAMPLES = 64


class EmaUpdate(TrainerHook):
    """Folds G's weights into their moving average after each step that updated G."""

    def __init__(self, view: EmaView) -> None:
        self.view = view

    def after_step(self, trainer: TrainerView) -> None:
        if trainer.g_updated:
            self.view.ema.update()


class Heartbeat(TrainerHook):
    """dist_*: tells the watchdog that a step finished (a step that never finishes means a peer died)."""

    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog

    def after_step(self, trainer: TrainerView) -> None:
        self.watchdog.beat()  # the trainer waited for the step to run


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


def _logged_now(trainer: TrainerView) -> bool:
    """Whether this step wrote a metrics line (the hooks that read one run after :class:`MetricsLog`)."""
    return trainer.metrics.get("iteration") == trainer.progress.iteration


class MetricsLog(TrainerHook):
    """Every ``--log-every`` steps (and at an epoch's or the run's end): a metrics.jsonl line of D's outputs since
    the last one, checked for NaN/Inf first, so it must run before any hook that writes a checkpoint."""

    def __init__(self) -> None:
        self.window = _Window()

    def after_step(self, trainer: TrainerView) -> None:
        assert trainer.outputs is not None
        self.window.steps.append((trainer.progress.iteration - 1, trainer.outputs))
        due = trainer.progress.iteration % trainer.cfg.log_every == 0
        if not (due or trainer.epoch_ends or trainer.run_ends or trainer.stop_requested):
            return
        metrics = self.window.metrics(trainer.cfg.batch_size)
        self.window = _Window()
        line = {"epoch": trainer.progress.epoch, "iteration": trainer.progress.iteration,
                **{k: None if v is None else round(v, 6) for k, v in metrics.items()}}
        trainer.log.write(line)
        trainer.record.logged(line)


class TensorboardScalars(TrainerHook):
    """Each metrics line as TensorBoard scalars (``--tensorboard``)."""

    def after_step(self, trainer: TrainerView) -> None:
        if trainer.board and _logged_now(trainer):
            trainer.board.scalars(trainer.metrics, trainer.progress.iteration)

    def on_stop(self, trainer: TrainerView) -> None:
        if trainer.board:
            trainer.board.close()


class OverpoweringWarning(TrainerHook):
    """A warning when D's accuracy has stayed at 1.0 for several metrics lines in a row."""

    def __init__(self, alarm: OverpoweringAlarm) -> None:
        self.alarm = alarm

    def after_step(self, trainer: TrainerView) -> None:
        if _logged_now(trainer):
            trainer.warn(self.alarm.update(trainer.metrics["facc"], trainer.progress.iteration))


class UnreadablePictures(TrainerHook):
    """Folders of pictures: at each metrics line, one warning for the files found unreadable since the last."""

    def __init__(self) -> None:
        self.reported = 0

    def after_step(self, trainer: TrainerView) -> None:
        found = getattr(trainer.batches, "unreadable", [])
        if not _logged_now(trainer) or len(found) <= self.reported:
            return
        names = ", ".join(str(p) for p in found[self.reported:self.reported + 3])
        more = len(found) - self.reported - 3
        trainer.warn(f"skipped unreadable images: {names}{f' and {more} more' if more > 0 else ''} "
                     f"({len(found)} so far; each replaced by the next file)")
        self.reported = len(found)


class SampleGrids(TrainerHook):
    """The fixed-noise sample grid, a PNG in the run folder (and an image in TensorBoard): every
    ``--sample-every`` steps, at the end of a run that stops mid-epoch, and after each epoch. Drawn from
    G's moving average where the run keeps one, as ``mxgan sample`` draws."""

    def __init__(self, z: np.ndarray, ema_view: EmaView | None) -> None:
        self.z, self.ema_view = z[:GRID_SAMPLES], ema_view
        self.digits = np.arange(len(self.z)) % CLASSES

    def after_step(self, trainer: TrainerView) -> None:
        every = trainer.cfg.sample_every
        if (every and trainer.progress.iteration % every == 0) or (trainer.run_ends and not trainer.epoch_ends):
            self.show(trainer, f"samples-{trainer.progress.iteration:07d}.png")

    def after_epoch(self, trainer: TrainerView) -> None:
        self.show(trainer, f"samples-epoch-{trainer.progress.epoch:04d}.png")

    def show(self, trainer: TrainerView, name: str) -> None:
        generator = self.ema_view.checkpoint() if self.ema_view else trainer.generator()
        digits = self.digits if trainer.cfg.conditional else None
        grid = make_grid(generate_all(generator, self.z, "eval", GRID_SAMPLES, trainer.contexts[:1], digits))
        save_png(trainer.out / name, grid)
        if trainer.board:
            trainer.board.image("samples", grid, trainer.progress.iteration)


class Checkpointer(TrainerHook):
    """A checkpoint set after each epoch, every ``--checkpoint-every`` steps, before each quality check, at the
    run's end and on a stop signal."""

    def __init__(self, keep: int, optimizer_states: bool, ema_view: EmaView | None) -> None:
        self.keep, self.optimizer_states, self.ema_view = keep, optimizer_states, ema_view

    def after_step(self, trainer: TrainerView) -> None:
        every = trainer.cfg.checkpoint_every
        due = (every and trainer.progress.iteration % every == 0) or trainer.evaluation_due
        if not trainer.epoch_ends and (due or trainer.run_ends or trainer.stop_requested):
            self.save(trainer, epoch_end=False)

    def after_epoch(self, trainer: TrainerView) -> None:
        self.save(trainer, epoch_end=True)

    def save(self, trainer: TrainerView, epoch_end: bool) -> None:
        trainer.record.wrote(save_run_checkpoint(
            trainer.out, trainer.cfg.dataset, trainer.gan, trainer.progress, epoch_end, self.keep,
            optimizer_states=self.optimizer_states, ema=self.ema_view.snapshot() if self.ema_view else None,
            seconds=trainer.elapsed(), data=trainer.data))


class QualityCheck(TrainerHook):
    """Every ``--eval-every`` epochs (or fraction of one) of an MNIST run, right after a checkpoint: FID-MNIST,
    the digit histogram and the neighbourhood metrics of the raw G (and of its moving average), logged, shown,
    and kept in ``state.json`` with the run's time; the set becomes the run's best when the samples ``mxgan
    sample`` would draw have the lowest FID-MNIST yet. Stops the run once that FID-MNIST reaches ``--until-fid``.
    """

    def __init__(self, cfg: TrainConfig, ema_view: EmaView | None) -> None:
        self.z = latent(stream(cfg.seed, "quality"), cfg.eval_samples, cfg.nz, cfg.noise)
        self.ema_view = ema_view
        self.judged_by: tuple[Classifier, Reference] | None = None  # loaded at the first check, not at start-up

    def after_step(self, trainer: TrainerView) -> None:
        if trainer.evaluation_due and not trainer.epoch_ends:  # at an epoch's end, after its checkpoint
            self.check(trainer)

    def after_epoch(self, trainer: TrainerView) -> None:
        if trainer.evaluation_due:
            self.check(trainer)

    def check(self, trainer: TrainerView) -> None:
        began, seconds = time.perf_counter(), trainer.elapsed()
        reports = {"eval": self.judge(trainer, trainer.generator())}
        if self.ema_view:
            reports["eval_ema"] = self.judge(trainer, self.ema_view.checkpoint())
        epoch, iteration = trainer.progress.epoch, trainer.progress.iteration
        trainer.log.write({"epoch": epoch, "iteration": iteration, "seconds": round(seconds, 1),
                           **{key: report.to_json() for key, report in reports.items()}})
        if trainer.board:
            for key, report in reports.items():
                trainer.board.scalars(report.to_json(), iteration, prefix=f"{key.replace('_', '/')}/")
        sampled = reports.get("eval_ema", reports["eval"])
        trainer.record.checked(sampled.fid)
        evaluation = Evaluation(epoch, iteration, round(seconds, 1), sampled.fid, reports["eval"].fid,
                                round(time.perf_counter() - began, 2))
        best = record_evaluation(trainer.out, evaluation)
        where = f"iteration {iteration} (epoch {epoch}, {duration(seconds)} in)"
        fids = ", ".join(f"{r.fid:.2f} {'EMA' if key == 'eval_ema' else 'raw'}" for key, r in reports.items())
        trainer.say(f"{where}: FID-MNIST {fids} (floor {sampled.fid_floor:.2f}), mean confidence "
                    f"{sampled.mean_confidence:.3f}, coverage {sampled.coverage:.3f}"
                    + (f"; the best so far ({trainer.out}:best)" if best else ""))
        trainer.warn(collapse_warning(sampled.rare_digits, sampled.mean_confidence))
        goal = trainer.cfg.until_fid
        if goal and sampled.fid <= goal:
            trainer.record.stop_after_this_step(f"FID-MNIST {sampled.fid:.2f} <= {goal:g} (--until-fid) at {where}")

    def judge(self, trainer: TrainerView, generator: GeneratorCheckpoint) -> QualityReport:
        cfg = trainer.cfg
        if self.judged_by is None:
            began = time.perf_counter()
            classifier = load_classifier(contexts=trainer.contexts)
            self.judged_by = classifier, mnist_reference(classifier, Path(cfg.data_dir), cfg.image_size)
            trainer.pace.set_aside(time.perf_counter() - began)  # once a run: not a cost of every check
        digits = np.arange(len(self.z)) % CLASSES if cfg.conditional else None
        images = generate_all(generator, self.z, "eval", 250, trainer.contexts, digits)
        return judge(images, *self.judged_by, digits)


class ProgressReport(TrainerHook):
    """Counts each finished step on the progress bar (or the plain status lines), with the latest metrics and
    FID-MNIST beside the rate; once the pace is known, one line with the time per epoch and the run's end."""

    def __init__(self, display: ProgressDisplay) -> None:
        self.display = display
        self.forecast_given = False

    def after_step(self, trainer: TrainerView) -> None:
        metrics, progress = trainer.metrics, trainer.progress
        if _logged_now(trainer):
            self.display.note(**{k: f"{metrics[k]:.3f}" for k in ("errD", "errG") if metrics.get(k) is not None})
        if trainer.fid is not None:
            self.display.note(FID=f"{trainer.fid:.2f}")
        self.display.step(trainer.pace, f"epoch {progress.epoch}, batch {progress.batch}/"
                                        f"{trainer.batches.batches_per_epoch}")
        if not self.forecast_given and _logged_now(trainer) and trainer.pace.known:
            self.forecast_given = True
            self.display.write(forecast(trainer.pace, trainer.cfg.batch_size, trainer.batches.batches_per_epoch,
                                        int(trainer.total) - progress.iteration))

    def on_stop(self, trainer: TrainerView) -> None:
        self.display.close()

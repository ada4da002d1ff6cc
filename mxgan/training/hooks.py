"""mxgan's own hooks: what runs around each training step, one job each, on the public contract
(:mod:`mxgan.training.contract`). Each is given what it needs when :func:`mxgan.training.loop.default_hooks`
builds it, reads the run through the :class:`RunView`, and reports what it found out through the view; its
:attr:`order` places it among the others (and yours), and what it keeps across steps is in its state.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.checkpoints.run_folder import Evaluation, save_run_checkpoint
from mxgan.constants import CLASSES
from mxgan.errors import DivergenceError
from mxgan.inference.grids import make_grid, save_png
from mxgan.inference.sampling import generate_all
from mxgan.model.modules import GAN
from mxgan.quality.evaluator import Evaluator, Report, evaluate_samples
from mxgan.quality.metrics import QualityReport
from mxgan.runtime.distributed import Watchdog
from mxgan.runtime.humanize import duration, size
from mxgan.training.alarms import OverpoweringAlarm, collapse_warning
from mxgan.training.contract import Hook, RunView
from mxgan.training.ema import EmaView, GeneratorEMA
from mxgan.training.log import JsonlLog, TensorboardLog, step_metrics
from mxgan.training.progress import Pace, ProgressDisplay, forecast

log = logging.getLogger(__name__)
GRID_SAMPLES = 64
KEEP_ALL_WARNING = 500_000_000  # bytes: what --keep 0 may fill over a run before it is worth a warning


@dataclass
class RunLog:
    """Where hooks write what they find: metrics.jsonl (None on the workers that do not write), TensorBoard."""

    jsonl: JsonlLog
    board: TensorboardLog | None = None

    def warn(self, iteration: int, message: str | None) -> None:
        """A warning: a line of its own in metrics.jsonl, and a message of the ``mxgan`` logger."""
        if message:
            self.jsonl.write({"iteration": iteration, "warning": message})
            log.warning(message)


@dataclass
class Generators:
    """G as the hooks draw from it: as trained, and as ``mxgan sample`` draws (the moving average where kept)."""

    raw: Callable[[], GeneratorCheckpoint]
    ema_view: EmaView | None = None

    def sampled(self) -> GeneratorCheckpoint:
        return self.ema_view.checkpoint() if self.ema_view else self.raw()


def _logged_now(run: RunView) -> bool:
    """Whether this step wrote a metrics line (:class:`MetricsLog` runs before the hooks that read it)."""
    return run.metrics.get("iteration") == run.progress.iteration


class EmaUpdate(Hook):
    """Folds G's weights into their moving average after each step that updated G."""

    order = 0

    def __init__(self, ema: GeneratorEMA) -> None:
        self.ema = ema

    def after_step(self, run: RunView) -> None:
        if run.g_updated:
            self.ema.update()


class Heartbeat(Hook):
    """dist_*: tells the watchdog that a step finished (a step that never finishes means a peer died)."""

    order = 0

    def __init__(self, watchdog: Watchdog) -> None:
        self.watchdog = watchdog

    def after_step(self, run: RunView) -> None:
        self.watchdog.beat()  # the trainer waited for the step to run


class MetricsLog(Hook):
    """Every ``--log-every`` steps (and at an epoch's or the run's end): a metrics.jsonl line of D's outputs since
    the last one, checked for NaN/Inf first, before any hook that writes a checkpoint. Its state: those outputs
    (the window), so a resumed run logs the same lines as an uninterrupted one."""

    order = 10

    def __init__(self, jsonl: JsonlLog, log_every: int, batch_size: int) -> None:
        self.jsonl, self.log_every, self.batch_size = jsonl, log_every, batch_size
        self.window: list[tuple[int, list[np.ndarray]]] = []  # (iteration, [D_x, D_G_z1, D_G_z2]) since the last line
        self.started = time.perf_counter()

    def after_step(self, run: RunView) -> None:
        outputs, iteration = run.outputs, run.progress.iteration
        assert outputs is not None
        empty = np.zeros((0, 1), np.float32)  # D_G_z2 of a step in which G rested
        self.window.append((iteration - 1, [empty if o is None else o.asnumpy()
                                            for o in (outputs.D_x, outputs.D_G_z1, outputs.D_G_z2)]))
        if iteration % self.log_every and not (run.epoch_ends or run.run_ends):
            return
        line = {"epoch": run.progress.epoch, "iteration": iteration,
                **{k: None if v is None else round(v, 6) for k, v in self._window_metrics().items()}}
        self.window, self.started = [], time.perf_counter()
        self.jsonl.write(line)
        run.logged(line)

    def _window_metrics(self) -> dict:
        """Metrics of the window; raises :class:`DivergenceError` at the first non-finite step."""
        for iteration, outputs in self.window:
            if not all(np.isfinite(o).all() for o in outputs):
                raise DivergenceError(f"D's output became NaN/Inf at iteration {iteration}")
        D_x, D_G_z1, D_G_z2 = (np.concatenate([o[i] for _, o in self.window]) for i in range(3))
        elapsed = time.perf_counter() - self.started
        return {**step_metrics(D_x, D_G_z1, D_G_z2), "images_per_sec": len(self.window) * self.batch_size / elapsed}

    def state_dict(self) -> dict:
        return {"window": [[iteration, [o.tolist() for o in outputs]] for iteration, outputs in self.window]}

    def load_state_dict(self, state: dict) -> None:
        self.window = [(iteration, [np.asarray(o, np.float32).reshape(-1, 1) for o in outputs])
                       for iteration, outputs in state.get("window", [])]


class TensorboardScalars(Hook):
    """Each metrics line as TensorBoard scalars (``--tensorboard``)."""

    order = 20

    def __init__(self, board: TensorboardLog) -> None:
        self.board = board

    def after_step(self, run: RunView) -> None:
        if _logged_now(run):
            self.board.scalars(run.metrics, run.progress.iteration)

    def after_train(self, run: RunView) -> None:
        self.board.close()


class OverpoweringWarning(Hook):
    """A warning when D's accuracy has stayed at 1.0 for several metrics lines in a row. Its state: the streak."""

    order = 20

    def __init__(self, alarm: OverpoweringAlarm, runlog: RunLog) -> None:
        self.alarm, self.runlog = alarm, runlog

    def after_step(self, run: RunView) -> None:
        if _logged_now(run):
            self.runlog.warn(run.progress.iteration, self.alarm.update(run.metrics["facc"], run.progress.iteration))

    def state_dict(self) -> dict:
        return {"streak": list(self.alarm.streak)}

    def load_state_dict(self, state: dict) -> None:
        self.alarm.streak = [int(i) for i in state.get("streak", [])]


class UnreadablePictures(Hook):
    """Folders of pictures: at each metrics line, one warning for the files found unreadable since the last."""

    order = 20

    def __init__(self, unreadable: list[Path], runlog: RunLog) -> None:
        self.unreadable, self.runlog = unreadable, runlog  # the batches' own list, which grows as they load
        self.reported = 0

    def after_step(self, run: RunView) -> None:
        found = self.unreadable
        if not _logged_now(run) or len(found) <= self.reported:
            return
        names = ", ".join(str(p) for p in found[self.reported:self.reported + 3])
        more = len(found) - self.reported - 3
        self.runlog.warn(run.progress.iteration, f"skipped unreadable images: {names}"
                         f"{f' and {more} more' if more > 0 else ''} ({len(found)} so far; each replaced by the next "
                         "file)")
        self.reported = len(found)


class SampleGrids(Hook):
    """The fixed-noise sample grid, a PNG in the run folder (and an image in TensorBoard): every
    ``--sample-every`` steps, at the end of a run that stops mid-epoch, and after each epoch. Drawn from
    G's moving average where the run keeps one, as ``mxgan sample`` draws."""

    order = 30

    def __init__(self, z: np.ndarray, every: int, generators: Generators, conditional: bool, runlog: RunLog,
                 contexts: list) -> None:
        self.z, self.every, self.generators = z[:GRID_SAMPLES], every, generators
        self.runlog, self.contexts = runlog, contexts
        self.digits = np.arange(len(self.z)) % CLASSES if conditional else None

    def after_step(self, run: RunView) -> None:
        iteration = run.progress.iteration
        if (self.every and iteration % self.every == 0) or (run.run_ends and not run.epoch_ends):
            self.show(run, f"samples-{iteration:07d}.png")

    def after_epoch(self, run: RunView) -> None:
        self.show(run, f"samples-epoch-{run.progress.epoch:04d}.png")

    def show(self, run: RunView, name: str) -> None:
        images = generate_all(self.generators.sampled(), self.z, "eval", GRID_SAMPLES, self.contexts[:1], self.digits)
        grid = make_grid(images)
        save_png(run.out / name, grid)
        if self.runlog.board:
            self.runlog.board.image("samples", grid, run.progress.iteration)


@dataclass
class QualitySettings:
    """What the in-training quality check does (from ``--eval-every``, ``--eval-samples``, ``--until-fid``)."""

    every: int  # steps between checks; a fraction of an epoch rounds to whole steps
    until_fid: float  # 0: never stop
    z: np.ndarray  # the samples' latent vectors, the same at every check


def steps_between_checks(eval_every: float, steps_per_epoch: int) -> int:
    """``--eval-every`` epochs in steps: a fraction of an epoch rounds to whole steps (one at least)."""
    return max(1, round(eval_every * steps_per_epoch))


class QualityCheck(Hook):
    """Every ``--eval-every`` epochs (or fraction of one): the evaluator's figures (FID-MNIST and the digit
    histogram for MNIST generators; Inception FID, KID, precision/recall for any other) of the raw G and of its
    moving average, logged, shown, and reported to the view (the checkpoint of the step keeps it, and may
    become the run's best). Asks the run to stop once that FID reaches ``--until-fid``. Its state: the best FID
    so far."""

    order = 40

    def __init__(self, settings: QualitySettings, evaluator: Evaluator, generators: Generators, runlog: RunLog,
                 pace: Pace, contexts: list) -> None:
        self.settings, self.evaluator, self.generators, self.runlog = settings, evaluator, generators, runlog
        self.pace, self.contexts = pace, contexts
        self.prepared = False  # the evaluator's reference is made at the first check, not at start-up
        self.best: float | None = None

    def after_step(self, run: RunView) -> None:
        if self._due(run) and not run.epoch_ends:  # at an epoch's end, after its epoch
            self.check(run)

    def after_epoch(self, run: RunView) -> None:
        if self._due(run):
            self.check(run)

    def _due(self, run: RunView) -> bool:
        return run.progress.iteration % self.settings.every == 0

    def check(self, run: RunView) -> None:
        self._prepare()
        began, seconds = time.perf_counter(), run.elapsed()
        reports = {"eval": self._evaluate(self.generators.raw())}
        if self.generators.ema_view:
            reports["eval_ema"] = self._evaluate(self.generators.sampled())
        epoch, iteration = run.progress.epoch, run.progress.iteration
        self.runlog.jsonl.write({"epoch": epoch, "iteration": iteration, "seconds": round(seconds, 1),
                                 "metric": self.evaluator.metric,
                                 **{key: report.to_json() for key, report in reports.items()}})
        if self.runlog.board:
            for key, report in reports.items():
                self.runlog.board.scalars(report.to_json(), iteration, prefix=f"{key.replace('_', '/')}/")
        sampled = reports.get("eval_ema", reports["eval"])
        run.evaluated(Evaluation(epoch, iteration, round(seconds, 1), sampled.fid, reports["eval"].fid,
                                 round(time.perf_counter() - began, 2)))
        best = self.best is None or sampled.fid < self.best
        self.best = sampled.fid if best else self.best
        self._say(run, reports, seconds, best)
        if isinstance(sampled, QualityReport):
            self.runlog.warn(iteration, collapse_warning(sampled.rare_digits, sampled.mean_confidence))
        goal = self.settings.until_fid
        if goal and sampled.fid <= goal:
            run.stop(f"{self.evaluator.metric} {sampled.fid:.2f} <= {goal:g} (--until-fid) at "
                     f"{self._where(run, seconds)}")

    def _prepare(self) -> None:
        """The evaluator's reference (the classifier's MNIST features, or the Inception statistics of the training
        data), once a run: set aside from the pace, not a cost of every check."""
        if not self.prepared:
            began = time.perf_counter()
            self.evaluator.prepare()
            self.pace.set_aside(time.perf_counter() - began)
            self.prepared = True

    def _say(self, run: RunView, reports: dict[str, Report], seconds: float, best: bool) -> None:
        sampled = reports.get("eval_ema", reports["eval"])
        fids = ", ".join(f"{r.fid:.2f} {'EMA' if key == 'eval_ema' else 'raw'}" for key, r in reports.items())
        log.info(f"{self._where(run, seconds)}: {self.evaluator.metric} {fids} ({sampled.summary()})"
                 + (f"; the best so far ({run.out}:best)" if best else ""))

    @staticmethod
    def _where(run: RunView, seconds: float) -> str:
        return f"iteration {run.progress.iteration} (epoch {run.progress.epoch}, {duration(seconds)} in)"

    def _evaluate(self, generator: GeneratorCheckpoint) -> Report:
        return evaluate_samples(self.evaluator, generator, self.settings.z, 250, self.contexts)

    def state_dict(self) -> dict:
        return {"best": self.best if self.best is not None and math.isfinite(self.best) else None}

    def load_state_dict(self, state: dict) -> None:
        best = state.get("best")
        self.best = float(best) if isinstance(best, (int, float)) else None


@dataclass
class CheckpointSettings:
    """Where and how often the run's checkpoint sets are written (``--out``, ``--checkpoint-every``, ``--keep``)."""

    out: Path
    dataset: str
    every: int  # steps between mid-epoch sets (0: at epoch ends only)
    keep: int
    optimizer_states: bool  # False: dist_async keeps Adam on its servers, out of reach
    data: dict  # what the run trains on, for state.json


class Checkpointer(Hook):
    """A checkpoint set after each epoch, every ``--checkpoint-every`` steps, after each quality check (which it
    keeps in state.json), at the run's end and on a stop: after every other hook, so that it keeps each hook's
    state as it is after the step (``hook_states``)."""

    order = 90

    def __init__(self, settings: CheckpointSettings, gan: GAN, ema_view: EmaView | None,
                 hook_states: Callable[[], dict[str, dict]]) -> None:
        self.settings, self.gan, self.ema_view, self.hook_states = settings, gan, ema_view, hook_states
        self.disk_said = False  # the --keep 0 warning, once a process

    def after_step(self, run: RunView) -> None:
        every, iteration = self.settings.every, run.progress.iteration
        evaluated = run.evaluation is not None and run.evaluation.iteration == iteration
        if not run.epoch_ends and ((every and iteration % every == 0) or evaluated or run.run_ends):
            self.save(run, epoch_end=False)

    def after_epoch(self, run: RunView) -> None:
        self.save(run, epoch_end=True)

    def save(self, run: RunView, epoch_end: bool) -> None:
        settings, evaluation = self.settings, run.evaluation
        written = save_run_checkpoint(
            settings.out, settings.dataset, self.gan, run.progress, epoch_end, settings.keep,
            optimizer_states=settings.optimizer_states, ema=self.ema_view.snapshot() if self.ema_view else None,
            seconds=run.elapsed(), data=settings.data, hooks=self.hook_states(),
            evaluation=evaluation if evaluation and evaluation.iteration == run.progress.iteration else None)
        run.wrote(written)
        if not settings.keep and not self.disk_said:
            self.disk_said = True
            sets_left = (run.total_steps - run.progress.iteration) / run.steps_per_epoch * self.sets_per_epoch(run)
            warning = keep_all_warning(_set_bytes(written, settings.dataset), round(sets_left))
            if warning:
                log.warning(warning)

    def sets_per_epoch(self, run: RunView) -> float:
        """About how many sets an epoch writes: its end, the --checkpoint-every ones and one per quality check."""
        steps, every, eval_every = run.steps_per_epoch, self.settings.every, run.cfg.eval_every or 0.0
        return 1 + (steps - 1) // every if every else 1 + (1 / eval_every - 1 if 0 < eval_every < 1 else 0)


def _set_bytes(g_params: Path, dataset: str) -> int:
    """The bytes of the set whose G file is ``g_params`` (every file of a set ends in its epoch and iteration)."""
    tag = g_params.stem.removeprefix(f"{dataset}_G")
    return sum(path.stat().st_size for path in g_params.parent.glob(f"{dataset}_*{tag}.*"))


def keep_all_warning(set_bytes: int, sets_left: int) -> str | None:
    """The warning of a run that keeps every set (``--keep 0``), where they come to more than KEEP_ALL_WARNING."""
    total = set_bytes * (sets_left + 1)
    if total < KEEP_ALL_WARNING:
        return None
    return (f"--keep 0 keeps every checkpoint set: this one takes {size(set_bytes)}, and about {sets_left} more "
            f"come, {size(total)} in all; --keep N keeps the newest N and the best")


class ProgressReport(Hook):
    """Counts each finished step on the progress bar (or the plain status lines), with the latest metrics and
    FID-MNIST beside the rate; once the pace is known, one line with the time per epoch and the run's end."""

    order = 100

    def __init__(self, display: ProgressDisplay, pace: Pace, batch_size: int) -> None:
        self.display, self.pace, self.batch_size = display, pace, batch_size
        self.forecast_given = False

    def after_step(self, run: RunView) -> None:
        metrics, progress = run.metrics, run.progress
        if _logged_now(run):
            self.display.note(**{k: f"{metrics[k]:.3f}" for k in ("errD", "errG") if metrics.get(k) is not None})
        if run.fid is not None:
            self.display.note(FID=f"{run.fid:.2f}")
        self.display.step(self.pace, f"epoch {progress.epoch}, batch {progress.batch}/{run.steps_per_epoch}")
        if not self.forecast_given and _logged_now(run) and self.pace.known:
            self.forecast_given = True
            self.display.write(forecast(self.pace, self.batch_size, run.steps_per_epoch,
                                        run.total_steps - progress.iteration))

    def after_train(self, run: RunView) -> None:
        self.display.close()

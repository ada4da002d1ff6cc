"""How far a run is and when it will end, measured on finished steps: a progress bar, or plain status lines.

MXNet's engine is asynchronous: Python queues a step's work and returns long before it is done. The
trainer waits for each step's last output (:meth:`mxgan.training.step.StepOutputs.wait`), so a step is
counted, and timed, when it has finished. The rate shown is the median of the recent steps' times, which
a slow step (a checkpoint) does not swing; the first step of a process (set-up) is left out. The time spent
between steps (checkpoints, sample grids, quality checks) is added to the estimate of the end, spread over
the steps.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from tqdm import tqdm

from mxgan.runtime.humanize import duration

WINDOW = 50  # recent step times the rate is the median of
# tqdm's own rate and time left count queued steps, and swing; the postfix holds this module's instead
BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed} elapsed{postfix}]"


@dataclass
class Pace:
    """The times of a run's finished steps in this process, and the time spent between them."""

    steps: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW))
    counted: int = 0  # steps finished in this process
    in_steps: float = 0.0  # seconds those steps took
    started: float | None = None  # when the first of them began (time.perf_counter)
    once: float = 0.0  # seconds spent on what is done once only (making the quality check's reference)

    def add(self, began: float, seconds: float) -> None:
        """A step that began at ``began`` (``time.perf_counter``) finished after ``seconds``."""
        self.started = began if self.started is None else self.started
        if self.counted:  # the first step of a process sets up (binds, warms the caches): no step's pace
            self.steps.append(seconds)
        self.counted += 1
        self.in_steps += seconds

    @property
    def known(self) -> bool:
        return self.counted >= 2

    def seconds_per_step(self) -> float:
        """The median time of the recent steps (never the process's first, slowed by set-up)."""
        return statistics.median(self.steps)

    def set_aside(self, seconds: float) -> None:
        """``seconds`` between steps went to work done once, which the estimate of the end must not repeat."""
        self.once += seconds

    def between_steps(self) -> float:
        """Seconds a step adds, on average, outside the step itself: checkpoints, grids, quality checks."""
        if self.started is None or not self.counted:
            return 0.0
        outside = time.perf_counter() - self.started - self.in_steps - self.once
        return max(0.0, outside) / self.counted

    def remaining(self, steps: int) -> float:
        """Seconds until ``steps`` more steps are done, at this pace."""
        return steps * (self.seconds_per_step() + self.between_steps())


def forecast(pace: Pace, batch_size: int, steps_per_epoch: int, steps_left: int, now: float | None = None) -> str:
    """The one line a run prints once its pace is known: time per epoch, and when it will end."""
    per_step = pace.seconds_per_step() + pace.between_steps()
    left = pace.remaining(steps_left)
    end = time.strftime("%a %H:%M", time.localtime((now or time.time()) + left))
    return (f"measured {pace.seconds_per_step():.2f} s a step ({batch_size / pace.seconds_per_step():.1f} images/s): "
            f"{duration(per_step * steps_per_epoch)} an epoch; the {steps_left} steps left end in about "
            f"{duration(left)}, at {end}")


class ProgressDisplay:
    """A progress bar on finished steps (rate, time left, the latest metrics and FID-MNIST), or, when the bar
    is off (``--no-progress``, logs), a plain status line every ``status_every`` seconds (0: none).

    ``show`` False (the workers of a distributed run other than rank 0) displays nothing.
    """

    def __init__(self, done: int, total: int, batch_size: int, bar: bool, status_every: float,
                 show: bool = True) -> None:
        self.total, self.batch_size, self.status_every = total, batch_size, status_every
        self.bar = tqdm(initial=done, total=total, unit="step", dynamic_ncols=True, disable=not (bar and show),
                        bar_format=BAR_FORMAT)
        self.bar.set_postfix_str("?", refresh=False)
        self.plain = show and not bar and status_every > 0
        self.last_status = time.monotonic()
        self.done = done
        self.metrics: dict[str, str] = {}

    def note(self, **values: str) -> None:
        """Values to show beside the rate from now on (``errD="0.912"``, ``FID="12.3"``)."""
        self.metrics.update(values)

    def step(self, pace: Pace, position: str) -> None:
        """Count one finished step; ``position`` (for example ``epoch 0, batch 12/938``) goes on status lines."""
        self.done += 1
        shown = self._rate(pace)
        self.bar.set_postfix_str(shown, refresh=False)
        self.bar.update()
        if self.plain and time.monotonic() - self.last_status >= self.status_every:
            self.last_status = time.monotonic()
            print(f"[{time.strftime('%H:%M:%S')}] step {self.done}/{self.total} ({position}), {shown}",
                  flush=True)

    def _rate(self, pace: Pace) -> str:
        parts = [f"{k} {v}" for k, v in self.metrics.items()]
        if pace.known:
            per_step = pace.seconds_per_step()
            parts[:0] = [f"{duration(pace.remaining(self.total - self.done))} left", f"{per_step:.2f} s/step",
                         f"{self.batch_size / per_step:.1f} img/s"]
        return ", ".join(parts)

    def write(self, line: str) -> None:
        """A line of its own, above the bar."""
        tqdm.write(line, file=sys.stdout)

    def close(self) -> None:
        self.bar.close()

"""How steady the progress bar of a real training process is: ``python bench/progress.py``.

The bar is read as a user reads it: the training command runs in its own process, and each update of
the bar it writes (tqdm's carriage-return lines on stderr) is parsed for the step it counts, the rate
it shows and the time left it shows. ``--checkout`` points at another copy of mxgan (an older one, to
compare), which the process imports instead of this one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_COUNT = re.compile(r"\| *(\d+)/(\d+) \[")
_RATE = re.compile(r"([\d.]+) ?(s/step|step/s)")
_LEFT_WORDS = re.compile(r", (?:(\d+) h )?(?:(\d+) min|(\d+) s) left")  # this mxgan's bar
_LEFT_CLOCK = re.compile(r"<(?:(\d+):)?(\d+):(\d+)[,\]]")  # tqdm's own
_ELAPSED = re.compile(r"\[(?:(\d+):)?(\d+):(\d+)[ <]")  # both bars begin their bracket with it


@dataclass
class Shown:
    """What one update of the bar showed."""

    step: int
    seconds_per_step: float | None
    seconds_left: float | None
    seconds_elapsed: float | None

    @property
    def end(self) -> float | None:
        """When the run will end, as this update said, in seconds from the bar's start."""
        if self.seconds_left is None or self.seconds_elapsed is None:
            return None
        return self.seconds_elapsed + self.seconds_left


def parse_bar(stderr: str) -> list[Shown]:
    """Every update of the bar in a process's stderr, in order."""
    shown = []
    for line in stderr.replace("\r", "\n").splitlines():
        count = _COUNT.search(line)
        if not count:
            continue
        rate = _RATE.search(line)
        per_step = None if rate is None else float(rate.group(1)) ** (1 if rate.group(2) == "s/step" else -1)
        shown.append(Shown(int(count.group(1)), per_step, _seconds_left(line), _clock(_ELAPSED.search(line))))
    return shown


def _seconds_left(line: str) -> float | None:
    words = _LEFT_WORDS.search(line)
    if words:
        hours, minutes, seconds = (int(g) if g else 0 for g in words.groups())
        return 3600 * hours + 60 * minutes + seconds
    return _clock(_LEFT_CLOCK.search(line))


def _clock(match: re.Match | None) -> float | None:
    """[H:]MM:SS as seconds."""
    if match is None:
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return 3600 * hours + 60 * minutes + seconds


def spread(values: list[float]) -> float:
    """max / min (1.0: perfectly steady; infinite when the least is 0)."""
    return max(values) / min(values) if min(values) > 0 else float("inf")


def steadiness(shown: list[Shown], first: int, last: int) -> dict:
    """The range of the rate, and of the end (time elapsed + time left), the bar showed at steps ``first`` to
    ``last``."""
    window = {s.step: s for s in shown if first <= s.step <= last}  # the last update of each step
    rates = [s.seconds_per_step for s in window.values() if s.seconds_per_step is not None]
    ends = [s.end for s in window.values() if s.end is not None]
    return {"steps": len(window), "rate_min": min(rates), "rate_max": max(rates), "rate_spread": spread(rates),
            "end_min": min(ends), "end_max": max(ends), "end_spread": spread(ends)}


def watch_training(flags: list[str], checkout: Path | None = None) -> list[Shown]:
    """Run ``mxgan train FLAGS`` (from ``checkout``'s mxgan, if given) and return what its bar showed."""
    env = dict(os.environ)
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout.resolve())
    result = subprocess.run([sys.executable, "-m", "mxgan", "train", *flags], env=env, capture_output=True,
                            text=True, check=True, cwd=checkout or None)
    return parse_bar(result.stderr)

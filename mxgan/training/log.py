"""The example's metrics (``facc``, ``fentropy``) and the metrics.jsonl log."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np


def facc(label: np.ndarray, pred: np.ndarray) -> float:
    """D's accuracy: P(real) > 0.5 agrees with the label."""
    return float(((pred.ravel() > 0.5) == label.ravel()).mean())


def fentropy(label: np.ndarray, pred: np.ndarray) -> float:
    """Binary cross-entropy of P(real) against the label (the example's ``fentropy``)."""
    pred, label = pred.ravel(), label.ravel()
    return float(-(label * np.log(pred + 1e-12) + (1.0 - label) * np.log(1.0 - pred + 1e-12)).mean())


def step_metrics(D_x: np.ndarray, D_G_z1: np.ndarray, D_G_z2: np.ndarray) -> dict[str, float | None]:
    """Metrics of a window of steps from D's outputs, as the example accumulates them.

    ``facc`` and ``errD`` (the example's mD) average over D's fake (label 0) and
    real (label 1, also with label smoothing) passes; ``errG`` (the example's mG)
    is the G pass (label 1), None when G was not updated in the window.
    """
    ones, zeros = np.ones_like(D_x), np.zeros_like(D_G_z1)
    g_updated = D_G_z2.size > 0
    return {
        "facc": (facc(zeros, D_G_z1) + facc(ones, D_x)) / 2,
        "errD": (fentropy(zeros, D_G_z1) + fentropy(ones, D_x)) / 2,
        "errG": fentropy(np.ones_like(D_G_z2), D_G_z2) if g_updated else None,
        "D_x": float(D_x.mean()),
        "D_G_z1": float(D_G_z1.mean()),
        "D_G_z2": float(D_G_z2.mean()) if g_updated else None,
    }


class JsonlLog:
    """Appends one JSON object per line; each line is flushed so a crash keeps what was logged.

    ``path`` None writes nothing (the workers of a distributed run other than rank 0).
    """

    def __init__(self, path: Path | None):
        self.path = None if path is None else Path(path)

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        with open_in_folder(self.path) as f:
            f.write(json.dumps(record) + "\n")


class TensorboardLog:
    """Scalars and sample grids for TensorBoard (tensorboardX, the ``tensorboard`` extra)."""

    def __init__(self, folder: str):
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(folder)

    def scalars(self, record: dict, step: int, prefix: str = "") -> None:
        for key, value in record.items():
            if isinstance(value, (int, float)) and key not in ("epoch", "iteration"):
                self.writer.add_scalar(f"{prefix}{key}", value, step)

    def image(self, tag: str, grid: np.ndarray, step: int) -> None:
        """A (rows, cols, C) uint8 grid."""
        self.writer.add_image(tag, grid, step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()


class OutputAfterReader(io.TextIOBase):
    """The standard output of a training run, which outlives its reader: when the reader goes away
    (``mxgan train | head -n 2``, a closed terminal log, a full disk behind a redirection, no standard output at
    all), the run goes on and its lines go to the run folder's ``train.log`` from then on, said once on the
    standard error. A run stopped by its output would be a run lost without a word."""

    def __init__(self, stdout: TextIO | None, log_path: Path) -> None:
        self.stdout, self.log_path = stdout, log_path
        self._log: TextIO | None = None

    def write(self, text: str) -> int:
        if self._log is None and self.stdout is not None:
            try:
                self.stdout.write(text)
                self.stdout.flush()
                return len(text)
            except (OSError, ValueError) as exc:  # a closed pipe, a full disk, a closed stream
                self._switch(exc)
        if self._log is None:
            self._switch(None)
        assert self._log is not None
        self._log.write(text)
        self._log.flush()
        return len(text)

    def flush(self) -> None:
        if self._log is None and self.stdout is not None:
            try:
                self.stdout.flush()
            except (OSError, ValueError) as exc:
                self._switch(exc)

    def _switch(self, why: Exception | None) -> None:
        if self.stdout is not None:
            # what stays in the old stream's buffer goes nowhere, rather than failing again at the exit
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), self.stdout.fileno())
            except (OSError, ValueError):
                pass
        self.stdout = None
        self._log = open_in_folder(self.log_path)
        if why is None:
            gone = "there is no standard output"
        elif isinstance(why, BrokenPipeError):
            gone = "the standard output's reader went away"
        else:
            gone = f"the standard output failed ({getattr(why, 'strerror', None) or why})"
        try:
            print(f"mxgan: {gone}; training goes on, its lines go to {self.log_path}", file=sys.stderr, flush=True)
        except (OSError, ValueError, AttributeError):  # no standard error either: the log still says it all
            pass

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
        super().close()


def open_in_folder(path: Path) -> TextIO:
    """``path`` opened to append, never through a symbolic link (one there is replaced by the file itself:
    a run folder's names must not lead mxgan to write elsewhere)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    return os.fdopen(descriptor, "a", encoding="utf-8")


@contextmanager
def output_outlives_reader(log_path: Path) -> Iterator[None]:
    """Within the block, ``sys.stdout`` is an :class:`OutputAfterReader` writing to ``log_path`` once its reader
    has gone."""
    saved = sys.stdout
    sys.stdout = output = OutputAfterReader(saved, log_path)
    try:
        yield
    finally:
        sys.stdout = saved
        output.close()

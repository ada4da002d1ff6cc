"""An exponential moving average of the generator's weights (``--ema-decay``).

Averaged weights draw cleaner samples than the last step's, whose noise the
last few updates leave in them (Yazici et al. 2019; StyleGAN, BigGAN). The
average lives beside the training module, on its first device, and is updated
in place after each step that updated G; it never feeds back into training.
"""

from __future__ import annotations

import math
from pathlib import Path

import mxnet as mx

from mxgan.checkpoints.formats import Architecture, GeneratorCheckpoint
from mxgan.checkpoints.module_format import standard_params
from mxgan.checkpoints.run_folder import EmaSnapshot
from mxgan.inference.recalibrate import recalibrate_batchnorm
from mxgan.model.symbols import unpad_single_filter_params
from mxgan.runtime.compat import live_parameters

RECALIBRATION_BATCHES = 16  # training-mode batches that re-estimate the moving average's BatchNorm statistics
# G's weights are folded into the average every INTERVAL-th G update, with the decays of the updates between
# compounded (what is read or saved has the updates since folded in too): reading the weights every step cost
# 6% of a 64 px step on the 2-core CPU, every 10th 1.3% (bench/README.md), and 10 steps are short next to the
# average's span (about 1000 at decay 0.999)
INTERVAL = 10


def ema_beta(decay: float, updates: int) -> float:
    """The weight of the old average at update ``updates``: ``decay``, ramped up for short runs.

    ``min(decay, (1 + t) / (10 + t))``: the first updates follow the weights
    closely, so a run of a few hundred steps is not averaged back toward its
    random initialization.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


class GeneratorEMA:
    """The moving average of a training generator's weights (BatchNorm statistics are not averaged:
    they are re-estimated for the averaged weights, see :mod:`mxgan.inference.recalibrate`).

    Parameters
    ----------
    modG : Module
        The generator being trained (bound, initialized).
    decay : float
        The average's decay per G update, in (0, 1).
    """

    def __init__(self, modG: mx.mod.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self._live = live_parameters(modG)
        self.averages = {name: weight.copy() for name, weight in self._live.items()}
        self._scaled = {name: weight.zeros_like() for name, weight in self._live.items()}  # reused every update

    def update(self) -> None:
        """Count an update of G; every :data:`INTERVAL`-th, fold G's weights into the average, in place (no
        allocation), with the decays of the updates since the last fold compounded."""
        self.updates += 1
        if self.updates % INTERVAL == 0:
            self._fold(self.averages, INTERVAL)

    def flushed(self) -> dict[str, mx.nd.NDArray]:
        """A copy of the average with the updates since the last fold folded in: what a checkpoint, a grid or a
        quality check reads is never behind G. The average itself keeps its schedule, so that a run resumed
        from any checkpoint folds as an uninterrupted one does."""
        averages = {name: average.copy() for name, average in self.averages.items()}
        self._fold(averages, self.updates % INTERVAL)
        return averages

    def _fold(self, averages: dict[str, mx.nd.NDArray], updates: int) -> None:
        """Fold G's weights into ``averages``, in place, for the last ``updates`` updates (their decays
        compounded)."""
        if not updates:
            return
        beta = math.prod(ema_beta(self.decay, t) for t in range(self.updates - updates, self.updates))
        for name, average in averages.items():
            scaled = self._scaled[name]
            self._live[name].copyto(scaled)  # a copy into an existing buffer leaves the live weights' layout alone
            scaled *= 1.0 - beta
            average *= beta
            average += scaled

    def restore(self, arg_params: dict[str, mx.nd.NDArray], updates: int) -> None:
        """Continue from saved averages (``--resume``), in the module's parameter shapes; a ValueError, the
        average left as it was, where they are not this G's."""
        wrong = [name for name, average in self.averages.items()
                 if name not in arg_params or arg_params[name].shape != average.shape]
        if wrong:
            raise ValueError(f"no average of this G's {', '.join(wrong[:3])} (shape or name)")
        for name, average in self.averages.items():
            average[:] = arg_params[name].as_in_context(average.context)
        self.updates = updates


class EmaView:
    """G's moving average as a checkpoint (standard shapes, BatchNorm statistics re-estimated for it),
    made at most once per step: the checkpoint, the grid and the quality check share it."""

    def __init__(self, ema: GeneratorEMA, modG: mx.mod.Module, architecture: Architecture, out: Path, seed: int,
                 contexts: list[mx.Context]):
        self.ema, self.modG, self.architecture, self.out = ema, modG, architecture, out
        self.seed, self.contexts = seed, contexts
        self._snapshot: EmaSnapshot | None = None

    def snapshot(self) -> EmaSnapshot:
        if self._snapshot is None or self._snapshot.updates != self.ema.updates:
            arg_params = unpad_single_filter_params(self.modG.symbol, self.ema.flushed())
            current = GeneratorCheckpoint(self.out, "module", arg_params, standard_params(self.modG)[1],
                                          self.architecture)
            # the same z for every re-estimate of a run, so a resumed run writes the same files
            calibrated = recalibrate_batchnorm(current, RECALIBRATION_BATCHES, self.seed, contexts=self.contexts)
            running = {name: value.copy() for name, value in self.ema.averages.items()}
            self._snapshot = EmaSnapshot(calibrated.arg_params, calibrated.aux_params, self.ema.updates, running)
        return self._snapshot

    def checkpoint(self) -> GeneratorCheckpoint:
        snapshot = self.snapshot()
        return GeneratorCheckpoint(self.out, "module", snapshot.arg_params, snapshot.aux_params, self.architecture)

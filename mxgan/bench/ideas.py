"""Ideas for a faster training step, each measured against the step as it is: ``python bench/step_ideas.py``.

Each idea is timed side by side with the step without it, in alternating blocks (in one process where the
idea is a way of binding, in child processes where it is a setting MXNet or OpenMP reads at start-up: all
of those race together, see :mod:`mxgan.bench.race`),
on the default recipe's step at 64 px (one channel, two G updates). The numerics of every idea are the
example's: none changes what is computed, only how.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict

import mxnet as mx
import numpy as np

from mxgan.bench.contenders import training_step
from mxgan.bench.race import MXGAN_STEP, race
from mxgan.bench.timing import WARMUP, interleaved
from mxgan.config import BenchConfig
from mxgan.runtime.compat import gradient_arrays, live_parameters, optimizer_state_arrays
from mxgan.runtime.env import available_cores

# settings read when MXNet or OpenMP start: (what, environment)
SETTINGS = {
    "threads pinned to cores (OMP_PROC_BIND=close, OMP_PLACES=cores)": {"OMP_PROC_BIND": "close",
                                                                         "OMP_PLACES": "cores"},
    "OpenMP threads sleep when idle (OMP_WAIT_POLICY=passive)": {"OMP_WAIT_POLICY": "passive"},
    "MXNet's synchronous engine (MXNET_ENGINE_TYPE=NaiveEngine)": {"MXNET_ENGINE_TYPE": "NaiveEngine"},
    "two engine workers (MXNET_CPU_WORKER_NTHREADS=2)": {"MXNET_CPU_WORKER_NTHREADS": "2"},
    "no bulk execution (MXNET_EXEC_BULK_EXEC_TRAIN=0)": {"MXNET_EXEC_BULK_EXEC_TRAIN": "0"},
}


def steps_per_second(cfg: BenchConfig, batch: int, *, d_input_gradient: bool = False) -> Callable[[], None]:
    """A block of ``cfg.steps`` steps, each waited for, as the trainer runs them; ``d_input_gradient``: D's own
    passes compute the gradient of D's input too (as before this was measured)."""
    step, _ = training_step(cfg, batch, d_input_gradient=d_input_gradient)

    def block() -> None:
        for _ in range(cfg.steps):
            step().wait()

    return block


def denormal_share(cfg: BenchConfig, batch: int, steps: int = 100) -> float:
    """The share of G's and D's weights, gradients and Adam moments that are subnormal after ``steps`` steps
    (such numbers slow x86 arithmetic down many times over; flushing them to zero would be the fix)."""
    step, gan = training_step(cfg, batch)
    for _ in range(steps):
        step().wait()
    arrays = []
    for module in (gan.modG, gan.modD):
        arrays += [*live_parameters(module).values(), *(grads[0] for grads in gradient_arrays(module)),
                   *optimizer_state_arrays(module)]
    values = np.concatenate([a.asnumpy().ravel() for a in arrays])
    tiny = np.finfo(np.float32).tiny
    return float(((values != 0) & (np.abs(values) < tiny)).mean())


def host_share(cfg: BenchConfig, batch: int) -> float:
    """The share of a step that Python spends queueing it (the rest is waited for): the host work a faster
    host path could hide."""
    step, _ = training_step(cfg, batch)
    for _ in range(WARMUP):
        step().wait()
    queued = waited = 0.0
    for _ in range(cfg.steps * cfg.repeats):
        began = time.perf_counter()
        outputs = step()
        queued += time.perf_counter() - began
        outputs.wait()
        waited += time.perf_counter() - began
    return queued / waited


def run(cfg: BenchConfig, batch: int) -> list[tuple[str, float, float]]:
    """``(idea, images/s without it, images/s with it)`` for every idea, each pair measured side by side."""
    seconds = interleaved({"before": steps_per_second(cfg, batch, d_input_gradient=True),
                           "lean": steps_per_second(cfg, batch)},
                          dict.fromkeys(("before", "lean"), mx.nd.waitall), cfg.repeats)
    pairs = [("D's own passes without the gradient of D's input", seconds["before"], seconds["lean"])]
    contenders = {"as it is": (MXGAN_STEP, {}), **{what: (MXGAN_STEP, env) for what, env in SETTINGS.items()}}
    raced = race(contenders, asdict(cfg), batch, cfg.repeats)
    pairs += [(what, raced["as it is"]["train"], raced[what]["train"]) for what in SETTINGS]
    images = cfg.steps * batch
    return [(what, images / before, images / after) for what, before, after in pairs]


def measure_ideas(cfg: BenchConfig, batch: int) -> str:
    """The table of every idea, as printed (each line printed as soon as it is measured)."""
    lines = [f"step ideas, 64x64x1, batch {batch}, 2 G updates, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
             f"{available_cores()} cores; images/s, median of {cfg.repeats} blocks of {cfg.steps} steps",
             f"Python's share of a step spent queueing it: {host_share(cfg, batch):.1%}",
             f"subnormal numbers among weights, gradients and Adam's moments after 100 steps: "
             f"{denormal_share(cfg, batch):.2e}"]
    print("\n".join(lines), flush=True)
    for what, base, idea in run(cfg, batch):
        lines.append(f"{idea / base:6.3f}x  {base:6.1f} -> {idea:6.1f}  {what}")
        print(lines[-1], flush=True)
    return "\n".join(lines)

"""Timing blocks of work fairly: each block waited for, warm-up first, the median of alternating repeats.
(No framework is imported here: PyTorch's children of :mod:`mxgan.bench.race` use it too.)"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

WARMUP = 2  # untimed blocks before the first timed one (MKLDNN's primitives, torch.compile's kernels)


def timed(run: Callable[[], None], sync: Callable[[], None]) -> float:
    """Seconds of one block: ``run``, then ``sync`` (wait for the work queued)."""
    start = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - start


def interleaved(contenders: dict[str, Callable[[], None]], syncs: dict[str, Callable[[], None]],
                repeats: int) -> dict[str, float]:
    """Median seconds per call of each contender, in this process, repeats alternating between them."""
    for name, run in contenders.items():
        for _ in range(WARMUP):
            timed(run, syncs[name])
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, run in contenders.items():
            times[name].append(timed(run, syncs[name]))
    return {name: statistics.median(t) for name, t in times.items()}

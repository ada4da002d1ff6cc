"""Every random stream of a run, each with its own id, and keys of one fixed length.

NumPy pads a seed key with zeros, so ``[seed, 1]`` and ``[seed, 1, 0]`` give the same generator: keys of
different lengths collide. Here every key is ``[seed, stream id, position...]`` padded to one length,
and each stream always gives the same number of positions, so two draws share a generator only when
they are the same draw.
"""

from __future__ import annotations

import numpy as np

STREAMS = {"shuffle": 0, "noise": 1, "grid": 2, "quality": 3, "digits": 4, "records": 5, "recalibrate": 6,
           "classifier": 7}
KEY_LENGTH = 6  # seed, stream id, and up to four positions (iteration, batch index, worker rank, ...)


def stream(seed: int, name: str, *position: int) -> np.random.Generator:
    """The generator of stream ``name`` at ``position`` (for example an iteration, a batch, a worker)."""
    if len(position) > KEY_LENGTH - 2:
        raise ValueError(f"stream {name!r}: at most {KEY_LENGTH - 2} positions, got {len(position)}")
    key = [seed, STREAMS[name], *position]
    return np.random.default_rng(key + [0] * (KEY_LENGTH - len(key)))

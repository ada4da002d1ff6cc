"""Random streams: each draw of a run has a generator of its own, and a seed repeats them all."""

import itertools

import numpy as np

from mxgan.model.latent import fixed_noise, noise_batch
from mxgan.runtime.streams import STREAMS, stream


def _first(generator: np.random.Generator) -> float:
    return float(generator.random())


def test_no_two_draws_share_a_generator():
    # what used to collide: NumPy pads keys with zeros, so [seed, 1] == [seed, 1, 0]
    draws = [(name, position) for name in STREAMS for position in itertools.product(range(3), repeat=2)]
    values = {_first(stream(7, name, *position)) for name, position in draws}
    assert len(values) == len(draws)
    assert not np.array_equal(fixed_noise(7, 8, 4), noise_batch(7, 0, 8, 4))  # the grid's z is no training z
    assert not np.array_equal(noise_batch(7, 0, 8, 4), noise_batch(7, 0, 8, 4, index=1))
    assert not np.array_equal(noise_batch(7, 0, 8, 4), noise_batch(7, 0, 8, 4, rank=1))


def test_a_seed_repeats_every_stream_and_another_changes_them():
    for name in STREAMS:
        assert _first(stream(3, name, 5)) == _first(stream(3, name, 5))
        assert _first(stream(3, name, 5)) != _first(stream(4, name, 5))

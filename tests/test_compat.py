"""MXNet's private API as mxgan uses it (runtime/compat.py): each use pinned, so an upgrade that moves one fails."""

import os

import mxnet as mx
import numpy as np

from mxgan.model.modules import GanSpec, build_gan
from mxgan.runtime.compat import (
    UPDATE_ON_KVSTORE,
    adam_in_kvstore,
    gradient_arrays,
    live_parameters,
    optimizer_counts,
    restore_optimizer_counts,
)
from mxgan.training.step import Labels, StepInputs, train_step


def _gan():
    gan = build_gan(GanSpec(4, 10, 8, 8, 1, 16), [mx.cpu()])
    gan.attach_optimizers()
    return gan


def _step(gan):
    rng = np.random.default_rng(0)
    real, z = rng.uniform(-1, 1, (4, 1, 16, 16)), rng.standard_normal((4, 10, 1, 1))
    inputs = StepInputs(mx.nd.array(real), [mx.nd.array(z)])
    train_step(gan.modG, gan.modD, inputs, Labels.create(4), modD_G=gan.modD_G)
    mx.nd.waitall()


def test_gradient_arrays_are_the_buffers_backward_fills():
    gan = _gan()
    _step(gan)
    grads = dict(zip(gan.modD._param_names, gradient_arrays(gan.modD)))
    assert all(np.abs(grads[name][0].asnumpy()).sum() > 0 for name in grads if name.endswith("_weight"))


def test_live_parameters_move_with_each_update_without_copies():
    gan = _gan()
    live = live_parameters(gan.modG)
    assert set(live) == set(gan.modG.get_params()[0])
    before = live["g1_weight"].asnumpy().copy()
    _step(gan)
    assert np.abs(live["g1_weight"].asnumpy() - before).max() > 0  # the same array, updated in place


def test_optimizer_counts_round_trip():
    gan = _gan()
    _step(gan)
    _step(gan)
    saved = optimizer_counts(gan.optG)
    assert saved["num_update"] == 2 and all(c == 2 for _, counts in saved["per_device"] for _, c in counts)
    fresh = _gan()
    restore_optimizer_counts(fresh.optG, saved)
    assert optimizer_counts(fresh.optG) == saved


def test_adam_in_kvstore_sets_mxnets_switch_and_puts_it_back():
    before = os.environ.get(UPDATE_ON_KVSTORE)
    with adam_in_kvstore(False):
        assert os.environ[UPDATE_ON_KVSTORE] == "0"
    assert os.environ.get(UPDATE_ON_KVSTORE) == before

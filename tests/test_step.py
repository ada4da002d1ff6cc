"""The training step: same math as the example's, and each update touches only its own network."""

import mxnet as mx
import numpy as np
import pytest

from mxgan.bench.example_step import bind_example_modules, example_step
from mxgan.checkpoints.module_format import module_params
from mxgan.config import RECIPES
from mxgan.model.modules import GanSpec, build_gan
from mxgan.model.symbols import make_dcgan_sym
from mxgan.runtime.compat import gradient_arrays
from mxgan.training.step import Labels, StepInputs, accumulate_gradients, train_step

EXAMPLE = RECIPES["example"]  # the loop is compared with the example's under the example's own settings
BATCH, NZ, NGF, NDF, NC, SIZE = 8, 16, 8, 8, EXAMPLE["channels"], 32
CTX = [mx.cpu()]


def _params(mod):
    return {k: v.asnumpy().copy() for k, v in module_params(mod).items()}


def _copy_params(src, dst):
    arg, aux = src.get_params()
    dst.set_params(arg, aux)


def _batches(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (mx.nd.array(rng.uniform(-1, 1, (BATCH, NC, SIZE, SIZE)).astype(np.float32)),
         mx.nd.array(rng.standard_normal((BATCH, NZ, 1, 1)).astype(np.float32)))
        for _ in range(steps)
    ]


def _gan(d_input_gradient):
    mx.random.seed(1)
    gan = build_gan(GanSpec(BATCH, NZ, NGF, NDF, NC, SIZE, lr_g=EXAMPLE["lr_g"], lr_d=EXAMPLE["lr_d"],
                            beta1=EXAMPLE["beta1"], beta2=EXAMPLE["beta2"], d_input_gradient=d_input_gradient), CTX)
    gan.attach_optimizers()
    return gan


@pytest.fixture
def gan():
    """D as the example binds it: the gradient of its input in every pass (G can be pushed through D itself)."""
    return _gan(d_input_gradient=True)


@pytest.fixture
def modules(gan):
    return gan.modG, gan.modD


@pytest.mark.parametrize("input_gradient_module", [True, False], ids=["modD_G", "modD"])
def test_step_matches_the_examples_transcription(input_gradient_module):
    # mxgan's own modules: D's passes without its input's gradient, G pushed through the view that has it
    gan = _gan(d_input_gradient=not input_gradient_module)
    modG, modD = gan.modG, gan.modD
    symG, symD = make_dcgan_sym(NGF, NDF, NC, image_size=SIZE)
    refG, refD = bind_example_modules(symG, symD, BATCH, NZ, (NC, SIZE, SIZE), CTX)
    _copy_params(modG, refG)
    _copy_params(modD, refD)
    start = {**_params(modG), **_params(modD)}
    labels = Labels.create(BATCH)
    for real, noise in _batches(3):
        train_step(modG, modD, StepInputs(real, [noise]), labels, modD_G=gan.modD_G if input_gradient_module else None)
        example_step(refG, refD, real, noise, BATCH)
    got = {**_params(modG), **_params(modD)}
    want = {**_params(refG), **_params(refD)}
    assert got.keys() == want.keys() == start.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, rtol=0, err_msg=name)
    # both loops really trained: every weight and every moving statistic moved
    moved = [n for n in want if np.abs(want[n] - start[n]).max() > 1e-6]
    assert set(moved) >= {n for n in want if n.endswith(("_weight", "_moving_mean", "_moving_var"))}


def test_steps_change_both_networks(modules):
    modG, modD = modules
    before_G, before_D = _params(modG), _params(modD)
    labels = Labels.create(BATCH)
    for real, noise in _batches(2):
        train_step(modG, modD, StepInputs(real, [noise]), labels)
    for before, mod in ((before_G, modG), (before_D, modD)):
        after = _params(mod)
        assert all(np.abs(after[k] - before[k]).max() > 0 for k in before if k.endswith("_weight"))


def test_g_update_leaves_d_unchanged_and_d_update_leaves_g_unchanged(modules):
    modG, modD = modules
    labels = Labels.create(BATCH)
    (real, noise), = _batches(1)
    modG.forward(mx.io.DataBatch([noise]), is_train=True)
    fake = modG.get_outputs()

    g_before, d_before = _params(modG), _params(modD)
    accumulate_gradients(modD, [mx.io.DataBatch(fake, [labels.fake]), mx.io.DataBatch([real], [labels.real])])
    modD.update()
    g_after_d = _params(modG)
    assert all(np.array_equal(g_after_d[k], g_before[k]) for k in g_before)
    assert any(not np.array_equal(_params(modD)[k], d_before[k]) for k in d_before)

    d_before = {k: v for k, v in _params(modD).items() if k.startswith("d")}
    d_args_before = {k: v for k, v in d_before.items() if "moving" not in k}
    modD.forward(mx.io.DataBatch(fake, [labels.real]), is_train=True)
    modD.backward()
    modG.backward(modD.get_input_grads())
    modG.update()
    d_after = _params(modD)
    assert all(np.array_equal(d_after[k], v) for k, v in d_args_before.items())
    assert any(not np.array_equal(_params(modG)[k], g_after_d[k]) for k in g_after_d)


def test_accumulate_gradients_sums_the_passes_and_forgets_earlier_ones(modules):
    """grad('add' over fake then real) == grad(fake) + grad(real), each from a 'write' module."""
    _, modD = modules
    symD = make_dcgan_sym(NGF, NDF, NC, image_size=SIZE)[1]
    plain = mx.mod.Module(symD, data_names=("data",), label_names=("label",), context=CTX)
    plain.bind(data_shapes=[("data", (BATCH, NC, SIZE, SIZE))], label_shapes=[("label", (BATCH,))],
               inputs_need_grad=True)
    _copy_params(modD, plain)
    labels = Labels.create(BATCH)
    (fake, _), (real, _) = _batches(2, seed=3)
    batches = [mx.io.DataBatch([fake], [labels.fake]), mx.io.DataBatch([real], [labels.real])]

    expected = []
    for batch in batches:
        plain.forward(batch, is_train=True)
        plain.backward()
        expected.append([g[0].asnumpy().copy() for g in gradient_arrays(plain)])
    # stale gradients from an earlier pass must not leak into the sum
    modD.forward(batches[1], is_train=True)
    modD.backward()
    outputs = accumulate_gradients(modD, batches)

    got = [g[0].asnumpy() for g in gradient_arrays(modD)]
    for g, e_fake, e_real in zip(got, *expected):
        np.testing.assert_allclose(g, e_fake + e_real, atol=1e-6, rtol=1e-5)
    assert [o.shape for o in outputs] == [(BATCH, 1), (BATCH, 1)]
    # the input gradient is the last pass's alone ('write'), which is what G's backward needs
    np.testing.assert_allclose(modD.get_input_grads()[0].asnumpy(), plain.get_input_grads()[0].asnumpy(), atol=1e-6)

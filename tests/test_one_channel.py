"""1-channel generators: MXNet 1.9.1's MKLDNN fails on a 1-filter Deconvolution's backward; ours trains."""

import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from helpers import REPO, run_cli

import mxgan
from mxgan.checkpoints.module_format import load_module_params, module_params
from mxgan.constants import G_INPUT
from mxgan.inference.sampling import bind_generator, forward
from mxgan.model.latent import fixed_noise
from mxgan.model.symbols import make_generator_sym, pad_single_filter_params


def test_one_channel_mnist_run_trains_checkpoints_and_reloads(tmp_path):
    """ngf 16 at 32 px: the configuration whose plain 1-filter backward fails under MKLDNN."""
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", "--channels", "1", "--image-size", "32", "--ngf", "16", "--ndf", "16",
                     "--batch-size", "32", "--max-steps", "30", "--seed", "4", "--out", str(run), "--no-progress")
    assert result.returncode == 0, result.stderr
    arg, aux = load_module_params(run / "mnist_G-0000-0000030.params")  # a mid-epoch checkpoint
    assert arg["g4_weight"].shape == (16, 1, 4, 4)  # the standard shape other MXNet code expects
    images = forward(bind_generator(make_generator_sym(16, 1, image_size=32), arg, aux, 32, 100),
                      fixed_noise(4, 32, 100))
    assert images.shape == (32, 1, 32, 32) and np.isfinite(images).all()


def _train_g(start: dict, pad: bool, steps: int = 3) -> dict:
    """A few G updates from ``start`` against fixed output gradients, on a padded or a plain last layer."""
    symG = make_generator_sym(8, 1, image_size=16, pad_single_filter=pad)
    mod = mx.mod.Module(symG, data_names=(G_INPUT,), label_names=None)
    mod.bind(data_shapes=[(G_INPUT, (4, 10, 1, 1))])
    arg = {k: mx.nd.array(v) for k, v in start.items() if k != "aux"}
    mod.init_params(arg_params=pad_single_filter_params(symG, arg), aux_params=start["aux"], allow_missing=False)
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.01})
    rng = np.random.default_rng(0)
    for _ in range(steps):
        mod.forward(mx.io.DataBatch([mx.nd.array(rng.standard_normal((4, 10, 1, 1)))]), is_train=True)
        mod.backward([mx.nd.array(rng.standard_normal((4, 1, 16, 16)))])
        mod.update()
    return {k: v.asnumpy() for k, v in module_params(mod).items()}


def test_padded_last_layer_trains_exactly_like_the_plain_one():
    """Compared without MKLDNN (in a child process), where the plain 1-filter layer trains: on CPUs without
    AVX-512 MKLDNN fails on it even with 8 input channels, and its BatchNorm differs from MXNet's own."""
    code = "import sys; sys.path.insert(0, 'tests'); import test_one_channel as t; t.compare_padded_and_plain()"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MXNET_MKLDNN_ENABLED": "0"})
    assert result.returncode == 0, result.stderr


def compare_padded_and_plain():
    rng = np.random.default_rng(1)
    symG = make_generator_sym(8, 1, image_size=16)
    shapes = dict(zip(symG.list_arguments(), symG.infer_shape(rand=(4, 10, 1, 1))[0]))
    start = {n: rng.normal(0, 0.02, s).astype(np.float32) for n, s in shapes.items() if n != "rand"}
    start["aux"] = {n: mx.nd.zeros(s) if "mean" in n else mx.nd.ones(s)
                    for n, s in zip(symG.list_auxiliary_states(), symG.infer_shape(rand=(4, 10, 1, 1))[2])}
    plain, padded = _train_g(start, pad=False), _train_g(start, pad=True)
    assert plain.keys() == padded.keys()
    for name in plain:
        np.testing.assert_allclose(padded[name], plain[name], atol=1e-6, err_msg=name)
    assert np.abs(plain["arg:g3_weight"]).max() > 0


@pytest.mark.parametrize("nc", [1, 3])
def test_padding_is_only_for_one_channel(nc):
    symG = make_generator_sym(8, nc, image_size=16, pad_single_filter=True)
    shapes = dict(zip(symG.list_arguments(), symG.infer_shape(rand=(2, 10, 1, 1))[0]))
    assert shapes["g3_weight"] == (8, 2 if nc == 1 else 3, 4, 4)
    assert symG.infer_shape(rand=(2, 10, 1, 1))[1] == [(2, nc, 16, 16)]


def test_a_padded_one_channel_g_saved_as_trained_loads_with_a_warning_that_names_the_way(tmp_path, caplog):
    """Your own loop with pad_single_filter=True saves a last layer of 2 filters: it is not taken silently for a
    2-channel generator."""
    symG = make_generator_sym(8, 1, image_size=16, pad_single_filter=True)
    mod = mx.mod.Module(symG, data_names=(G_INPUT,), label_names=None)
    mod.bind(data_shapes=[(G_INPUT, (2, 100, 1, 1))])
    mod.init_params(mx.init.Normal(0.02))
    mod.save_params(str(tmp_path / "padded_G.params"))
    with caplog.at_level("WARNING", logger="mxgan"):
        mxgan.load_generator(str(tmp_path / "padded_G.params"))
    assert "g3_weight draws 2 channels, which no picture has" in caplog.text
    assert "unpad_single_filter_params(symG, arg_params)" in caplog.text

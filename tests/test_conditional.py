"""Conditional DCGAN (--conditional): the digit is an input of G and D; sample --digit; eval agreement."""

import json

import cv2
import mxnet as mx
import numpy as np
import pytest
from helpers import run_cli, tiny

from mxgan.checkpoints.formats import load_generator
from mxgan.inference.sampling import generate_all
from mxgan.model.latent import noise
from mxgan.model.modules import one_hot
from mxgan.model.symbols import make_dcgan_sym

TINY = tiny(64, "--conditional", "--channels", "1", dataset="")


def test_the_digit_enters_g_and_d():
    symG, symD = make_dcgan_sym(8, 8, 1, image_size=16, conditional=True)
    args, outs, _ = symG.infer_shape(rand=(2, 100, 1, 1), cond=(2, 10, 1, 1))
    assert dict(zip(symG.list_arguments(), args))["g1_weight"] == (110, 16, 4, 4) and outs == [(2, 1, 16, 16)]
    args, outs, _ = symD.infer_shape(data=(2, 1, 16, 16), cond=(2, 10, 1, 1), label=(2,))
    assert dict(zip(symD.list_arguments(), args))["d1_weight"] == (8, 11, 4, 4) and outs == [(2, 1)]
    assert one_hot([3, 0]).shape == (2, 10, 1, 1) and one_hot([3, 0]).asnumpy()[0, 3, 0, 0] == 1


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cond") / "run"
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "40", "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


def test_a_conditional_checkpoint_knows_it_is_one(conditional_run):
    assert json.loads((conditional_run / "run.json").read_text())["conditional"] is True
    ckpt = load_generator(str(conditional_run))
    assert ckpt.arch.conditional and ckpt.arch.nz == 100  # the 10 digit channels are not latent
    z = noise(0, 4, 100)
    sevens, twos = generate_all(ckpt, z, digits=np.full(4, 7)), generate_all(ckpt, z, digits=np.full(4, 2))
    assert np.abs(sevens - twos).max() > 1e-3  # same z, another digit: another image


def test_sample_a_row_per_digit(conditional_run, tmp_path):
    result = run_cli("-m", "mxgan", "sample", "--checkpoint", str(conditional_run), "--digit", "all",
                     "--num", "30", "--out", str(tmp_path / "all.png"))
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(tmp_path / "all.png")).shape == (10 * 16, 3 * 16, 3)  # 10 rows of 3
    result = run_cli("-m", "mxgan", "sample", "--checkpoint", str(conditional_run), "--digit", "7",
                     "--num", "4", "--out", str(tmp_path / "sevens.png"))
    assert result.returncode == 0, result.stderr


def test_eval_reports_agreement_for_conditional_models(conditional_run, tmp_path):
    result = run_cli("-m", "mxgan", "eval", "--checkpoint", str(conditional_run), "--num", "200",
                     "--json", str(tmp_path / "q.json"))
    assert result.returncode == 0, result.stderr
    assert "agrees with the requested digit" in result.stdout
    assert 0 <= json.loads((tmp_path / "q.json").read_text())["agreement"] <= 1


def _unconditional_generator(path):
    symG, _ = make_dcgan_sym(8, 8, 1, image_size=16)
    mod = mx.mod.Module(symG, data_names=("rand",), label_names=None)
    mod.bind(data_shapes=[("rand", (2, 100, 1, 1))], for_training=False)
    mod.init_params(mx.init.Normal(0.02))
    mod.save_params(str(path))


@pytest.mark.parametrize("digit, expected", [
    ("7", "--digit needs a conditional model (trained with --conditional)"),
    ("12", "--digit '12' is not one of all, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
])
def test_bad_digit_requests(tmp_path, digit, expected):
    _unconditional_generator(tmp_path / "g.params")
    result = run_cli("-m", "mxgan", "sample", "--checkpoint", str(tmp_path / "g.params"), "--digit", digit,
                     "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1


def test_conditional_needs_labelled_data(tmp_path):
    result = run_cli("run_dcgan.py", *TINY, "--dataset", "synthetic", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "--conditional needs labelled data" in result.stderr

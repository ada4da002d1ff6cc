"""The shipped MNIST classifier and mxgan eval: accuracy, FID-MNIST, histograms, mode collapse."""

import json
import os

import mxnet as mx
import numpy as np
import pytest
from helpers import mnist_data_dir, one_line, run_cli, run_main

from mxgan.checkpoints.params_file import read_params
from mxgan.errors import MxganError
from mxgan.model.symbols import make_dcgan_sym
from mxgan.quality.classifier import load_classifier, load_mnist
from mxgan.quality.metrics import as_training_data, frechet_distance, measure, mnist_reference, to_classifier_input
from mxgan.runtime.amx import cpu_flags


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture(scope="module")
def references(classifier):
    return {size: mnist_reference(classifier, mnist_data_dir(), size) for size in (16, 32, 64)}


def test_shipped_classifier_is_99_percent_accurate(classifier):
    images, labels = load_mnist(mnist_data_dir(), "test")
    probs, features = classifier.predict((images.astype(np.float32) / 255)[:, None])
    assert (probs.argmax(axis=1) == labels).mean() >= 0.99
    assert features.shape == (10000, 128)


def test_classifier_training_repeats_from_its_seed(tmp_path):
    args = ["-m", "mxgan", "classifier", "train", "--train-size", "2000", "--epochs", "1", "--no-progress"]
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        result = run_cli(*args, "--seed", seed, "--out", str(tmp_path / f"{name}.params"))
        assert result.returncode == 0, result.stderr
        assert "MNIST test accuracy" in result.stdout
    a, b, c = (read_params(tmp_path / f"{n}.params") for n in "abc")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["arg:conv1_weight"], c["arg:conv1_weight"])


def test_frechet_distance_of_known_gaussians():
    same = (np.zeros(3), np.eye(3))
    assert abs(frechet_distance(same, same)) < 1e-9
    # 1-d: (mu_a - mu_b)^2 + s_a + s_b - 2 sqrt(s_a s_b) = 9 + 1 + 4 - 4
    a = (np.array([0.0]), np.array([[1.0]]))
    b = (np.array([3.0]), np.array([[4.0]]))
    assert frechet_distance(a, b) == pytest.approx(10.0)


def _mnist_as_generator_output(images: np.ndarray, size: int, channels: int) -> np.ndarray:
    """MNIST digits as a perfect generator would draw them: the training data, tiled to ``channels``."""
    return np.repeat(as_training_data(images, size), channels, axis=1)


@pytest.mark.parametrize("size, channels", [(16, 1), (32, 3), (64, 3)])
def test_real_digits_score_the_floor(classifier, references, size, channels):
    images, labels = load_mnist(mnist_data_dir(), "train")  # the floor used the first 10000: these are others
    report = measure(_mnist_as_generator_output(images[-10000:], size, channels), classifier, references[size])
    assert report.fid < 1.5 * report.fid_floor
    assert report.rare_digits == [] and report.mean_confidence > 0.9
    true_share = np.bincount(labels[-10000:], minlength=10) / 10000
    assert np.abs(np.array(report.histogram) - true_share).max() < 0.03


def test_a_collapsed_generator_is_obvious(classifier, references):
    images, labels = load_mnist(mnist_data_dir(), "test")
    one_digit = images[labels == 3][:1].repeat(500, axis=0)  # a generator that only ever draws one 3
    report = measure(_mnist_as_generator_output(one_digit, 32, 1), classifier, references[32])
    assert report.rare_digits == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert report.kl_to_uniform == pytest.approx(np.log(10), abs=0.01)
    assert report.fid > 50 * report.fid_floor


def test_to_classifier_input_shape_and_range():
    images = np.random.default_rng(0).uniform(-1, 1, (5, 3, 64, 64)).astype(np.float32)
    out = to_classifier_input(images)
    assert out.shape == (5, 1, 28, 28) and out.min() >= 0 and out.max() <= 1


def _save_generator(path, size, nc=1, ngf=8):
    symG, _ = make_dcgan_sym(ngf, ngf, nc, image_size=size)
    mod = mx.mod.Module(symG, data_names=("rand",), label_names=None)
    mod.bind(data_shapes=[("rand", (2, 100, 1, 1))], for_training=False)
    mod.init_params(mx.init.Normal(0.02))
    mod.save_params(str(path))


def test_eval_cli_prints_and_writes_the_report(tmp_path):
    _save_generator(tmp_path / "g.params", 16)
    result = run_cli("-m", "mxgan", "eval", "--checkpoint", str(tmp_path / "g.params"), "--num", "300",
                     "--json", str(tmp_path / "q.json"))
    assert result.returncode == 0, result.stderr
    assert "FID-MNIST" in result.stdout and "digits below 2%" in result.stdout
    assert "no run.json beside it says what it was trained on: measured as an MNIST generator" in result.stdout
    report = json.loads((tmp_path / "q.json").read_text())
    assert report["num"] == 300 and sum(report["histogram"]) == pytest.approx(1.0)
    assert report["fid"] > report["fid_floor"] > 0


def test_eval_json_never_replaces_a_file_unasked_nor_a_device(tmp_path):
    _save_generator(tmp_path / "g.params", 16)
    report = tmp_path / "q.json"
    report.write_text("someone's report")
    eval_to = ["-m", "mxgan", "eval", "--checkpoint", str(tmp_path / "g.params"), "--num", "100", "--json"]
    line = one_line(run_main(*eval_to, str(report)))
    assert line.endswith(f"--json {report} exists already; add --force to replace it, or choose another --json")
    assert report.read_text() == "someone's report"
    os.mkfifo(tmp_path / "pipe")
    assert one_line(run_main(*eval_to, str(tmp_path / "pipe"), "--force")).endswith(
        f"--json {tmp_path / 'pipe'} is a device or a pipe, not a file; give a file name")
    assert (tmp_path / "pipe").is_fifo()
    assert run_cli(*eval_to, str(report), "--force").returncode == 0
    assert json.loads(report.read_text())["num"] == 100


def test_eval_refuses_what_the_classifier_cannot_take(tmp_path):
    _save_generator(tmp_path / "big.params", 128, nc=3, ngf=4)
    result = run_cli("-m", "mxgan", "eval", "--checkpoint", str(tmp_path / "big.params"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "eval measures MNIST-like generators (1 or 3 channels, 16, 32 or 64 px)" in result.stderr
    assert "3-channel 128 px" in result.stderr


def test_missing_classifier_weights(tmp_path):
    with pytest.raises(MxganError, match="mxgan classifier train"):
        load_classifier(tmp_path / "none.params")


@pytest.mark.parametrize("argv, expected", [
    (["eval", "--checkpoint", "x.params", "--num", "3"], "--num must be in [10, 100000], got 3"),
    (["eval", "--checkpoint", "x.params", "--batch-size", "0"], "--batch-size must be positive"),
    (["eval", "--checkpoint", "x.params", "--dtype", "float16"], "--dtype 'float16' is not one of float32, bfloat16"),
    (["classifier", "train", "--epochs", "0"], "--epochs must be positive"),
    (["classifier", "train", "--train-size", "-5"], "--train-size must be 0 or more"),
    (["classifier", "fit"], "action 'fit' is not one of train"),
])
def test_bad_eval_and_classifier_flags(argv, expected):
    result = run_cli("-m", "mxgan", *argv)
    assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.skipif(not {"amx_bf16", "amx_tile"} <= cpu_flags(), reason="this CPU has no AMX (amx_bf16, amx_tile)")
def test_eval_in_bfloat16_agrees_with_float32(tmp_path):
    _save_generator(tmp_path / "g.params", 16)
    reports = {}
    for dtype in ("float32", "bfloat16"):
        result = run_cli("-m", "mxgan", "eval", "--checkpoint", str(tmp_path / "g.params"), "--num", "300",
                         "--dtype", dtype, "--json", str(tmp_path / f"{dtype}.json"))
        assert result.returncode == 0, result.stderr
        reports[dtype] = json.loads((tmp_path / f"{dtype}.json").read_text())
    assert "features in bfloat16" in result.stdout and reports["bfloat16"]["dtype"] == "bfloat16"
    assert reports["bfloat16"]["fid"] == pytest.approx(reports["float32"]["fid"], rel=0.05)
    assert np.abs(np.subtract(reports["bfloat16"]["histogram"], reports["float32"]["histogram"])).sum() < 0.05

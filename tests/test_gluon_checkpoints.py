"""Discriminators and nested generators written by stock Gluon code: MXNet's dc_gan example and d2l.ai's DCGAN."""

import json

import mxnet as mx
import numpy as np
import pytest
from helpers import (
    d2l_discriminator,
    d2l_generator,
    final_params,
    gluon_discriminator,
    gluon_generator,
    one_line,
    run_cli,
    run_main,
    tiny,
)

from mxgan.checkpoints.formats import load_discriminator, load_generator, sibling_discriminator
from mxgan.errors import MxganError
from mxgan.inference.sampling import discriminator_scores, generate_all

NZ = 20


def _save(net, path, api="save_parameters"):
    net.save_parameters(str(path)) if api == "save_parameters" else net.collect_params().save(str(path))
    return path


def _gluon_p_real(net, images: np.ndarray) -> np.ndarray:
    """P(real) as the Gluon example computes it: softmax over its (fake, real) logits."""
    logits = net(mx.nd.array(images)).reshape((len(images), 2))
    return mx.nd.softmax(logits, axis=1)[:, 1].asnumpy()


@pytest.mark.parametrize("ndf, nc, size", [(8, 1, 16), (8, 3, 32), (4, 3, 64)])
@pytest.mark.parametrize("api", ["save_parameters", "collect_params"])
def test_gluon_discriminator_scores_as_gluon_does(tmp_path, api, ndf, nc, size):
    net = gluon_discriminator(ndf, nc, size)
    ckpt = load_discriminator(str(_save(net, tmp_path / "netD.params", api)))
    assert (ckpt.ndf, ckpt.nc, ckpt.image_size) == (ndf, nc, size) and ckpt.learns_gamma
    images = np.random.default_rng(0).uniform(-1, 1, (6, nc, size, size)).astype(np.float32)
    np.testing.assert_allclose(discriminator_scores(ckpt, images), _gluon_p_real(net, images), atol=1e-5)


@pytest.mark.parametrize("ngf, nc, size", [(8, 1, 16), (8, 3, 32), (4, 3, 64)])
def test_d2l_nested_generator_draws_what_gluon_draws(tmp_path, ngf, nc, size):
    net = d2l_generator(ngf, nc, size, NZ)
    ckpt = load_generator(str(_save(net, tmp_path / "net_G.params")))
    assert ckpt.format == "gluon" and ckpt.learns_gamma
    assert (ckpt.arch.nz, ckpt.arch.ngf, ckpt.arch.nc, ckpt.arch.image_size) == (NZ, ngf, nc, size)
    z = np.random.default_rng(1).standard_normal((4, NZ, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(generate_all(ckpt, z), net(mx.nd.array(z)).asnumpy(), atol=1e-5)


@pytest.mark.parametrize("network, load, expected", [
    (lambda: gluon_discriminator(8, 3, 32), load_generator, "is a discriminator"),  # D where G is needed
    (lambda: gluon_generator(8, 3, 32, NZ), load_discriminator, r"^--discriminator .* is a generator \(G\) checkpoint"),
    (lambda: d2l_discriminator(8, 3, 32), load_discriminator, "BatchNorm after convolution 1 .as d2l.ai's"),
], ids=["gluon-D-as-G", "gluon-G-as-D", "d2l-D"])
def test_the_wrong_gluon_network_is_refused_with_the_reason(tmp_path, network, load, expected):
    path = _save(network(), tmp_path / "net.params")
    with pytest.raises(MxganError, match=expected):
        load(str(path))


def test_the_gluon_examples_file_names_pair_g_with_d(tmp_path):
    pathG = _save(gluon_generator(8, 3, 32, NZ), tmp_path / "generator_epoch_3.params")
    pathD = _save(gluon_discriminator(8, 3, 32), tmp_path / "discriminator_epoch_3.params")
    assert sibling_discriminator(pathG) == pathD


@pytest.fixture(scope="module")
def gluon_pair(tmp_path_factory):
    """A 16 px Gluon G and D, as MXNet's Gluon dc_gan example saves them, and the D network itself."""
    folder = tmp_path_factory.mktemp("gluon-run")
    netD = gluon_discriminator(8, 3, 16)
    return (_save(gluon_generator(8, 3, 16, NZ), folder / "generator.params"),
            _save(netD, folder / "discriminator.params"), netD)


def test_sample_nice_keeps_the_images_the_gluon_discriminator_likes_best(tmp_path, gluon_pair):
    pathG, pathD, netD = gluon_pair
    common = ["-m", "mxgan", "sample", "--checkpoint", str(pathG), "--seed", "3"]
    nice = run_main(*common, "--nice", "--discriminator", str(pathD), "--num", "4", "--out", str(tmp_path / "n.png"),
                    "--npy", str(tmp_path / "nice.npy"))
    assert nice.returncode == 0, nice.stderr
    # --nice draws 20x the z of a plain run with the same seed: the same 80 images, 4 of them kept
    plain = run_main(*common, "--num", "80", "--out", str(tmp_path / "p.png"), "--npy", str(tmp_path / "all.npy"))
    assert plain.returncode == 0, plain.stderr
    drawn = np.load(tmp_path / "all.npy")
    best_by_gluon = drawn[np.argsort(-_gluon_p_real(netD, drawn), kind="stable")[:4]]
    np.testing.assert_allclose(np.load(tmp_path / "nice.npy"), best_by_gluon, atol=1e-5)


@pytest.mark.parametrize("problem, expected", [
    ("missing", "--discriminator {spec}: no such file"),
    ("text", "--discriminator {spec}: not a valid MXNet .params file"),
    ("generator", "--discriminator {spec} is a generator (G) checkpoint"),
    ("other size", "--discriminator {spec} takes 3x32px images, but the generator makes 3x16px"),
])
def test_sample_discriminator_errors_name_the_flag(tmp_path, gluon_pair, problem, expected):
    pathG, _, _ = gluon_pair
    (tmp_path / "notes.params").write_text("not weights")
    spec = {"missing": tmp_path / "nothing.params", "generator": pathG, "text": tmp_path / "notes.params",
            "other size": _save(gluon_discriminator(8, 3, 32), tmp_path / "d32.params")}[problem]
    err = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", str(pathG), "--nice", "--discriminator",
                             str(spec), "--out", str(tmp_path / "s.png")))
    assert expected.format(spec=spec) in err and "--checkpoint" not in err.replace(str(pathG), "")
    assert not (tmp_path / "s.png").exists()


TRAIN = ["run_dcgan.py", *tiny(4, "--nz", str(NZ), "--channels", "3")]


def test_train_starts_d_from_a_gluon_discriminator(tmp_path, gluon_pair):
    pathG, pathD, _ = gluon_pair
    run = tmp_path / "run"
    result = run_cli(*TRAIN, "--checkpoint", str(pathG), "--discriminator", str(pathD), "--max-steps", "1",
                     "--lr", "1e-12", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert f"D from {pathD} (gluon)" in result.stdout
    options = json.loads((run / "run.json").read_text())
    assert options["d_fix_gamma"] is False  # Gluon's learned gamma keeps counting, and being learned
    trained, start = final_params(run)["D"], load_discriminator(str(pathD))
    for name, value in start.arg_params.items():  # one step at lr 1e-12: D is the Gluon D it started from
        np.testing.assert_allclose(trained[name], value.asnumpy(), atol=1e-6, err_msg=name)


def test_train_discriminator_of_another_width_is_one_line_before_any_folder(tmp_path, gluon_pair):
    pathG, _, _ = gluon_pair
    pathD = _save(gluon_discriminator(16, 3, 16), tmp_path / "wide.params")
    run = tmp_path / "run"
    err = one_line(run_cli(*TRAIN, "--checkpoint", str(pathG), "--discriminator", str(pathD), "--out", str(run)))
    assert f"error: --discriminator {pathD}: parameter d1_weight has shape (16, 3, 4, 4)" in err
    assert "--ndf 16" in err and not run.exists()


def test_train_discriminator_that_does_not_exist_names_the_flag(tmp_path):
    err = one_line(run_cli(*TRAIN, "--discriminator", str(tmp_path / "no.params"), "--out", str(tmp_path / "r")))
    assert f"--discriminator {tmp_path / 'no.params'}: no such file" in err
    assert not (tmp_path / "r").exists()


def _kernel(*shape):
    return mx.nd.zeros(shape)


@pytest.mark.parametrize("params, expected", [
    ({"0.weight": _kernel(20, 32, 4, 4), "1.weight": _kernel(32, 16, 4, 4)}, "a DCGAN has at least 3"),
    ({"0.weight": _kernel(20, 32, 4, 4), "1.weight": _kernel(7, 16, 4, 4), "2.weight": _kernel(16, 3, 4, 4)},
     "chain neither as a DCGAN generator's nor as a discriminator's"),
    ({"0.weight": _kernel(20, 32, 4, 4), "1.weight": _kernel(32, 16, 4, 4), "2.weight": _kernel(16, 3, 4, 4)},
     "with 3 convolutions has 2 BatchNorms in a DCGAN, not 0"),
    ({"0.weight": _kernel(20, 32, 4, 4), "0.gamma": _kernel(32)}, "the Gluon block 0 with fields ['gamma', 'weight']"),
    ({"0.a.weight": _kernel(20, 32, 4, 4), "0.b.weight": _kernel(32, 16, 4, 4)}, "have no single network order"),
], ids=["too-few-layers", "widths-do-not-chain", "batchnorms-missing", "mixed-block", "no-order"])
def test_gluon_files_that_are_no_dcgan_are_one_line(tmp_path, params, expected):
    mx.nd.save(str(tmp_path / "x.params"), params)
    with pytest.raises(MxganError) as info:
        load_generator(str(tmp_path / "x.params"))
    assert expected in str(info.value) and "\n" not in str(info.value)

"""mxgan sample and mxgan export, as users run them, on checkpoints stock MXNet code writes."""

import cv2
import mxnet as mx
import numpy as np
import pytest
from helpers import fixtures, one_line, run_cli, run_main

from mxgan.checkpoints.formats import load_discriminator, load_generator
from mxgan.inference.sampling import discriminator_scores, generate_all
from mxgan.model.latent import noise

FIXTURES = fixtures()  # made by stock MXNet on first use (CI's shared copy is checked against them elsewhere)
MODULE_G = FIXTURES / "module_save_params" / "mnist_G_2017_10_09-10_00-0000.params"
MODULE_D = FIXTURES / "module_save_params" / "mnist_D_2017_10_09-10_00-0000.params"
GLUON_G = FIXTURES / "gluon_save_parameters" / "generator_epoch_0.params"


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_eval_mode_image_depends_only_on_its_own_z():
    ckpt = load_generator(str(MODULE_G))
    z = noise(0, 8, 100)
    other = z.copy()
    other[1:] = noise(1, 7, 100)  # same first z, different companions
    eval_a, eval_b = generate_all(ckpt, z, "eval"), generate_all(ckpt, other, "eval")
    train_a, train_b = generate_all(ckpt, z, "train"), generate_all(ckpt, other, "train")
    assert np.abs(eval_a[0] - eval_b[0]).max() < 1e-6
    assert np.abs(train_a[0] - train_b[0]).max() > 1e-3  # batch statistics: the companions matter
    # eval mode does not depend on how the batch is chunked either
    assert np.abs(generate_all(ckpt, z, "eval", batch_size=3) - eval_a).max() < 1e-6


def test_sample_writes_grid_npy_and_separate_files_repeatably(tmp_path):
    args = ["-m", "mxgan", "sample", "--checkpoint", str(MODULE_G), "--num", "9"]
    _ok(run_main(*args, "--out", str(tmp_path / "a.png"), "--npy", str(tmp_path / "a.npy"),
                 "--separate", str(tmp_path / "each"), "--seed", "5"))
    _ok(run_main(*args, "--out", str(tmp_path / "b.png"), "--npy", str(tmp_path / "b.npy"), "--seed", "5"))
    _ok(run_main(*args, "--out", str(tmp_path / "c.png"), "--npy", str(tmp_path / "c.npy"), "--seed", "6"))
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    assert a.shape == (9, 3, 64, 64) and a.dtype == np.float32 and np.abs(a).max() <= 1
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert cv2.imread(str(tmp_path / "a.png")).shape == (3 * 64, 3 * 64, 3)
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [f"{i:04d}.png" for i in range(9)]
    first = cv2.cvtColor(cv2.imread(str(tmp_path / "each" / "0000.png")), cv2.COLOR_BGR2RGB)
    expected = np.clip((a[0].transpose(1, 2, 0) + 1) * 127.5, 0, 255).astype(np.uint8)
    assert np.abs(first.astype(int) - expected).max() <= 1


def test_nice_keeps_what_the_discriminator_likes_best(tmp_path):
    common = ["-m", "mxgan", "sample", "--checkpoint", str(MODULE_G), "--num", "8", "--seed", "3"]
    _ok(run_main(*common, "--nice", "--out", str(tmp_path / "nice.png"), "--npy", str(tmp_path / "nice.npy")))
    _ok(run_main(*common, "--out", str(tmp_path / "plain.png"), "--npy", str(tmp_path / "plain.npy")))
    ckptD = load_discriminator(str(MODULE_D))
    nice = discriminator_scores(ckptD, np.load(tmp_path / "nice.npy"))
    plain = discriminator_scores(ckptD, np.load(tmp_path / "plain.npy"))
    assert nice.min() >= np.median(plain) and nice.mean() > plain.mean()
    assert np.all(np.diff(nice) <= 1e-6)  # best first


def test_nice_without_a_discriminator_is_one_line(tmp_path):
    err = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", str(GLUON_G), "--nice",
                                   "--out", str(tmp_path / "x.png")))
    assert "--nice needs the discriminator" in err and "--discriminator FILE" in err
    assert not (tmp_path / "x.png").exists()


def test_interpolation_rows_walk_smoothly_between_their_ends(tmp_path):
    _ok(run_main("-m", "mxgan", "sample", "--checkpoint", str(MODULE_G), "--interpolate", "2", "--num", "16",
                 "--out", str(tmp_path / "walk.png"), "--npy", str(tmp_path / "walk.npy")))
    walk = np.load(tmp_path / "walk.npy").reshape(2, 8, 3, 64, 64)
    assert cv2.imread(str(tmp_path / "walk.png")).shape == (2 * 64, 8 * 64, 3)
    for row in walk:
        steps = [np.abs(row[i + 1] - row[i]).mean() for i in range(7)]
        assert max(steps) < np.abs(row[-1] - row[0]).mean()


@pytest.mark.parametrize("flags, expected", [
    (["--num", "0"], "--num must be in [1, 100000], got 0"),
    (["--interpolate", "20", "--num", "8"], "--interpolate 20 must be between 1 and --num (8)"),
    (["--out", "/etc/hostname/grid.png"], "/etc/hostname is a file, not a folder"),
    (["--bn", "batch"], "--bn 'batch' is not one of eval, train"),
    (["--discriminator", str(MODULE_D)], "--discriminator scores the samples of --nice; add --nice"),
])
def test_bad_sample_flags(flags, expected):
    err = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", str(MODULE_G), *flags))
    assert expected in err


def test_missing_checkpoint_for_sample(tmp_path):
    err = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", str(tmp_path / "none.params"),
                                   "--out", str(tmp_path / "g.png")))
    assert "no such file" in err


# --- export -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder, spec", [("gluon_save_parameters", GLUON_G), ("module_save_params", MODULE_G)])
def test_export_loads_in_stock_mxnet_module_and_symbolblock(tmp_path, folder, spec):
    prefix = tmp_path / "gen"
    _ok(run_main("-m", "mxgan", "export", "--checkpoint", str(spec), "--out", str(prefix)))
    z, expected = np.load(FIXTURES / folder / "z.npy"), np.load(FIXTURES / folder / "expected.npy")

    mod = mx.mod.Module.load(str(prefix), 0, data_names=("rand",), label_names=None)
    mod.bind(data_shapes=[("rand", z.shape)], for_training=False)
    mod.forward(mx.io.DataBatch([mx.nd.array(z)]), is_train=False)
    assert np.abs(mod.get_outputs()[0].asnumpy() - expected).max() <= 1e-4

    block = mx.gluon.nn.SymbolBlock.imports(f"{prefix}-symbol.json", ["rand"], f"{prefix}-0000.params")
    assert np.abs(block(mx.nd.array(z)).asnumpy() - expected).max() <= 1e-4


def test_export_onnx_runs_in_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="install the onnx extra (see README)")
    prefix = tmp_path / "gen"
    _ok(run_cli("-m", "mxgan", "export", "--checkpoint", str(GLUON_G), "--out", str(prefix), "--onnx"))
    z = np.load(FIXTURES / "gluon_save_parameters" / "z.npy")
    mxnet_out = generate_all(load_generator(str(GLUON_G)), z)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(f"{prefix}.onnx", options)
    name = session.get_inputs()[0].name
    assert np.abs(session.run(None, {name: z})[0] - mxnet_out).max() <= 1e-4
    assert session.run(None, {name: z[:3]})[0].shape == (3, 3, 64, 64)  # any batch size


def test_export_onnx_without_onnx_says_how_to_install(tmp_path):
    argv = ["export", "--checkpoint", str(MODULE_G), "--out", str(tmp_path / "g"), "--onnx"]
    code = f"import sys; sys.modules['onnx'] = None; from mxgan.cli import main; sys.exit(main({argv!r}))"
    err = one_line(run_cli("-c", code))
    assert "--onnx needs the onnx package: pip install '.[onnx]'" in err


def test_export_to_an_unwritable_place(tmp_path):
    err = one_line(run_main("-m", "mxgan", "export", "--checkpoint", str(MODULE_G),
                                   "--out", "/etc/hostname/gen"))
    assert "is a file, not a folder" in err

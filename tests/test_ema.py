"""Generator EMA, precise BatchNorm and the training recipes."""

import math
from dataclasses import replace

import mxnet as mx
import numpy as np
import pytest
from helpers import run_cli, run_main, tiny

from mxgan.checkpoints.formats import load_generator
from mxgan.checkpoints.params_file import read_params
from mxgan.checkpoints.run_folder import read_run_state
from mxgan.cli import build_parser
from mxgan.commands.train import config
from mxgan.config import RECIPES
from mxgan.inference.recalibrate import recalibrate_batchnorm
from mxgan.inference.sampling import generate_all
from mxgan.model.latent import noise
from mxgan.model.modules import GanSpec, build_gan
from mxgan.training.ema import INTERVAL, GeneratorEMA, ema_beta

TINY = tiny(500)


def _config(tmp_path, *flags):
    args = build_parser().parse_args(["train", "--out", str(tmp_path / "run"), *flags])
    return config(args)


def test_default_recipe_trains_on_the_datas_own_channels(tmp_path):
    assert _config(tmp_path).channels == 1  # mnist is gray
    assert _config(tmp_path, "--dataset", "fashion-mnist").channels == 1
    assert _config(tmp_path, "--dataset", "folder", "--data-dir", str(tmp_path)).channels == 3
    assert _config(tmp_path, "--channels", "3").channels == 3  # the example's tiling, on request


def test_recipe_example_restores_every_default_of_the_example(tmp_path):
    cfg = _config(tmp_path, "--recipe", "example")
    assert (cfg.channels, cfg.batch_size, cfg.lr_g, cfg.lr_d, cfg.beta1, cfg.beta2, cfg.g_steps, cfg.ema_decay) == (
        3, 64, 2e-4, 2e-4, 0.5, 0.999, 1, 0.0)
    assert {k: getattr(cfg, k) for k in RECIPES["example"]} == RECIPES["example"]
    # a flag given explicitly wins over its recipe; --lr sets both networks' rates
    cfg = _config(tmp_path, "--recipe", "example", "--lr", "1e-4", "--lr-d", "3e-4", "--ema-decay", "0.99")
    assert (cfg.lr_g, cfg.lr_d, cfg.ema_decay) == (1e-4, 3e-4, 0.99)


def test_ema_ramps_up_then_holds_its_decay():
    assert ema_beta(0.999, 0) == pytest.approx(0.1)
    assert ema_beta(0.999, 90) == pytest.approx(0.91)
    assert ema_beta(0.999, 10 ** 6) == 0.999
    assert all(ema_beta(0.999, t) <= ema_beta(0.999, t + 1) for t in range(2000))


def test_ema_folds_the_live_weights_every_interval_with_the_decays_compounded():
    gan = build_gan(GanSpec(4, 10, 8, 8, 1, 16), [mx.cpu()])
    gan.attach_optimizers()
    ema = GeneratorEMA(gan.modG, 0.999)
    before = {k: v.asnumpy().copy() for k, v in ema.averages.items()}
    arg, aux = gan.modG.get_params()
    gan.modG.set_params({k: v + 1.0 for k, v in arg.items()}, aux)  # stands in for the updates of G
    for _ in range(INTERVAL - 1):
        ema.update()
    assert all(np.array_equal(v.asnumpy(), before[k]) for k, v in ema.averages.items())  # not folded yet
    ema.update()
    beta = math.prod(ema_beta(0.999, t) for t in range(INTERVAL))
    for name, average in ema.averages.items():
        expected = beta * before[name] + (1 - beta) * (before[name] + 1.0)
        np.testing.assert_allclose(average.asnumpy(), expected, rtol=1e-5, atol=1e-6)
    assert ema.updates == INTERVAL


def _trained_generator(tmp_path):
    run = tmp_path / "trained"
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "30", "--out", str(run), "--ema-decay", "0.99")
    assert result.returncode == 0, result.stderr
    return run


def test_recalibrated_batchnorm_draws_what_training_mode_draws(tmp_path):
    """Moving statistics that do not fit the weights (here scrambled) are re-estimated from fresh z: G in
    eval mode then draws what the same weights draw in training mode on a large batch."""
    ckpt = load_generator(str(_trained_generator(tmp_path)), "raw")
    z = noise(7, 1024, ckpt.arch.nz)
    reference = generate_all(ckpt, z, "train")  # each BatchNorm normalized by these 1024 samples' statistics
    scrambled = replace(ckpt, aux_params={k: v * 3 + 1 for k, v in ckpt.aux_params.items()})
    gap = np.abs(generate_all(scrambled, z, "eval", 256) - reference).mean()
    recalibrated = recalibrate_batchnorm(scrambled, 32)
    assert np.abs(generate_all(recalibrated, z, "eval", 256) - reference).mean() < gap / 10
    assert recalibrate_batchnorm(scrambled, 0) is scrambled
    assert scrambled.aux_params is not recalibrated.aux_params  # the input checkpoint is left as it was


def test_ema_checkpoint_sits_beside_raw_g_and_sampling_uses_it(tmp_path):
    run = _trained_generator(tmp_path)
    state = read_run_state(run)
    assert state.files["G_ema"] == "synthetic_G_ema-0001-0000030.params" and state.ema_updates == 30
    raw, ema = read_params(run / state.files["G"]), read_params(run / state.files["G_ema"])
    assert raw.keys() == ema.keys()  # the example's Module format, same names
    assert any(np.abs(raw[k] - ema[k]).max() > 1e-4 for k in raw if k.startswith("arg:"))
    assert load_generator(str(run)).path.name == state.files["G_ema"]  # a run folder samples its EMA
    assert load_generator(str(run), "raw").path.name == state.files["G"]
    assert load_generator(str(run / state.files["G"]), "ema").path.name == state.files["G_ema"]
    out = tmp_path / "grid.png"
    result = run_cli("-m", "mxgan", "sample", "--checkpoint", str(run), "--recalibrate-bn", "2",
                     "--out", str(out))
    assert result.returncode == 0 and out.is_file(), result.stderr


def test_sampling_flags_refuse_what_the_checkpoint_lacks(tmp_path):
    run = tmp_path / "raw-only"
    assert run_cli("run_dcgan.py", *TINY, "--max-steps", "2", "--ema-decay", "0", "--out", str(run)).returncode == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cases = [(["--checkpoint", str(run), "--weights", "ema"], "--weights ema: ", "has no moving-average (EMA)"),
             (["--checkpoint", str(run / "synthetic_G-0000-0000002.params"), "--weights", "ema"],
              "--weights ema: no moving-average (EMA) weights", "trained without --ema-decay"),
             (["--checkpoint", str(run), "--recalibrate-bn", "-2"], "--recalibrate-bn must be in [0, 1000]", ""),
             (["--checkpoint", str(run), "--weights", "best"], "--weights 'best' is not one of raw, ema", "")]
    for command in ("sample", "eval", "export"):
        for flags, expected, detail in cases:
            out = ["--out", str(tmp_path / "x.png")] if command != "eval" else []
            result = run_main("-m", "mxgan", command, *flags, *out)
            assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, (command, result.stderr)
            assert expected in result.stderr and detail in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written

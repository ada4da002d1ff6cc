"""Tricks users reach for: label smoothing, uniform noise, D/G step ratios, D pre-training."""

import json

import numpy as np
import pytest
from helpers import run_cli, tiny

from mxgan.checkpoints.formats import load_generator
from mxgan.checkpoints.params_file import read_params
from mxgan.checkpoints.run_folder import read_run_state
from mxgan.model.latent import noise_batch
from mxgan.training.step import EXAMPLE_PHASES, StepInputs, schedule, train_step

SMALL = tiny(16, "--log-every", "1", "--seed", "2")


def test_schedule_of_phases():
    assert [schedule(i, d_steps=2, pretrain_d=2) for i in range(6)] == [
        ("D",), ("D",), ("D",), ("D", "G"), ("D",), ("D", "G")]
    assert all(schedule(i) == EXAMPLE_PHASES for i in range(5))  # the example: D then G, every step
    assert schedule(0, g_steps=3) == ("D", "G", "G", "G")


def test_a_step_refuses_phases_it_cannot_run():
    with pytest.raises(ValueError, match="a D phase, then G phases"):
        train_step(None, None, StepInputs(None, [None]), None, ("G", "D"))
    with pytest.raises(ValueError, match="one latent batch for each"):
        train_step(None, None, StepInputs(None, [None]), None, ("D", "G", "G"))


def test_d_and_g_steps_and_pretraining_update_each_network_as_often_as_asked(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *SMALL, "--max-steps", "8", "--d-steps", "2", "--g-steps", "3",
                     "--pretrain-d", "2", "--out", str(run))
    assert result.returncode == 0, result.stderr
    counts = read_run_state(run).optimizer_counts
    assert counts["D"]["num_update"] == 8  # D: every step
    assert counts["G"]["num_update"] == 3 * 3  # G: at steps 3, 5 and 7, three updates each
    logs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "errD" in line]
    rested = [r["iteration"] for r in logs if r["errG"] is None]
    assert rested == [1, 2, 3, 5, 7]  # iterations (1-based) in which G rested


def _d_params(run):
    state = read_run_state(run)
    return read_params(run / state.files["D"])


def test_label_smoothing_and_uniform_noise_change_the_training(tmp_path):
    runs = {}
    for name, flags in (("plain", []), ("smooth", ["--real-label", "0.9"]), ("uniform", ["--noise", "uniform"])):
        result = run_cli("run_dcgan.py", *SMALL, "--max-steps", "3", *flags, "--out", str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        runs[name] = _d_params(tmp_path / name)
    for name in ("smooth", "uniform"):
        assert not np.array_equal(runs[name]["arg:d1_weight"], runs["plain"]["arg:d1_weight"])
    assert json.loads((tmp_path / "smooth" / "run.json").read_text())["real_label"] == 0.9
    assert load_generator(str(tmp_path / "uniform")).arch.noise == "uniform"
    assert load_generator(str(tmp_path / "plain")).arch.noise == "normal"


def test_uniform_noise_is_uniform_and_repeatable():
    z = noise_batch(0, 5, 2000, 100, "uniform")
    assert z.shape == (2000, 100, 1, 1) and z.min() >= -1 and z.max() <= 1
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1 / np.sqrt(3)) < 0.01
    assert np.array_equal(z, noise_batch(0, 5, 2000, 100, "uniform"))
    assert not np.array_equal(noise_batch(0, 5, 4, 10, index=1), noise_batch(0, 5, 4, 10))


@pytest.mark.parametrize("flags, expected", [
    (["--real-label", "0"], "--real-label must be in (0, 1]"),
    (["--d-steps", "0"], "--d-steps must be positive"),
    (["--pretrain-d", "-1"], "--pretrain-d must be 0 or more"),
    (["--noise", "gaussian"], "--noise 'gaussian' is not one of normal, uniform"),
])
def test_bad_trick_flags(flags, expected, tmp_path):
    result = run_cli("run_dcgan.py", *SMALL, *flags, "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1

"""Resume exactly, survive Ctrl-C and SIGKILL, prune checkpoints, keep training foreign checkpoints."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import (
    REPO,
    data_dir,
    final_params,
    fixtures,
    has_checkpoint,
    mnist_data_dir,
    run_cli,
    run_main,
    tiny,
    wait_for,
)

from mxgan.checkpoints.params_file import read_params
from mxgan.checkpoints.run_folder import read_run_state

# 1000-image batches of the 10000 synthetic images: an epoch is 10 steps, so 6 + 6 steps cross epochs.
TINY = tiny(1000, "--log-every", "2")


TRICKS = ["--d-steps", "2", "--g-steps", "2", "--pretrain-d", "1", "--real-label", "0.9", "--noise", "uniform"]


# (ctx, flags, where step 6 is): synthetic epochs are 10 batches of 1000, MNIST's 60
@pytest.mark.parametrize("ctx, flags, position", [
    ("cpu", [], "epoch 0, batch 6"), ("cpu0,cpu1", [], "epoch 0, batch 6"), ("cpu", TRICKS, "epoch 0, batch 6"),
    ("cpu", ["--dataset", "mnist", "--conditional"], "epoch 0, batch 6"),
], ids=["cpu", "two-devices", "tricks", "conditional"])  # two devices: Adam runs in the kvstore
def test_n_steps_then_resume_n_more_equals_2n_straight(tmp_path, ctx, flags, position):
    if "mnist" in flags:
        mnist_data_dir()  # skipped, with how to get it, where MNIST is missing
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    tiny = [*TINY, "--ctx", ctx, *flags]
    assert run_cli("run_dcgan.py", *tiny, "--max-steps", "12", "--out", str(straight)).returncode == 0
    assert run_cli("run_dcgan.py", *tiny, "--max-steps", "6", "--out", str(resumed)).returncode == 0
    assert read_run_state(resumed).progress.iteration == 6
    result = run_cli("run_dcgan.py", "--resume", str(resumed), "--max-steps", "12", "--no-progress", "--ctx", ctx)
    assert result.returncode == 0, result.stderr
    assert f"at iteration 6 ({position})" in result.stdout
    a, b = final_params(straight), final_params(resumed)
    worst = max(np.abs(a[r][k] - b[r][k]).max() for r in a for k in a[r])
    assert worst <= 1e-6, worst
    # the metrics of the resumed run continue where they stopped, without repeats
    iterations = [json.loads(line)["iteration"] for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert iterations == sorted(set(iterations)) and iterations[-1] == 12


def test_resume_errors_are_one_line(tmp_path):
    empty, damaged, unstarted = tmp_path / "empty", tmp_path / "damaged", tmp_path / "bare"
    for folder in (empty, damaged, unstarted):
        folder.mkdir()
    (damaged / "run.json").write_text("{not json")
    (unstarted / "run.json").write_text("{}")
    for folder, expected in ((empty, "no run.json there"), (tmp_path / "missing", "no run.json there"),
                             (damaged, "run.json is damaged"), (unstarted, "run.json is damaged (it lacks dataset, ")):
        result = run_main("run_dcgan.py", "--resume", str(folder))
        assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1


def _start_training(args, out):
    env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir()), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "run_dcgan.py", *args, "--out", str(out)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _interrupt(args, run, when) -> str:
    """Start training, send Ctrl-C once ``when()`` holds; its stderr (exit 130, one line, no traceback)."""
    proc = _start_training(args, run)
    try:
        wait_for(lambda: when() or proc.poll() is not None, what="the moment to interrupt")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    return stderr


def test_ctrl_c_during_start_up_leaves_nothing_a_retry_cannot_use(tmp_path):
    run = tmp_path / "run"
    args = ["--dataset", "synthetic", "--image-size", "64", "--ngf", "32", "--ndf", "32", "--batch-size", "16",
            "--max-steps", "1", "--no-progress"]
    spawned = time.monotonic()
    stderr = _interrupt(args, run, lambda: time.monotonic() - spawned > 0.3)  # MXNet is still being imported
    assert "interrupted before training started; nothing was saved" in stderr and not run.exists()
    # between run.json and the first step: MXNet binds and initializes the networks
    stderr = _interrupt(args, run, lambda: (run / "run.json").exists())
    retry = (run_cli("run_dcgan.py", *args, "--out", str(run)) if "before training started" in stderr
             else run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "2", "--no-progress"))
    assert retry.returncode == 0, stderr + retry.stderr


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    args = tiny(16, "--log-every", "5", "--epochs", "5")
    proc = _start_training(args, run)
    try:
        wait_for(lambda: (run / "metrics.jsonl").exists())
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert len(stderr.strip().splitlines()) == 1 and f"mxgan train --resume {run}" in stderr
    stopped = read_run_state(run).progress.iteration
    assert f"Ctrl-C at iteration {stopped}; checkpoint saved" in stderr
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(stopped + 3), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert read_run_state(run).progress.iteration == stopped + 3


def test_sigkill_while_writing_checkpoints_leaves_the_last_one_loadable(tmp_path):
    """A checkpoint every step of a model big enough that writes take a while; kill at random moments."""
    run = tmp_path / "run"
    args = ["--dataset", "synthetic", "--image-size", "64", "--ngf", "32", "--ndf", "32", "--batch-size", "4",
            "--no-progress", "--checkpoint-every", "1", "--keep", "2", "--epochs", "1"]
    rng = np.random.default_rng(0)
    for attempt in range(3):
        if attempt == 0:
            proc = _start_training(args, run)
        else:
            env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir())}
            proc = subprocess.Popen([sys.executable, "run_dcgan.py", "--resume", str(run), "--no-progress",
                                     "--checkpoint-every", "1", "--keep", "2"], cwd=REPO, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            before = read_run_state(run).progress.iteration if (run / "state.json").exists() else 0

            def advanced(before=before):
                return (run / "state.json").exists() and read_run_state(run).progress.iteration > before + 1

            wait_for(advanced)
            time.sleep(rng.uniform(0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
        state = read_run_state(run)
        for name in state.files.values():  # every file of the named set is complete
            assert (run / name).stat().st_size > 0
        for role in ("G", "D"):
            assert all(np.isfinite(v).all() for v in read_params(run / state.files[role]).values())
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(state.progress.iteration + 1),
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert not list(run.glob(".*.tmp-*"))  # a resumed run clears what the killed one left half-written


def test_keep_prunes_old_checkpoints(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "7", "--checkpoint-every", "1", "--keep", "2",
                     "--out", str(run))
    assert result.returncode == 0, result.stderr
    state = read_run_state(run)
    assert len(state.history) == 1
    kept = {n for files in (state.files, *state.history) for n in files.values()}
    assert {p.name for p in run.iterdir() if p.suffix in (".params", ".states") or "_hooks-" in p.name} == kept
    assert len(kept) == 14  # G, D, their Adam states, G's moving average and its running state, the hooks', twice


@pytest.mark.parametrize("spec, expected", [
    ("module_save_params/mnist_G_2017_10_09-10_00-0000.params", "D from"),
    ("gluon_save_parameters/generator_epoch_0.params", "D starts fresh"),
])
def test_keep_training_a_checkpoint_written_elsewhere(tmp_path, spec, expected):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", "--checkpoint", str(fixtures(64) / spec), "--dataset", "synthetic",
                     "--batch-size", "4", "--max-steps", "2", "--no-progress", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    config = json.loads((run / "run.json").read_text())
    assert config["g_fix_gamma"] == ("gluon" not in spec)  # Gluon's learned gamma keeps being learned


def test_checkpoint_with_other_flags_names_parameter_shapes_and_the_flags_to_use(tmp_path):
    result = run_cli("run_dcgan.py", "--checkpoint", str(fixtures(64) / "gluon_collect_params_save" / "netG.params"),
                     "--dataset", "synthetic", "--ngf", "32", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    expected = "parameter g1_weight has shape (100, 512, 4, 4), but this architecture needs (100, 256, 4, 4)"
    assert expected in result.stderr
    assert "pass those flags" in result.stderr and "--ngf 64" in result.stderr
    assert not (tmp_path / "r").exists()  # checked before anything is written: the retry below can use --out
    retry = run_cli("run_dcgan.py", "--checkpoint", str(fixtures(64) / "gluon_collect_params_save" / "netG.params"),
                    "--dataset", "synthetic", "--batch-size", "4", "--max-steps", "1", "--no-progress",
                    "--out", str(tmp_path / "r"))
    assert retry.returncode == 0, retry.stderr


def test_a_second_training_into_a_running_folder_is_one_line_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    first = _start_training([*TINY, "--max-steps", "100000", "--checkpoint-every", "1"], run)
    try:
        wait_for(lambda: has_checkpoint(run), what="the first run's checkpoint")
        result = run_cli("run_dcgan.py", "--resume", str(run), "--no-progress")
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert f"--resume {run} is in use by another mxgan train (pid {first.pid})" in result.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    # once the holder has stopped, the same folder continues
    done = read_run_state(run).progress.iteration
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(done + 1), "--no-progress")
    assert result.returncode == 0, result.stderr

"""A run folder is always usable: a damaged or missing file, a folder with no complete set, moved or changed data.

Each damaged run is resumed to the same step as an uninterrupted one and must end with the same weights.
"""

import json
import shutil

import cv2
import numpy as np
import pytest
from helpers import data_dir, final_params, mnist_data_dir, one_line, run_cli, run_main, tiny

from mxgan.checkpoints.run_folder import Progress, RunState, read_run_state, save_run_checkpoint, write_state
from mxgan.config import TrainConfig

# 1000-image batches of the 10000 synthetic images: an epoch is 10 steps; sets at 4, 8, 10 (epoch end) and 12
TINY = tiny(1000, "--log-every", "2", "--checkpoint-every", "4")
STEPS = 12


def _train(out, *flags):
    result = run_cli("run_dcgan.py", *TINY, *flags, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result


def _resume(run, *flags):
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(STEPS), "--no-progress", *flags)
    assert result.returncode == 0, result.stderr
    return result


def _same_weights(a, b):
    worst = max(np.abs(a[r][k] - b[r][k]).max() for r in a for k in a[r])
    assert worst <= 1e-6, worst


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The weights of an uninterrupted run of STEPS steps."""
    run = tmp_path_factory.mktemp("straight") / "run"
    _train(run, "--max-steps", str(STEPS))
    return final_params(run)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {  # what is done to a finished run's folder, and what its resume says
    "G deleted": (lambda run, files: (run / files["G"]).unlink(), "synthetic_G-0001-0000012.params is missing"),
    "G cut short": (lambda run, files: _truncate(run / files["G"]), "synthetic_G-0001-0000012.params has "),
    "EMA deleted": (lambda run, files: (run / files["G_ema"]).unlink(), "synthetic_G_ema-0001-0000012.params is"),
    "D deleted": (lambda run, files: (run / files["D"]).unlink(), "synthetic_D-0001-0000012.params is missing"),
    "Adam state cut short": (lambda run, files: _truncate(run / files["G.states"]), "synthetic_G-0001-0000012.states"),
    "state.json deleted": (lambda run, files: (run / "state.json").unlink(), "state.json is missing: read "
                                                                             "state.previous.json"),
    "state.json garbled": (lambda run, files: (run / "state.json").write_text('{"checkpoints": [1'),
                           "state.json is damaged"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_file_falls_back_to_the_newest_complete_set_and_resumes_exactly(tmp_path, straight, damage):
    run = tmp_path / "run"
    _train(run, "--max-steps", str(STEPS))
    spoil, said = DAMAGE[damage]
    spoil(run, read_run_state(run).files)
    result = _resume(run)
    assert said in result.stdout, result.stdout
    assert "resuming" in result.stdout and "at iteration 10 (epoch 1, batch 0)" in result.stdout  # the set before
    _same_weights(final_params(run), straight)
    iterations = [json.loads(line)["iteration"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert iterations == sorted(set(iterations)) and iterations[-1] == STEPS  # cut back, then logged again


def test_a_folder_with_no_complete_set_is_taken_by_the_same_command_or_by_resume(tmp_path, straight):
    """What a process killed while writing its first set leaves: run.json, a state.json that lists no set yet,
    the D of that set, a temporary."""
    first = tmp_path / "first"
    _train(first, "--max-steps", "4")
    for way in ("same command", "resume"):
        run = tmp_path / way
        run.mkdir()
        shutil.copy(first / "run.json", run / "run.json")
        write_state(run, RunState([], data=read_run_state(first).data))
        shutil.copy(first / "synthetic_D-0000-0000004.params", run / "synthetic_D-0000-0000004.params")
        (run / ".synthetic_G-0000-0000004.params.tmp-99999").write_bytes(b"half a file")
        if way == "resume":
            result = _resume(run)
            assert "holds no complete checkpoint set yet: the run starts from its beginning" in result.stdout
        else:
            _train(run, "--max-steps", str(STEPS))
        _same_weights(final_params(run), straight)
        assert not list(run.glob(".*.tmp-*"))


def test_garbled_adam_state_without_checksums_restarts_adam_and_says_so(tmp_path):
    """A set listed by an older mxgan (no sizes, no checksums): its .states must load, or Adam restarts."""
    run = tmp_path / "run"
    _train(run, "--max-steps", "4")
    state = json.loads((run / "state.json").read_text())
    for checkpoint in state["checkpoints"]:
        checkpoint["sizes"], checkpoint["sha256"] = {}, {}
    (run / "state.json").write_text(json.dumps(state))
    (run / read_run_state(run).files["D.states"]).write_bytes(b"\x80\x04garbage")
    result = _resume(run, "--max-steps", "6")
    assert "Adam restarts from zero moments: synthetic_D-0000-0000004.states does not load" in result.stdout
    assert read_run_state(run).progress.iteration == 6


def _pictures(folder, count, seed=0):
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    return folder


def test_resume_on_moved_changed_or_other_data(tmp_path):
    pictures, other, run = _pictures(tmp_path / "a", 40), _pictures(tmp_path / "b", 30, seed=1), tmp_path / "run"
    flags = tiny(10, "--data-dir", str(pictures), "--max-steps", "2", dataset="folder")
    assert run_cli("run_dcgan.py", *flags, "--out", str(run)).returncode == 0
    line = one_line(run_cli("run_dcgan.py", "--resume", str(run), "--data-dir", str(other), "--max-steps", "3"))
    assert f"--data-dir {other} holds other data than the run trained on (30 images, not 40)" in line
    moved = tmp_path / "moved"
    pictures.rename(moved)
    line = one_line(run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "3"))
    assert f"the run's data, {pictures}, is gone (moved?); pass --data-dir" in line
    result = run_cli("run_dcgan.py", "--resume", str(run), "--data-dir", str(moved), "--max-steps", "3",
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "run.json").read_text())["data_dir"] == str(moved)  # the next resume looks there
    (moved / "000.png").unlink()
    line = one_line(run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "4"))
    assert f"the data in {moved} changed since the checkpoint (39 images, not 40)" in line
    assert "pass --allow-data-change to resume anyway" in line
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "4", "--allow-data-change",
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert read_run_state(run).progress.iteration == 4


def test_mnist_elsewhere_is_the_same_data(tmp_path):
    run, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    (elsewhere / "mnist").mkdir(parents=True)
    for file in (mnist_data_dir() / "mnist").iterdir():
        (elsewhere / "mnist" / file.name).symlink_to(file)
    flags = tiny(500, dataset="mnist")
    assert run_cli("run_dcgan.py", *flags, "--max-steps", "1", "--out", str(run)).returncode == 0
    result = run_cli("run_dcgan.py", "--resume", str(run), "--data-dir", str(elsewhere), "--max-steps", "2",
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert read_run_state(run).data["md5"] == "6bbc9ace898e44ae57da46a324031adb"  # MNIST's training images


@pytest.fixture
def finished(tmp_path):
    """A run folder with one complete set of a 16 px, ngf 8 network and its run.json, made in this process."""
    import mxnet as mx

    from mxgan.model.modules import GanSpec, build_gan

    run = tmp_path / "run"
    run.mkdir()
    cfg = TrainConfig(dataset="synthetic", image_size=16, ngf=8, ndf=8, channels=3, batch_size=4, out=str(run),
                      data_dir=str(tmp_path))
    (run / "run.json").write_text(json.dumps(cfg.to_json()))
    gan = build_gan(GanSpec(4, cfg.nz, 8, 8, 3, 16), [mx.cpu()])
    gan.attach_optimizers()
    save_run_checkpoint(run, "synthetic", gan, Progress(0, 3, 3), False)
    return run


@pytest.mark.parametrize("edit, expected", [
    ({"batch_size": 0}, "run.json's batch_size: --batch-size must be positive, got 0"),
    ({"batch_size": "64"}, "run.json's batch_size must be a whole number, got '64' (str)"),
    ({"lr_g": None}, "run.json's lr_g must be a number, got None (NoneType)"),
    ({"noise": "gaussian"}, "run.json's noise: --noise 'gaussian' is not one of normal, uniform"),
    ({"ngf": 16}, "do not build the network of the run's checkpoint, which was trained with --nz 100 --ngf 8"),
    ({"dataset": None}, "run.json's dataset must be a string, got None (NoneType)"),
])
def test_a_hand_edited_run_json_is_one_line_naming_the_field(finished, edit, expected):
    options = json.loads((finished / "run.json").read_text())
    (finished / "run.json").write_text(json.dumps({**options, **edit}))
    line = one_line(run_main("run_dcgan.py", "--resume", str(finished)))
    assert f"--resume {finished}: " in line and expected in line


def test_resume_given_a_file_is_one_line(finished):
    line = one_line(run_main("run_dcgan.py", "--resume", str(finished / "run.json")))
    assert line.endswith(f"--resume {finished / 'run.json'} is a file; pass the run's folder (the --out it was "
                         "started with)")


def _contents(run):
    return {p.name: p.read_bytes() for p in run.iterdir() if p.name != ".lock"}


def test_both_state_files_garbled_beside_a_set_is_one_line_and_nothing_is_overwritten(finished):
    for name in ("state.json", "state.previous.json"):
        (finished / name).write_text("{")
    before = _contents(finished)
    for command in (["--resume", str(finished)], [*tiny(4), "--out", str(finished)]):
        line = one_line(run_main("run_dcgan.py", *command))
        assert "holds checkpoint files (synthetic_D-0000-0000003.params" in line and "state.json is damaged" in line
        assert "will not overwrite them; to go on from one, start a new run with --checkpoint" in line
    assert _contents(finished) == before


def test_state_files_deleted_beside_sets_or_a_damaged_only_set_are_refused_and_kept(finished):
    before = _contents(finished)
    G = read_run_state(finished).files["G"]
    for name in ("state.json", "state.previous.json"):
        (finished / name).unlink()
    line = one_line(run_main("run_dcgan.py", "--resume", str(finished)))
    assert "holds checkpoint files" in line and "but no state.json: mxgan will not overwrite them" in line
    for name in ("state.json", "state.previous.json"):
        (finished / name).write_bytes(before[name])
    (finished / G).write_bytes(b"damaged")
    for command in (["--resume", str(finished)], [*tiny(4), "--out", str(finished)]):
        line = one_line(run_main("run_dcgan.py", *command))
        assert "none of its 1 checkpoint sets can be resumed" in line and f"{G} has 7 bytes" in line
        assert "nothing in it was changed" in line
    assert _contents(finished) == {**before, G: b"damaged"}


def test_a_folder_of_another_program_is_refused_and_kept(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "metrics.jsonl").write_text('{"their": 1}\n')
    (theirs / "state.json").write_text('{"epoch": 3}')
    line = one_line(run_main("run_dcgan.py", "--resume", str(theirs)))
    assert "no run.json there, and no state.json keeps a copy of the options" in line
    line = one_line(run_main("run_dcgan.py", *tiny(4), "--out", str(theirs)))
    assert "holds files that are not an mxgan run (metrics.jsonl, state.json): mxgan will not write" in line
    assert _contents(theirs) == {"metrics.jsonl": b'{"their": 1}\n', "state.json": b'{"epoch": 3}'}


def _halfway_through_a_set(run):
    """Whether a checkpoint set was being written: a temporary, or set files that state.json does not name yet."""
    from mxgan.checkpoints.run_folder import has_state

    named = {name for files in read_run_state(run).file_sets() for name in files.values()} if has_state(run) else set()
    written = {p.name for p in run.glob("*") if p.suffix in (".params", ".states")}
    return bool(list(run.glob(".*.tmp-*")) or written - named)


def test_sigkill_at_any_instant_then_the_same_command_or_resume_ends_with_the_uninterrupted_weights(tmp_path):
    """SIGKILL at random instants across start-up, steps and checkpoint writes (a set every step; every other
    kill as soon as a write has begun); after each, the same command (no complete set yet) or --resume
    goes on, until the run ends: with the weights of a run never interrupted."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from helpers import REPO

    from mxgan.checkpoints.run_folder import usable_checkpoint

    steps, kills = 30, int(os.environ.get("MXGAN_TEST_KILLS", "8"))  # more, for the figures: MXGAN_TEST_KILLS=40
    flags = ["--dataset", "synthetic", "--image-size", "32", "--ngf", "32", "--ndf", "32", "--batch-size", "4",
             "--no-progress", "--checkpoint-every", "1", "--keep", "2", "--max-steps", str(steps), "--log-every", "5"]
    straight = tmp_path / "straight"
    began = time.monotonic()
    assert run_cli("run_dcgan.py", *flags, "--out", str(straight)).returncode == 0
    lifetime = time.monotonic() - began  # the instants are drawn over the first part of a run's life
    run, rng = tmp_path / "run", np.random.default_rng(0)
    env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir())}
    inside_a_write = 0
    for attempt in range(kills + 1):
        args = ["--resume", str(run), "--no-progress"] if usable_checkpoint(run) else [*flags, "--out", str(run)]
        proc = subprocess.Popen([sys.executable, "run_dcgan.py", *args], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if attempt < kills:  # in start-up, or after some steps: each process gets some way before the next kill
                deadline = time.monotonic() + rng.uniform(0.15, 0.6) * lifetime
                # every other kill lands as soon as a checkpoint's temporary appears: writes are a small share
                # of a run's life, and random instants alone rarely fall inside one
                while time.monotonic() < deadline and not (attempt % 2 and list(run.glob(".*.tmp-*"))):
                    time.sleep(0.002)
                proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=600) in (0, -signal.SIGKILL), proc.stderr.read().decode()
            inside_a_write += attempt < kills and _halfway_through_a_set(run)
        finally:
            proc.kill()
    assert proc.returncode == 0  # the last one, not killed, finished the run
    print(f"{kills} kills, {inside_a_write} of them inside a checkpoint write")  # pytest -s shows the figures
    _same_weights(final_params(run), final_params(straight))
    iterations = [json.loads(line)["iteration"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert iterations == sorted(set(iterations)) and iterations[-1] == steps

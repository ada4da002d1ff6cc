"""The run folder is a trust boundary: nothing read from it leads a read, a write or a delete outside it; a run
claims its folder before it decides anything about it; a finished or foreign run is never overwritten."""

import hashlib
import json
import os
import pickle
import subprocess
import sys
import time

import mxnet as mx
import numpy as np
import pytest
from helpers import REPO, data_dir, final_params, mnist_data_dir, one_line, run_cli, run_main, tiny

from mxgan.checkpoints.run_folder import read_run_state

# 1000-image batches of the 10000 synthetic images; a set every 2 steps, 3 sets in all
TINY = tiny(1000, "--log-every", "2", "--checkpoint-every", "2")


def _train(out, *flags):
    result = run_cli("run_dcgan.py", *TINY, *flags, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of 6 steps (sets at 2, 4 and 6), copied afresh for each test."""
    run = tmp_path_factory.mktemp("finished") / "run"
    _train(run, "--max-steps", "6")
    return run


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / "run"
    subprocess.run(["cp", "-a", str(finished), str(copy)], check=True)
    return copy


def _contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}


def _edit_state(run, edit):
    """Both state files edited alike (so the previous copy cannot stand in for a planted state.json)."""
    for name in ("state.json", "state.previous.json"):
        state = json.loads((run / name).read_text())
        edit(state)
        (run / name).write_text(json.dumps(state))


# --- nothing read from the folder leads outside it ------------------------------------------------------------

@pytest.mark.parametrize("planted", ["../victim.params", "ABSOLUTE", "run.json", "sub/../../victim.params"])
def test_names_in_state_json_never_lead_outside_the_run(run, planted):
    victim = run.parent / "victim.params"
    victim.write_bytes(b"someone else's file")
    name = str(victim) if planted == "ABSOLUTE" else planted

    def plant(state):
        state["checkpoints"][0]["files"]["G"] = name  # the oldest set, which a resume prunes

    _edit_state(run, plant)
    before = _contents(run)
    for command in (["--resume", str(run), "--max-steps", "8", "--keep", "1"], [*TINY, "--out", str(run)]):
        line = one_line(run_main("run_dcgan.py", *command))
        assert "state.json is damaged" in line and "is not the name of a G file of a checkpoint set" in line, line
    assert victim.read_bytes() == b"someone else's file" and _contents(run) == before


def test_a_set_file_that_links_outside_is_skipped_and_only_the_link_goes(run):
    victim = run.parent / "victim.params"
    newest = read_run_state(run).files
    (run.parent / "victim.params").write_bytes((run / newest["G"]).read_bytes())  # the bytes state.json expects
    (run / newest["G"]).unlink()
    os.symlink(victim, run / newest["G"])
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--no-progress", "--keep", "1")
    assert result.returncode == 0, result.stderr
    assert f"{newest['G']} is a link that leads outside the run folder" in result.stdout
    assert "at iteration 4" in result.stdout  # resumed from the set before
    assert victim.is_file() and not (run / newest["G"]).is_symlink()


def test_run_best_that_links_into_another_run_is_refused(run, tmp_path):
    other = tmp_path / "other.params"
    files = read_run_state(run).files
    other.write_bytes((run / files["G"]).read_bytes())
    _edit_state(run, lambda state: state.update(best={"epoch": 0, "iteration": 6, "fid": 1.0, "files": files}))
    (run / files["G_ema"]).unlink()
    os.symlink(other, run / files["G_ema"])
    line = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", f"{run}:best", "--out",
                             str(tmp_path / "s.png")))
    assert "the run's best checkpoint set cannot be read" in line and "leads outside the run folder" in line
    assert not (tmp_path / "s.png").exists()


class _Payload:
    def __reduce__(self):
        return os.system, ("touch PWNED",)


def test_an_adam_state_that_would_run_code_is_never_unpickled(run):
    files = read_run_state(run).files
    evil = pickle.dumps(_Payload())
    (run / files["G.states"]).write_bytes(evil)

    def vouch(state):  # state.json is the attacker's too: it vouches for the file
        state["checkpoints"][-1]["sizes"]["G.states"] = len(evil)
        state["checkpoints"][-1]["sha256"]["G.states"] = hashlib.sha256(evil).hexdigest()

    _edit_state(run, vouch)
    result = run_cli(str(REPO / "run_dcgan.py"), "--resume", str(run), "--max-steps", "8", "--no-progress", cwd=run)
    assert result.returncode == 0, result.stderr
    assert "Adam restarts from zero moments" in result.stdout and "posix.system" in result.stdout
    assert not (run / "PWNED").exists()


# --- state.json's values are checked ---------------------------------------------------------------------------

def _set(field, value):
    def edit(state):
        target = state["checkpoints"][-1]
        *path, last = field.split(".")
        for key in path:
            target = target[key]
        target[last] = value
    return edit


@pytest.mark.parametrize("edit, field", [
    (_set("sizes.G", "5"), "checkpoints[2].sizes.G must be a whole number"),
    (_set("sizes", 5), "checkpoints[2].sizes must be a JSON object"),
    (_set("sha256.G", None), "checkpoints[2].sha256.G must be 64 hexadecimal digits, got None"),
    (_set("progress.epoch", "0"), "checkpoints[2].progress.epoch must be a whole number"),
    (_set("progress.iteration", -5), "checkpoints[2].progress.iteration must be a whole number"),
    (_set("progress.iteration", 10**30), "checkpoints[2].progress.iteration must be a whole number"),
    (_set("files", ["G", "D"]), "checkpoints[2].files must map G, D"),
    (_set("seconds", float("inf")), "checkpoints[2].seconds must be a finite number"),
    (lambda state: state.update(best={"epoch": 0, "iteration": 6, "fid": float("nan"),
                                      "files": state["checkpoints"][-1]["files"]}), "best.fid must be a finite"),
    (lambda state: state.update(checkpoints={"a": 1}), "checkpoints must be a list"),
])
def test_a_wrong_value_in_state_json_is_one_line_naming_the_field(run, edit, field):
    _edit_state(run, edit)
    before = _contents(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run)))
    assert field in line, line
    assert _contents(run) == before


@pytest.mark.parametrize("loss", ["deleted", "truncated"])
def test_a_lost_run_json_is_taken_from_state_json_and_written_again(run, finished, loss):
    options = (run / "run.json").read_bytes()
    if loss == "deleted":
        (run / "run.json").unlink()
    else:
        (run / "run.json").write_bytes(options[:100])
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--no-progress")
    assert result.returncode == 0, result.stderr
    said = "no run.json there" if loss == "deleted" else "run.json is damaged ("
    assert said in result.stderr and "; the options are state.json's copy" in result.stderr, result.stderr
    assert json.loads((run / "run.json").read_bytes()) == json.loads(options)
    assert read_run_state(run).progress.iteration == 8


# --- claim, then check, then write -----------------------------------------------------------------------------

@pytest.mark.parametrize("slow_first", [True, False], ids=["slow-first", "fast-first"])
def test_two_trainers_on_one_new_folder_never_overwrite_each_other(tmp_path, slow_first):
    """A slow start (MNIST loads for seconds) and a fast one (synthetic) on one new --out, 0.3 s apart: one
    run is written, whole; the other is one line, and changes nothing."""
    out = tmp_path / "run"
    env = {**os.environ, "MXGAN_DATA_DIR": str(mnist_data_dir())}
    slow = [*tiny(500, dataset="mnist"), "--max-steps", "2"]
    fast = [*tiny(1000), "--max-steps", "2"]
    procs = []
    for flags in ((slow, fast) if slow_first else (fast, slow)):
        procs.append(subprocess.Popen([sys.executable, "run_dcgan.py", *flags, "--out", str(out)], cwd=REPO, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(0.3)
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    winner = next(i for i, (code, _, _) in enumerate(results) if code == 0)
    loser_err = results[1 - winner][2].strip().splitlines()
    assert len(loser_err) == 1 and ("already holds a run" in loser_err[0] or "is in use by" in loser_err[0]), loser_err
    dataset = json.loads((out / "run.json").read_text())["dataset"]
    assert dataset == ("mnist" if (winner == 0) == slow_first else "synthetic")
    assert read_run_state(out).progress.iteration == 2
    print(f"slow first: {slow_first}; the loser said: {loser_err[0]}")


def test_the_same_command_into_a_finished_run_is_refused_and_keeps_it(run):
    before = _contents(run)
    line = one_line(run_main("run_dcgan.py", *TINY, "--max-steps", "6", "--out", str(run)))
    assert "already holds a run; continue it with --resume" in line
    assert _contents(run) == before


# --- silent no more --------------------------------------------------------------------------------------------

def test_the_moving_average_in_every_set_is_up_to_date(tmp_path):
    """A set every step, before the average's first fold (every 10th update): each EMA file differs."""
    run = tmp_path / "run"
    _train(run, "--max-steps", "3", "--checkpoint-every", "1")
    sets = read_run_state(run).checkpoints
    digests = {s.sha256["G_ema"] for s in sets}
    assert len(sets) == 3 and len(digests) == 3


def test_other_pictures_of_the_same_count_are_other_data(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    pictures, others = tmp_path / "pictures", tmp_path / "others"
    for folder in (pictures, others):
        folder.mkdir()
        for i in range(8):
            cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *tiny(4, dataset="folder"), "--data-dir", str(pictures), "--max-steps", "2",
                     "--out", str(run))
    assert result.returncode == 0, result.stderr
    options = (run / "run.json").read_bytes()
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--data-dir", str(others), "--max-steps", "4"))
    assert f"--data-dir {others} holds other data than the run trained on (other training images: MD5" in line
    assert (run / "run.json").read_bytes() == options


def test_training_goes_on_when_its_output_is_cut_short(tmp_path):
    """``mxgan train ... | head -n 1``: the reader goes away; the run ends as asked, its lines in train.log."""
    run = tmp_path / "run"
    command = " ".join([sys.executable, "run_dcgan.py", *TINY, "--max-steps", "6", "--out", str(run)])
    result = _shell(f"set -o pipefail; {command} | head -n 1")
    assert result.returncode == 0, result.stderr
    assert "the standard output's reader went away; training goes on" in result.stderr
    assert read_run_state(run).progress.iteration == 6
    assert "steps left end in about" in (run / "train.log").read_text()  # the forecast, after the first line


def _shell(script, timeout=300):
    return subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "MXGAN_DATA_DIR": str(data_dir())}, timeout=timeout)


@pytest.mark.parametrize("redirect, said", [(">&-", "there is no standard output"),
                                            ("> /dev/full", "the standard output failed (No space left on device)")])
def test_training_goes_on_without_a_standard_output_or_with_a_full_one(tmp_path, redirect, said):
    run = tmp_path / "run"
    command = " ".join([sys.executable, "run_dcgan.py", *TINY, "--max-steps", "4", "--out", str(run)])
    result = _shell(f"{command} {redirect}")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert said in result.stderr
    assert read_run_state(run).progress.iteration == 4 and "steps left end in" in (run / "train.log").read_text()


def test_a_run_whose_reader_went_away_before_it_claimed_its_folder_goes_on_and_can_be_retried(tmp_path):
    """``mxgan train ... | true``: the reader is gone before the run claimed its new folder, so train.log is there
    first; the run is no foreign file to itself, nor to the same command again."""
    run = tmp_path / "run"
    command = " ".join([sys.executable, "run_dcgan.py", *TINY, "--max-steps", "2", "--out", str(run)])
    result = _shell(f"{command} | true")
    assert result.returncode == 0, result.stderr
    assert read_run_state(run).progress.iteration == 2 and "steps left end in" in (run / "train.log").read_text()
    again = tmp_path / "again"
    again.mkdir()
    (again / "train.log").write_text("mxgan: the standard output's reader went away; ...\n")  # a run refused later
    retried = run_cli("run_dcgan.py", *TINY, "--max-steps", "2", "--out", str(again))
    assert retried.returncode == 0, retried.stderr


# --- links and names in the folder never lead a write outside it ------------------------------------------------

def test_a_lock_file_that_links_outside_is_refused_and_its_target_untouched(run):
    victim = run.parent / "victim.txt"
    victim.write_text("someone else's file")
    (run / ".lock").unlink(missing_ok=True)
    os.symlink(victim, run / ".lock")
    before = _contents(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "8"))
    assert "its .lock is a symbolic link, which mxgan will not write through; remove it" in line
    assert victim.read_text() == "someone else's file" and _contents(run) == before


def test_a_train_log_that_links_outside_is_replaced_by_the_run_s_own(run):
    victim = run.parent / "victim.txt"
    victim.write_text("someone else's file")
    os.symlink(victim, run / "train.log")
    command = " ".join([sys.executable, "run_dcgan.py", "--resume", str(run), "--max-steps", "8"])
    result = _shell(f"{command} | true")
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "someone else's file"
    assert read_run_state(run).progress.iteration == 8
    assert not (run / "train.log").is_symlink() and "resuming" in (run / "train.log").read_text()


def test_a_tensorboard_folder_outside_the_run_named_by_run_json_is_not_written(run, tmp_path):
    outside = tmp_path / "elsewhere"
    options = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**options, "tensorboard": str(outside)}))
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"its run.json asks for TensorBoard logs in {outside}, outside the run folder" in result.stderr
    assert not outside.exists() and read_run_state(run).progress.iteration == 8


def test_a_dangling_link_as_out_is_one_line(tmp_path):
    os.symlink(tmp_path / "nowhere", tmp_path / "run")
    line = one_line(run_main("run_dcgan.py", *TINY, "--out", str(tmp_path / "run")))
    assert f"--out {tmp_path / 'run'} is a symbolic link to {tmp_path / 'nowhere'}, which does not exist" in line
    assert not (tmp_path / "nowhere").exists()


# --- what a resume reads is loaded before anything is changed -----------------------------------------------------

def _vouch_for(run, role, content):
    """``content`` as the newest set's ``role`` file, with both state files vouching for it (restamped)."""
    files = read_run_state(run).files
    (run / files[role]).write_bytes(content)

    def restamp(state):
        state["checkpoints"][-1]["sizes"][role] = len(content)
        state["checkpoints"][-1]["sha256"][role] = hashlib.sha256(content).hexdigest()

    _edit_state(run, restamp)


def test_a_generator_file_that_is_not_this_run_s_g_is_one_line_and_changes_nothing(run):
    files = read_run_state(run).files
    _vouch_for(run, "G", (run / files["D"]).read_bytes())
    before = _contents(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--keep", "1"))
    assert f"{files['G']} does not load into this run's G" in line and "nothing in the folder was changed" in line
    assert _contents(run) == before  # state.json and its previous copy too


def test_a_generator_of_nan_weights_vouched_for_is_one_line_and_changes_nothing(run, tmp_path):
    files = read_run_state(run).files
    weights = mx.nd.load(str(run / files["G"]))
    mx.nd.save(str(tmp_path / "nan.params"), {name: value * np.nan for name, value in weights.items()})
    _vouch_for(run, "G", (tmp_path / "nan.params").read_bytes())
    before = _contents(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "8"))
    assert f"{files['G']} holds NaN or Inf weights (" in line and "the set is damaged" in line, line
    assert _contents(run) == before


def test_a_moving_average_that_does_not_load_restarts_from_g_with_a_line(run):
    _vouch_for(run, "G_ema.states", b"\x12\x01" + os.urandom(300))
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "does not load into this G" in result.stdout and "moving average starts again from G" in result.stdout
    assert read_run_state(run).progress.iteration == 8


def test_a_built_in_hook_s_state_of_wrong_types_vouched_for_starts_afresh_with_a_line(run):
    _vouch_for(run, "hooks", json.dumps({"MetricsLog": {"window": "x"}, "OverpoweringWarning": {"streak": 5}}).encode())
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "hook MetricsLog: the state its last checkpoint set kept does not load (" in result.stdout + result.stderr
    assert "it starts afresh" in result.stdout + result.stderr
    assert read_run_state(run).progress.iteration == 8


@pytest.mark.parametrize("damage", ["nested", "binary"])
def test_damaged_logs_and_hook_states_never_stop_a_resume(run, damage):
    """metrics.jsonl of binary garbage, a hooks file nested too deep for Python's JSON parser: the run goes on."""
    files = read_run_state(run).files
    if damage == "nested":
        _vouch_for(run, "hooks", b"[" * 100000 + b"]" * 100000)
    else:
        (run / "metrics.jsonl").write_bytes(os.urandom(4096) + b"\n{\"iteration\": 2}\n")
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "8", "--no-progress")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    if damage == "nested":
        assert f"{files['hooks']} does not load (JSON nested too deeply): the hooks start afresh" in result.stdout
    assert read_run_state(run).progress.iteration == 8


def test_a_state_json_nested_too_deep_is_one_line(run):
    before = _contents(run)
    for name in ("state.json", "state.previous.json"):
        (run / name).write_text("[" * 100000 + "]" * 100000)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run)))
    assert "JSON nested too deeply" in line, line
    assert {k: v for k, v in _contents(run).items() if not k.startswith("state")} == \
        {k: v for k, v in before.items() if not k.startswith("state")}


def test_train_config_resume_resumes_in_the_run_folder(run, tmp_path, monkeypatch):
    import mxgan

    monkeypatch.chdir(tmp_path)
    straight = final_params(run)
    result = mxgan.train(mxgan.TrainConfig(resume=str(run), max_steps=8), announce=lambda line: None)
    assert result.iterations == 8 and read_run_state(run).progress.iteration == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no new run in the working folder
    assert final_params(run)["G"].keys() == straight["G"].keys()
    with pytest.raises(mxgan.MxganError, match="--resume keeps the run's own --ngf"):
        mxgan.train(mxgan.TrainConfig(resume=str(run), ngf=16, max_steps=9), announce=lambda line: None)

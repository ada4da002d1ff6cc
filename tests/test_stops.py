"""Stops and hostile surroundings: SIGTERM and SIGHUP, Ctrl-C in every command that writes, two writers of one
output, read-only and full targets, names too long, thread variables that are not numbers, a busy port."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO, data_dir, fixtures, has_checkpoint, one_line, run_cli, run_main, tiny, wait_for

from mxgan.checkpoints.run_folder import read_run_state
from mxgan.runtime.fileio import StagedOutputs

TINY = tiny(1000)
G64 = str(fixtures(64) / "module_save_params")  # the example's own 64 px generator, made by stock MXNet


def _start(*args, cwd=REPO, **popen):
    env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir()), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def _stop(proc, signum, when, timeout=120):
    """Send ``signum`` once ``when()`` holds; the process's exit code and stderr."""
    try:
        wait_for(lambda: when() or proc.poll() is not None, timeout=timeout, what="the moment to stop it")
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert "Traceback" not in stderr, stderr
    return proc.returncode, stderr.strip()


@pytest.mark.parametrize("signum, name, code", [(signal.SIGTERM, "SIGTERM", 143), (signal.SIGHUP, "SIGHUP", 129)])
def test_sigterm_and_sighup_checkpoint_and_stop_training_like_ctrl_c(tmp_path, signum, name, code):
    run = tmp_path / "run"
    proc = _start("run_dcgan.py", *TINY, "--max-steps", "100000", "--checkpoint-every", "3", "--out", str(run))
    returncode, stderr = _stop(proc, signum, lambda: has_checkpoint(run))
    assert returncode == code and len(stderr.splitlines()) == 1, stderr
    stopped = read_run_state(run).progress.iteration
    assert stderr.endswith(f"{name} at iteration {stopped}; checkpoint saved ({run / read_run_state(run).files['G']}); "
                           f"continue with: mxgan train --resume {run}")
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(stopped + 2), "--no-progress")
    assert result.returncode == 0, result.stderr


def test_a_signal_ignored_by_whoever_started_the_run_stays_ignored(tmp_path):
    """``nohup`` starts a run with SIGHUP ignored (a shell's background job, Ctrl-C): the run goes on through it."""
    run = tmp_path / "run"
    proc = _start("run_dcgan.py", *TINY, "--max-steps", "100000", "--checkpoint-every", "2", "--out", str(run),
                  preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        wait_for(lambda: has_checkpoint(run) or proc.poll() is not None, what="the first checkpoint")
        proc.send_signal(signal.SIGHUP)
        reached = read_run_state(run).progress.iteration
        wait_for(lambda: read_run_state(run).progress.iteration >= reached + 4 or proc.poll() is not None,
                 what="more steps after the ignored SIGHUP")
        assert proc.poll() is None  # still training
    finally:
        returncode, stderr = _stop(proc, signal.SIGTERM, lambda: True)
    assert returncode == 143 and "SIGTERM at iteration" in stderr, stderr


def test_sigterm_before_training_started_is_one_line(tmp_path):
    run = tmp_path / "run"
    proc = _start("run_dcgan.py", *TINY, "--max-steps", "5", "--out", str(run))
    returncode, stderr = _stop(proc, signal.SIGTERM, lambda: (run / "run.json").exists())  # while MXNet binds
    assert returncode == 143 and len(stderr.splitlines()) == 1, stderr
    before = stderr.endswith("stopped by SIGTERM before training started; nothing was saved (run the same command "
                             "again)")
    assert before or "SIGTERM at iteration 1; checkpoint saved" in stderr, stderr  # (a slow signal: after step 1)
    retry = run_cli("run_dcgan.py", *TINY, "--max-steps", "2", "--out", str(run)) if before else \
        run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", "2", "--no-progress")
    assert retry.returncode == 0, retry.stderr


def _no_trace_of(*paths):
    for path in paths:
        assert not path.exists(), path
        assert not list(path.parent.glob(f".{path.name}.*")), list(path.parent.iterdir())  # no temporary, no lock


def test_ctrl_c_in_sample_leaves_none_of_its_outputs(tmp_path):
    out, npy, separate = tmp_path / "grid.png", tmp_path / "all.npy", tmp_path / "each"
    proc = _start("-m", "mxgan", "sample", "--checkpoint", G64, "--num", "4000", "--out", str(out),
                  "--npy", str(npy), "--separate", str(separate))
    returncode, stderr = _stop(proc, signal.SIGINT, lambda: list(tmp_path.glob(".each.tmp-*/0100.png")))
    assert returncode == 130 and stderr == "mxgan: interrupted; nothing was written", stderr
    _no_trace_of(out, npy, separate)


def test_ctrl_c_in_pack_leaves_no_pack(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3000):
        cv2.imwrite(str(pictures / f"{i:04d}.png"), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    rec = tmp_path / "p.rec"
    proc = _start("-m", "mxgan", "pack", str(pictures), str(rec), "--no-progress")
    returncode, stderr = _stop(proc, signal.SIGINT, lambda: list(tmp_path.glob(".p.rec.tmp-*")))
    assert returncode == 130 and stderr == "mxgan: interrupted; nothing was written", stderr
    _no_trace_of(rec, tmp_path / "p.idx")


def test_ctrl_c_in_eval_writes_no_json(tmp_path):
    report = tmp_path / "q.json"
    proc = _start("-m", "mxgan", "eval", "--checkpoint", G64, "--num", "60000", "--json", str(report))
    began = time.monotonic()
    returncode, stderr = _stop(proc, signal.SIGINT, lambda: time.monotonic() - began > 8)  # drawing, measuring
    assert returncode == 130 and stderr == "mxgan: interrupted; nothing was written", stderr
    _no_trace_of(report)


def test_staged_outputs_are_all_written_or_none(tmp_path):
    first, second, folder = tmp_path / "a.json", tmp_path / "b.params", tmp_path / "each"
    second.write_text("the older file")

    def interrupted(tmp):
        Path(tmp).write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), StagedOutputs() as outputs:
        outputs.content(first, b"{}")
        (outputs.folder(folder) / "0000.png").write_bytes(b"png")
        outputs.file(second, interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.params"] and second.read_text() == "the older file"
    with StagedOutputs() as outputs:
        outputs.content(first, b"{}")
        (outputs.folder(folder) / "0000.png").write_bytes(b"png")
        assert outputs.commit() == [first, folder]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.params", "each"]


def test_a_second_writer_of_one_output_is_refused_and_the_first_finishes(tmp_path):
    out = tmp_path / "grid.png"
    first = _start("-m", "mxgan", "sample", "--checkpoint", G64, "--num", "1000", "--nice", "--out", str(out))
    try:
        wait_for(lambda: (tmp_path / ".grid.png.lock").exists() or first.poll() is not None, what="the first writer")
        second = run_cli("-m", "mxgan", "sample", "--checkpoint", G64, "--num", "4", "--out", str(out))
        assert one_line(second).endswith(f"--out {out} is being written by another mxgan (pid {first.pid}); wait "
                                         "for it to finish or stop it, or choose another --out")
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        first.kill()
    assert cv2.imread(str(out)).shape == (32 * 64, 32 * 64, 3)  # the first one's 1000 pictures, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]  # the lock went with its holder


@pytest.mark.parametrize("variable, value", [("OMP_NUM_THREADS", "abc"), ("MXNET_CPU_WORKER_NTHREADS", "abc"),
                                             ("OMP_NUM_THREADS", "0"), ("MXNET_CPU_WORKER_NTHREADS", "-2")])
def test_thread_variables_that_are_not_positive_numbers_are_one_line_before_mxnet_starts(tmp_path, variable, value):
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "1", "--out", str(tmp_path / "run"),
                     env={variable: value})
    assert one_line(result).endswith(f"{variable}={value!r} in the environment is not a positive number of threads; "
                                     f"set it to 1-{len(os.sched_getaffinity(0))} (the cores here) or unset it")
    assert not (tmp_path / "run").exists()


LONG = "x" * 250  # fits a file system's 255 bytes, until mxgan's temporary suffix is added


@pytest.mark.parametrize("command, flag, names", [
    (["run_dcgan.py", *TINY, "--out"], "--out", ["y" * 300]),  # a folder: its own name is written as it is
    (["-m", "mxgan", "sample", "--checkpoint", G64, "--out"], "--out", [LONG + ".png", "y" * 300]),
    (["-m", "mxgan", "export", "--checkpoint", G64, "--out"], "--out", [LONG, "y" * 300]),
    (["-m", "mxgan", "eval", "--checkpoint", G64, "--json"], "--json", [LONG + ".json", "y" * 300]),
])
def test_names_too_long_for_the_file_system_are_refused_before_any_work(tmp_path, command, flag, names):
    for name in names:
        line = one_line(run_main(*command, str(tmp_path / name)))
        assert f"{flag} {tmp_path / name}" in line and "this file system takes; choose a shorter" in line, line
    assert not list(tmp_path.iterdir())


def test_a_long_pack_name_is_refused_before_any_work(tmp_path):
    line = one_line(run_main("-m", "mxgan", "pack", str(fixtures()), str(tmp_path / f"{LONG}.rec")))
    assert "OUT.rec" in line and "choose a shorter OUT.rec" in line
    assert not list(tmp_path.iterdir())


@pytest.fixture(params=["read-only", "full"])
def bad_target(request, tmp_path):
    """A folder on a file system of its own (tmpfs, 64 KiB): mounted read-only, or filled to the last byte."""
    folder = tmp_path / "target"
    folder.mkdir()
    options = "size=64k,ro" if request.param == "read-only" else "size=64k"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}): needs root")
    try:
        if request.param == "full":
            (folder / "filler").write_bytes(b"\0" * 65536)
        yield request.param, folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _writing_commands(folder):
    return {
        "train": (["run_dcgan.py", *TINY, "--out", str(folder / "run")], "--out"),
        "sample": (["-m", "mxgan", "sample", "--checkpoint", G64, "--out", str(folder / "g.png")], "--out"),
        "sample --separate": (["-m", "mxgan", "sample", "--checkpoint", G64, "--out", str(folder.parent / "g.png"),
                               "--separate", str(folder / "each")], "--separate"),
        "export": (["-m", "mxgan", "export", "--checkpoint", G64, "--out", str(folder / "gen")], "--out"),
        "eval": (["-m", "mxgan", "eval", "--checkpoint", G64, "--json", str(folder / "q.json")], "--json"),
        "classifier": (["-m", "mxgan", "classifier", "train", "--out", str(folder / "c.params")], "--out"),
        "bench": (["-m", "mxgan", "bench", "--json", str(folder / "b.json")], "--json"),
        "pack": (["-m", "mxgan", "pack", str(fixtures()), str(folder / "p.rec")], "OUT.rec"),
        "download": (["-m", "mxgan", "download", "mnist", "--data-dir", str(folder)], "--data-dir"),
    }


@pytest.mark.parametrize("command", ["train", "sample", "sample --separate", "export", "eval", "classifier", "bench",
                                     "pack", "download"])
def test_read_only_and_full_targets_are_one_line_before_any_work(bad_target, command):
    kind, folder = bad_target
    before = sorted(p.name for p in folder.iterdir())
    args, flag = _writing_commands(folder)[command]
    line = one_line(run_main(*args))
    expected = "is not writable (Read-only file system)" if kind == "read-only" else "no space left on its device"
    assert flag in line and expected in line, line
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_launch_port_in_use_is_one_line_before_any_process_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(run_main("-m", "mxgan", "launch", "--port", str(port), "--", "--kvstore", "dist_sync"))
    assert line.endswith(f"--port {port} is in use on 127.0.0.1 (Address already in use); choose another, or 0 for "
                         "a free one")


def test_a_reader_that_goes_away_ends_the_output_quietly():
    result = subprocess.run(f"{sys.executable} -m mxgan train --dry-run | true", shell=True, cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def _metrics_logged(run):
    metrics = run / "metrics.jsonl"
    return metrics.exists() and metrics.read_text().strip()


def test_sigusr1_before_a_slurm_time_limit_checkpoints_and_exits_138_and_resume_continues(tmp_path):
    """``sbatch --signal=USR1@120`` sends SIGUSR1 before the time limit: training stops as for SIGTERM."""
    run = tmp_path / "run"
    proc = _start("run_dcgan.py", *TINY, "--max-steps", "100000", "--log-every", "1", "--out", str(run))
    returncode, stderr = _stop(proc, signal.SIGUSR1, lambda: _metrics_logged(run))
    assert returncode == 138 and len(stderr.splitlines()) == 1, stderr
    state = read_run_state(run)
    stopped = state.progress.iteration
    assert stderr.endswith(f"SIGUSR1 at iteration {stopped}; checkpoint saved ({run / state.files['G']}); "
                           f"continue with: mxgan train --resume {run}")
    assert all((run / state.files[role]).is_file() for role in ("G", "D", "G.states", "D.states"))
    result = run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(stopped + 2), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert read_run_state(run).progress.iteration == stopped + 2


def test_sigusr1_outside_training_interrupts_like_ctrl_c(tmp_path):
    out, separate = tmp_path / "grid.png", tmp_path / "each"
    proc = _start("-m", "mxgan", "sample", "--checkpoint", G64, "--num", "4000", "--out", str(out),
                  "--separate", str(separate))
    returncode, stderr = _stop(proc, signal.SIGUSR1, lambda: list(tmp_path.glob(".each.tmp-*/0100.png")))
    assert returncode == 138 and stderr == "mxgan: stopped by SIGUSR1; nothing was written", stderr
    _no_trace_of(out, separate)


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # exited, not yet reaped


@pytest.mark.parametrize("signum, name, code", [(signal.SIGTERM, "SIGTERM", 143), (signal.SIGHUP, "SIGHUP", 129)])
def test_launch_exits_with_the_code_of_the_signal_that_stopped_it(tmp_path, signum, name, code):
    launcher = _start("-m", "mxgan", "launch", "--workers", "1", "--", "--kvstore", "dist_sync",
                      *tiny(32, "--max-steps", "100000"), "--out", str(tmp_path / "run"))
    try:
        first = launcher.stdout.readline()  # every process has started
        pids = [int(pid) for pid in re.findall(r" pid (\d+)", first)]
        assert len(pids) == 3, first + launcher.stderr.read()
        launcher.send_signal(signum)
        output, stderr = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == code, output + stderr
    assert f"mxgan launch: stopped by {name}; stopping every process" in stderr
    wait_for(lambda: all(_gone(pid) for pid in pids), timeout=10, what="every process of the launch to end")


def test_a_stop_signal_that_lands_in_a_finalizer_is_not_lost():
    """MXNet frees arrays in ``__del__``; an exception a signal handler raises there is printed and dropped."""
    from mxgan.runtime.signals import STOP_SIGNALS, Stopped, interrupt_on_stop_signals

    class Freed:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)  # its handler runs here, inside the finalizer
            sum(range(1000))

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        interrupt_on_stop_signals()
        with pytest.raises(Stopped) as stopped:
            Freed()  # freed at once
            time.sleep(5)  # the stop arrives again a moment later, outside the finalizer
        assert stopped.value.signum == signal.SIGTERM
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


IMPORT_STOPPED = """
import os, signal, sys, time
from mxgan.runtime.signals import Stopped, interrupt_on_stop_signals

class SignalOnNumpyTwoProbe:
    '''OpenCV built for numpy 2 asks, from C, for numpy._core first: send SIGTERM at that moment.'''
    def find_spec(self, name, path=None, target=None):
        if name == "numpy._core":
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))  # the handler runs here, inside the import
        return None

interrupt_on_stop_signals()
sys.meta_path.insert(0, SignalOnNumpyTwoProbe())
try:
    import mxnet
    time.sleep(5)
except Stopped as stop:
    print(stop.name, "after the import; mxnet.image has OpenCV:", mxnet.image.image.cv2 is not None)
"""


def test_a_stop_signal_during_an_import_arrives_after_it_and_breaks_nothing():
    """MXNet's ``import cv2`` swallowed a Ctrl-C that landed in OpenCV's numpy check (printed as a traceback, the
    command went on and exited 0, and mxnet.image lost OpenCV)."""
    result = subprocess.run([sys.executable, "-c", IMPORT_STOPPED], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "SIGTERM after the import; mxnet.image has OpenCV: True", result.stderr
    assert "Traceback" not in result.stderr

"""Parameter-server training on 127.0.0.1 with real MXNet scheduler, server and worker processes."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import REPO, data_dir, run_cli, tiny

from mxgan.checkpoints.run_folder import read_run_state
from mxgan.runtime.launch import free_port

TINY = tiny(32, "--eval-every", "0", "--log-every", "1")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return open(f"/proc/{pid}/stat").read().split()[2] == "Z"  # a zombie has exited


def _pids(launch_output: str) -> dict[str, int]:
    return {label: int(pid) for label, pid in re.findall(r"(scheduler|server \d|worker \d) pid (\d+)", launch_output)}


def test_two_workers_one_server_end_with_identical_weights(tmp_path):
    result = run_cli("-m", "mxgan", "launch", "--workers", "2", "--servers", "1", "--",
                     "--kvstore", "dist_sync", *TINY, "--max-steps", "20", "--out", str(tmp_path / "run"), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    digests = re.findall(r"worker rank (\d): 20 steps; weights sha256 (\w+)", result.stdout)
    assert sorted(rank for rank, _ in digests) == ["0", "1"], result.stdout
    assert len({digest for _, digest in digests}) == 1, digests  # every weight of G and D agrees
    assert (tmp_path / "run" / "synthetic_G-0000-0000020.params").exists()  # written once, by rank 0
    pids = _pids(result.stdout)
    assert len(pids) == 4 and all(_gone(pid) for pid in pids.values())


def _wait_for_steps(run_dir, count: int, process, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        metrics = run_dir / "metrics.jsonl"
        if metrics.exists() and len(metrics.read_text().splitlines()) >= count:
            return
        time.sleep(0.2)
    raise AssertionError("training did not start")


def _start(args, env=None, **kwargs):
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env={**os.environ, "MXGAN_DATA_DIR": str(data_dir()),
                                                                    **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_a_killed_worker_stops_the_launch_quickly(tmp_path):
    launcher = _start(["-m", "mxgan", "launch", "--workers", "2", "--", "--kvstore", "dist_sync", *TINY,
                       "--max-steps", "100000", "--out", str(tmp_path / "run")])
    try:
        _wait_for_steps(tmp_path / "run", 3, launcher)
        first = launcher.stdout.readline()
        pids = _pids(first)
        os.kill(pids["worker 1"], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=30)  # a deadline: the launcher stops the rest by then
    finally:
        launcher.kill()
    assert launcher.returncode != 0
    assert f"worker 1 (pid {pids['worker 1']}) was killed by SIGKILL; stopping the other 3 process(es)" in output
    assert all(_gone(pid) for pid in pids.values())


def test_without_a_launcher_a_lost_peer_ends_the_worker_within_its_timeout(tmp_path):
    """No launcher watching (several machines): the surviving worker's own watchdog ends it."""
    env = {"DMLC_PS_ROOT_URI": "127.0.0.1", "DMLC_PS_ROOT_PORT": str(free_port()), "DMLC_NUM_WORKER": "2",
           "DMLC_NUM_SERVER": "1", "DMLC_NODE_HOST": "127.0.0.1"}
    serve = ["-c", "import mxnet"]
    train = ["-m", "mxgan", "train", "--kvstore", "dist_sync", *TINY, "--max-steps", "100000",
             "--dist-timeout", "5", "--out", str(tmp_path / "run")]
    nodes = [_start(serve, {**env, "DMLC_ROLE": "scheduler"}), _start(serve, {**env, "DMLC_ROLE": "server"})]
    workers = [_start(train, {**env, "DMLC_ROLE": "worker"}) for _ in range(2)]
    try:
        _wait_for_steps(tmp_path / "run", 3, workers[0])
        workers[1].kill()
        output, _ = workers[0].communicate(timeout=5 + 15)  # a deadline: its --dist-timeout, and start-up
        assert workers[0].returncode == 4
        assert "nothing finished for 5 s; another worker or a server has stopped" in output
    finally:
        for process in nodes + workers:
            process.kill()
            process.wait()


@pytest.mark.parametrize("args, words", [
    (["train", "--kvstore", "dist_sync"], ["DMLC_ROLE", "mxgan launch --workers 2"]),
    (["train", "--kvstore", "nccl"], ["--kvstore 'nccl' is not one of local, device, dist_sync, dist_async"]),
    (["launch", "--", "--dataset", "synthetic"], ["add --kvstore dist_sync"]),
    (["launch", "--workers", "0", "--", "--kvstore", "dist_sync"], ["--workers must be positive"]),
    # the workers' train flags, checked before any process starts
    (["launch", "--", "--kvstore", "dist_sync", "--batch-size", "0"], ["--batch-size must be positive, got 0"]),
    (["launch", "--", "--kvstore", "dist_sync", "--bogus"], ["the train flags after --: unrecognized arguments"]),
])
def test_distributed_mistakes_are_one_line(tmp_path, args, words):
    result = run_cli("-m", "mxgan", *args, "--out", str(tmp_path / "r")) if args[0] == "train" else \
        run_cli("-m", "mxgan", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), result.stderr


def test_dist_async_trains_and_its_resume_says_adam_restarts(tmp_path):
    run = tmp_path / "run"
    launch = ["-m", "mxgan", "launch", "--workers", "2", "--", "--kvstore", "dist_async"]
    result = run_cli(*launch, *TINY, "--max-steps", "10", "--out", str(run), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # Adam's state stayed on the servers (no G.states, D.states); the EMA's running state and the hooks' are kept
    assert set(read_run_state(run).files) == {"G", "D", "G_ema", "G_ema.states", "hooks"}
    resumed = run_cli(*launch, "--resume", str(run), "--max-steps", "15", "--no-progress", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Adam restarts" in resumed.stdout and "resuming" in resumed.stdout
    assert read_run_state(run).progress.iteration == 15


def test_a_worker_refusing_its_input_ends_the_launch_with_its_line_and_code(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli("-m", "mxgan", "launch", "--", "--kvstore", "dist_sync", *TINY[2:], "--dataset", "folder",
                     "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "run"), timeout=120)
    assert result.returncode == 2
    # the worker's error and the launcher's own line on the standard error, where a shell script looks for them
    assert "] mxgan: error: --data-dir" in result.stderr and "holds no images" in result.stderr
    assert re.search(r"mxgan launch: error: worker \d \(pid \d+\) exited with code 2", result.stderr), result.stderr
    assert "error" not in result.stdout


def test_dist_sync_resume_is_exact(tmp_path):
    from helpers import final_params as _final_params

    launch = ["-m", "mxgan", "launch", "--workers", "2", "--", "--kvstore", "dist_sync"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    for run, steps in ((straight, "10"), (resumed, "5")):
        result = run_cli(*launch, *TINY, "--max-steps", steps, "--out", str(run), timeout=300)
        assert result.returncode == 0, result.stdout
    result = run_cli(*launch, "--resume", str(resumed), "--max-steps", "10", "--no-progress", timeout=300)
    assert result.returncode == 0 and "Adam restarts" not in result.stdout, result.stdout
    a, b = _final_params(straight), _final_params(resumed)
    assert max(abs(a[r][k] - b[r][k]).max() for r in a for k in a[r]) <= 1e-6


def test_training_in_a_server_process_is_refused():
    from mxgan.errors import MxganError
    from mxgan.runtime.distributed import check_kvstore

    env = {"DMLC_ROLE": "server", "DMLC_PS_ROOT_URI": "127.0.0.1", "DMLC_PS_ROOT_PORT": "9000",
           "DMLC_NUM_WORKER": "2", "DMLC_NUM_SERVER": "1"}
    with pytest.raises(MxganError, match="DMLC_ROLE=server, but training runs in workers"):
        check_kvstore("dist_sync", env)
    check_kvstore("dist_sync", {**env, "DMLC_ROLE": "worker"})  # a worker with every variable may train


def test_a_worker_part_smaller_than_a_batch_is_one_line():
    from mxgan.data.batches import ImageBatches, Shard
    from mxgan.errors import MxganError

    images = np.zeros((100, 8, 8), np.uint8)
    assert ImageBatches(images, 50, 1, 0, shard=Shard(1, 2)).batches_per_epoch == 1
    with pytest.raises(MxganError, match=r"larger than the dataset \(100 images \(its part for one of 2 workers: 50\)"):
        ImageBatches(images, 64, 1, 0, shard=Shard(0, 2))

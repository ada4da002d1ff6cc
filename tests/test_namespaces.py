"""dist_sync across machines, faults included: the scheduler and server in one Linux network namespace, each
worker in one of its own, joined by veth pairs on a bridge with their own addresses, started as MXNet's own
launcher starts them on separate hosts. Traffic goes only to the addresses of the namespaces made here, and
they are removed at the end, also when the test fails."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
from helpers import REPO, data_dir, tiny

from mxgan.checkpoints.run_folder import read_run_state

TINY = tiny(32, "--eval-every", "0", "--log-every", "1")
SUBNET = "10.213.77"  # inside the namespaces only: the host's own network never sees it
PORT = "9091"


def _ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


@pytest.fixture
def hosts():
    """Three "hosts": ``{"ps": address, "w0": address, "w1": address}`` and their namespace names."""
    tag = uuid.uuid4().hex[:6]
    names = {role: f"mxgan-{tag}-{role}" for role in ("ps", "w0", "w1")}
    made = []
    try:
        for namespace in names.values():
            result = _ip("netns", "add", namespace)
            if result.returncode != 0:
                pytest.skip(f"network namespaces cannot be made here: {result.stderr.strip()}")
            made.append(namespace)
            _checked("-n", namespace, "link", "set", "lo", "up")
        ps = names["ps"]
        _checked("-n", ps, "link", "add", "br0", "type", "bridge")
        _checked("-n", ps, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        _checked("-n", ps, "link", "set", "br0", "up")
        addresses = {"ps": f"{SUBNET}.1"}
        for number, role in enumerate(("w0", "w1"), start=2):
            inside, outside = f"eth-{role}", f"br-{role}"
            _checked("-n", ps, "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", names[role])
            _checked("-n", ps, "link", "set", outside, "master", "br0")
            _checked("-n", ps, "link", "set", outside, "up")
            _checked("-n", names[role], "addr", "add", f"{SUBNET}.{number}/24", "dev", inside)
            _checked("-n", names[role], "link", "set", inside, "up")
            addresses[role] = f"{SUBNET}.{number}"
        yield names, addresses
    finally:
        for namespace in made:  # their processes were stopped by the test; the links go with the namespaces
            _ip("netns", "del", namespace)


def _checked(*args):
    result = _ip(*args)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


class Cluster:
    """The scheduler and a server on the "ps" host, a worker on each other host: one ``mxgan train`` run."""

    def __init__(self, names, addresses, train_args):
        base = {**os.environ, "MXGAN_DATA_DIR": str(data_dir()), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
                "DMLC_PS_ROOT_URI": addresses["ps"], "DMLC_PS_ROOT_PORT": PORT, "DMLC_NUM_WORKER": "2",
                "DMLC_NUM_SERVER": "1"}
        self.processes = {}
        plan = [("scheduler", "ps", ["-c", "import mxnet"]), ("server", "ps", ["-c", "import mxnet"]),
                ("w0", "w0", ["-m", "mxgan", "train", *train_args]),
                ("w1", "w1", ["-m", "mxgan", "train", *train_args])]
        for label, host, command in plan:
            env = {**base, "DMLC_ROLE": label if label in ("scheduler", "server") else "worker",
                   "DMLC_NODE_HOST": addresses[host]}
            self.processes[label] = subprocess.Popen(["ip", "netns", "exec", names[host], sys.executable, *command],
                                                     cwd=REPO, env=env, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT, text=True)

    def worker(self, label, timeout):
        """A worker's exit code and output, once it ends (within ``timeout`` s: a deadline, not a speed claim)."""
        output, _ = self.processes[label].communicate(timeout=timeout)
        return self.processes[label].returncode, output

    def stop(self):
        for process in self.processes.values():
            process.kill()
            process.wait()


def _logged(log):
    """The newest iteration in a metrics.jsonl."""
    return max((int(m.group(1)) for m in re.finditer(r'"iteration": (\d+)', log.read_text())), default=0)


def _digests(*outputs):
    return {rank: digest for output in outputs
            for rank, digest in re.findall(r"worker rank (\d): \d+ steps; weights sha256 (\w+)", output)}


def test_workers_on_separate_hosts_agree_survive_a_lost_peer_and_resume(hosts, tmp_path):
    names, addresses = hosts
    run = tmp_path / "run"
    cluster = Cluster(names, addresses, [*TINY, "--kvstore", "dist_sync", "--max-steps", "12", "--out", str(run)])
    try:
        results = [cluster.worker(label, timeout=300) for label in ("w0", "w1")]
    finally:
        cluster.stop()
    assert [code for code, _ in results] == [0, 0], results
    digests = _digests(*(output for _, output in results))
    assert set(digests) == {"0", "1"} and len(set(digests.values())) == 1, digests  # identical weights

    # the same run, longer: worker 1's host loses its process; worker 0 notices within --dist-timeout
    cluster = Cluster(names, addresses, ["--resume", str(run), "--max-steps", "100000", "--no-progress",
                                         "--dist-timeout", "5"])
    try:
        deadline, log = time.monotonic() + 120, run / "metrics.jsonl"
        while _logged(log) < 15 and time.monotonic() < deadline:  # a few steps past the resume at 12
            time.sleep(0.2)
        cluster.processes["w1"].send_signal(signal.SIGKILL)
        code, output = cluster.worker("w0", timeout=5 + 30)
    finally:
        cluster.stop()
    lines = [line for line in output.splitlines() if "error" in line]
    assert code == 4 and len(lines) == 1 and "nothing finished for 5 s" in lines[0], output

    # --resume finishes it, on the same hosts
    reached = read_run_state(run).progress.iteration
    cluster = Cluster(names, addresses, ["--resume", str(run), "--max-steps", str(reached + 6), "--no-progress"])
    try:
        results = [cluster.worker(label, timeout=300) for label in ("w0", "w1")]
    finally:
        cluster.stop()
    assert [code for code, _ in results] == [0, 0], results
    assert read_run_state(run).progress.iteration == reached + 6
    assert len(set(_digests(*(output for _, output in results)).values())) == 1

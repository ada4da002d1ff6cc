"""``mxgan launch``: a parameter-server training run on this machine.

Starts MXNet's scheduler, the servers and the workers as processes with the
``DMLC_*`` variables ps-lite reads, prefixes their output with their role,
and watches them: when one fails, the others are stopped at once (ps-lite
itself would leave them waiting forever) and the launcher exits non-zero.
Every process it started is gone when it returns. For several machines use
MXNet's ``tools/launch.py`` (see the README).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO

from mxgan.runtime.distributed import LOST_EXIT_CODE
from mxgan.runtime.env import available_cores
from mxgan.runtime.signals import stop_signals_held, stopped_by

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 5.0  # between SIGTERM and SIGKILL
SERVERS_EXIT_S = 30.0  # servers and scheduler finish this long after the last worker, or are stopped


@dataclass
class Node:
    """One process of the run."""

    label: str  # "scheduler", "server 0", "worker 1"
    process: subprocess.Popen

    @property
    def is_worker(self) -> bool:
        return self.label.startswith("worker")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _relay(label: str, source: IO[str], to_stderr: bool, lock: threading.Lock) -> None:
    """Copy one of a process's outputs to ours (its standard error to our standard error), each line prefixed
    with its role."""
    for line in source:
        target = sys.stderr if to_stderr else sys.stdout
        with lock:
            target.write(f"[{label}] {line}")
            target.flush()


def _say_problem(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def stop_all(nodes: list[Node]) -> None:
    """SIGTERM every live process, then SIGKILL those still there after :data:`STOP_GRACE_S`."""
    for node in nodes:
        if node.process.poll() is None:
            node.process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for node in nodes:
        try:
            node.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait()


def launch(workers: int, servers: int, train_args: list[str], port: int = 0, announce=print) -> int:
    """Run ``mxgan train <train_args>`` in ``workers`` processes with ``servers`` servers; return an exit code.

    0 when every worker finished; otherwise the failed worker's code (or
    :data:`~mxgan.runtime.distributed.LOST_EXIT_CODE` for a process killed by a signal).
    """
    # the workers share this machine's cores: each gets its part of them (2 workers each using all
    # cores took 38 s for 20 MNIST steps on 2 cores, 1 thread each 22 s), unless the user chose
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, available_cores() // workers))
    base = {**os.environ, "OMP_NUM_THREADS": threads, "DMLC_PS_ROOT_URI": LOOPBACK,
            "DMLC_PS_ROOT_PORT": str(port or free_port()), "DMLC_NUM_WORKER": str(workers),
            "DMLC_NUM_SERVER": str(servers), "DMLC_NODE_HOST": LOOPBACK, "PYTHONUNBUFFERED": "1"}
    # importing MXNet runs a server or the scheduler (with MXNet's own deprecation warnings no error, as in mxgan)
    serve = [sys.executable, "-c", "from mxgan.runtime.env import prepare_mxnet; prepare_mxnet(); import mxnet"]
    train = [sys.executable, "-m", "mxgan", "train", *train_args]  # entry.run: the stop signals from the start
    plan = ([("scheduler", "scheduler", serve)] + [(f"server {i}", "server", serve) for i in range(servers)]
            + [(f"worker {i}", "worker", train) for i in range(workers)])
    lock = threading.Lock()
    nodes: list[Node] = []
    try:
        for label, role, command in plan:
            process = subprocess.Popen(command, env={**base, "DMLC_ROLE": role}, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, bufsize=1)
            nodes.append(Node(label, process))
        announce(f"mxgan launch: scheduler on {LOOPBACK}:{base['DMLC_PS_ROOT_PORT']}, {servers} server(s), "
                 f"{workers} worker(s): " + ", ".join(f"{n.label} pid {n.process.pid}" for n in nodes))
        sys.stdout.flush()
        for node in nodes:  # their output waits in the pipes until this line is out
            for source, to_stderr in ((node.process.stdout, False), (node.process.stderr, True)):
                threading.Thread(target=_relay, args=(node.label, source, to_stderr, lock), daemon=True).start()
        return _watch(nodes)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP, SIGUSR1: the launcher exits with the signal's code
        stop = stopped_by(exc)
        verb = "interrupted" if stop.name == "Ctrl-C" else f"stopped by {stop.name}"
        _say_problem(f"mxgan launch: {verb}; stopping every process")
        return stop.exit_code
    finally:
        with stop_signals_held():  # a second signal waits until every process is gone, rather than orphan some
            stop_all(nodes)


def _workers_finish(nodes: list[Node], within: float) -> bool:
    """Whether every worker exits with 0 within ``within`` seconds."""
    deadline = time.monotonic() + within
    while any(n.process.poll() is None for n in nodes if n.is_worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return all(n.process.poll() == 0 for n in nodes if n.is_worker)


def _watch(nodes: list[Node]) -> int:
    """Wait for the workers; stop everything at the first failure."""
    workers_done_at = None
    while True:
        if workers_done_at is None and all(n.process.poll() == 0 for n in nodes if n.is_worker):
            workers_done_at = time.monotonic()
        failed = _first_failure(nodes, workers_done_at is not None)
        if failed is not None:
            code = failed.process.returncode  # it has ended: _first_failure polled it
            others = sum(n.process.poll() is None for n in nodes)
            _say_problem(f"mxgan launch: error: {failed.label} (pid {failed.process.pid}) {_describe_exit(code)}; "
                         f"stopping the other {others} process(es)")
            return code if code > 0 else LOST_EXIT_CODE
        if workers_done_at is not None:
            if all(n.process.poll() is not None for n in nodes):
                return 0
            if time.monotonic() - workers_done_at > SERVERS_EXIT_S:
                return 0  # every worker finished; the stragglers are stopped by the caller
        time.sleep(0.1)


def _first_failure(nodes: list[Node], workers_done: bool) -> Node | None:
    """A worker that failed, else a server or scheduler that ended before the workers did."""
    for node in nodes:
        if node.is_worker and node.process.poll() not in (None, 0):
            return node
    if workers_done:
        return None
    for node in nodes:
        # ps-lite ends the servers after the last worker: one that is gone already may only be
        # ahead of a worker's exit, so give the workers a moment to show how they ended
        if not node.is_worker and node.process.poll() is not None and not _workers_finish(nodes, STOP_GRACE_S):
            return next((n for n in nodes if n.is_worker and n.process.poll() not in (None, 0)), node)
    return None

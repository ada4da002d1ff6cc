"""Training across processes through MXNet's kvstore (``--kvstore dist_sync|dist_async``).

Every worker runs the same training command. MXNet's parameter server
(ps-lite) connects them through the ``DMLC_*`` variables that a launcher sets:
``mxgan launch`` on one machine, MXNet's ``tools/launch.py`` on several.

- ``dist_sync``: the servers sum the workers' gradients; each worker applies
  the sum with its own Adam, so all hold the same weights after every step, and
  checkpoints keep Adam's state as on one machine.
- ``dist_async``: Adam runs on the servers, which apply each worker's gradients
  as they come; its state lives there and is not saved in checkpoints.

Only rank 0 writes the run folder. A worker whose step has not finished in
``--dist-timeout`` seconds (another process died: ps-lite would wait forever)
prints one line and exits with :data:`LOST_EXIT_CODE`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from mxgan.errors import MxganError

LAUNCHER_VARIABLES = ("DMLC_ROLE", "DMLC_PS_ROOT_URI", "DMLC_PS_ROOT_PORT", "DMLC_NUM_WORKER", "DMLC_NUM_SERVER")
LOST_EXIT_CODE = 4
LAUNCH_HINT = ("start the workers with a launcher: mxgan launch --workers 2 --servers 1 -- <train flags> on this "
               "machine, or MXNet's tools/launch.py for several machines")


def check_kvstore(kvstore: str, environ: Mapping[str, str] | None = None) -> None:
    """One clear :class:`MxganError` for a dist_* kvstore started without a launcher, or in a process that is no
    worker (which kvstores there are is ``--kvstore``'s declaration, :data:`mxgan.constants.KVSTORES`, checked
    with the other options)."""
    variables = os.environ if environ is None else environ
    if kvstore.startswith("dist"):
        missing = [name for name in LAUNCHER_VARIABLES if not variables.get(name)]
        if missing:
            raise MxganError(f"--kvstore {kvstore} needs the variables a launcher sets ({', '.join(missing)} "
                             f"missing); {LAUNCH_HINT}")
        if variables["DMLC_ROLE"] != "worker":
            raise MxganError(f"--kvstore {kvstore}: this process has DMLC_ROLE={variables['DMLC_ROLE']}, but "
                             "training runs in workers; servers and the scheduler only need `import mxnet`")


@dataclass
class Cluster:
    """This process's place in a run: its kvstore, rank and the number of workers."""

    kvstore: object  # an mx.kv.KVStore, or the name of a local kvstore
    rank: int = 0
    workers: int = 1

    @property
    def distributed(self) -> bool:
        return self.workers > 1 or not isinstance(self.kvstore, str)

    @property
    def lead(self) -> bool:
        """Whether this process writes the run folder (rank 0)."""
        return self.rank == 0

    @property
    def updates_on_servers(self) -> bool:
        return getattr(self.kvstore, "type", "") == "dist_async"


LOCAL = Cluster("local")


def connect(kvstore: str) -> Cluster:
    """Join the run: for dist_*, create MXNet's kvstore (it waits until every node is up)."""
    if not kvstore.startswith("dist"):
        return Cluster(kvstore)
    import mxnet as mx

    store = mx.kv.create(kvstore)
    return Cluster(store, store.rank, store.num_workers)


class Watchdog:
    """Ends the process when no :meth:`beat` came for ``timeout`` seconds (a peer died; MXNet would wait forever)."""

    def __init__(self, timeout: float, what: str):
        self.timeout, self.what = timeout, what
        self.last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="watchdog")

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    def beat(self) -> None:
        self.last = time.monotonic()

    def _watch(self) -> None:
        while not self._stop.wait(min(1.0, self.timeout / 4)):
            if time.monotonic() - self.last > self.timeout:
                print(f"mxgan: error: {self.what}: nothing finished for {self.timeout:g} s; another worker or a "
                      "server has stopped (see its output); giving up (--dist-timeout sets the wait)",
                      file=sys.stderr, flush=True)
                os._exit(LOST_EXIT_CODE)  # MXNet's threads are blocked in ps-lite: no orderly way out

"""Process settings that must be made before MXNet is imported."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure_threads() -> str:
    """Set ``OMP_NUM_THREADS`` to the available cores unless the user has set it.

    MXNet 1.9.1 otherwise oversubscribes its OpenMP pool; on a 2-core machine
    that made training about 2x slower. Call before ``import mxnet``.
    """
    # MXNet logs "Subgraph backend MKLDNN is activated" at every bind unless told not to.
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    return os.environ.setdefault("OMP_NUM_THREADS", str(available_cores()))

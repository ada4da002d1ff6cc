"""Process settings that must be made before MXNet is imported."""

from __future__ import annotations

import os

# With the batch split over CPU devices, SyncBatchNorm blocks a device's engine
# worker until every device reached it, while copies between the devices
# (kvstore updates) queue on those same workers: with MXNet's default of one
# worker per CPU device the second training step deadlocks. Two workers each
# let the copies run. GPUs copy on their own streams and are not affected.
CPU_WORKERS = "MXNET_CPU_WORKER_NTHREADS"


def available_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def prepare_mxnet(ctx: str = "cpu") -> None:
    """Everything to do before ``import mxnet``: thread settings for ``ctx``, and, for the GPU
    build, loading the CUDA libraries of NVIDIA's pip wheels (see :mod:`mxgan.runtime.cuda`)."""
    configure_threads(ctx)
    from mxgan.runtime.cuda import preload

    preload()


def several_cpu_devices(ctx: str) -> bool:
    """Whether a ``--ctx`` string names more than one CPU device (``cpu0,cpu1``)."""
    devices = [d for d in ctx.replace(" ", "").split(",") if d]
    return len(devices) > 1 and all(d.startswith("cpu") for d in devices)


def configure_threads(ctx: str = "cpu") -> str:
    """Set ``OMP_NUM_THREADS`` to the available cores unless the user has set it.

    MXNet 1.9.1 otherwise oversubscribes its OpenMP pool; on a 2-core machine
    that made training about 2x slower. Call before ``import mxnet``, with the
    run's ``--ctx``: several CPU devices need two engine workers per device
    (see :data:`CPU_WORKERS`).
    """
    # MXNet logs "Subgraph backend MKLDNN is activated" at every bind unless told not to.
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    if several_cpu_devices(ctx):
        os.environ.setdefault(CPU_WORKERS, "2")
    return os.environ.setdefault("OMP_NUM_THREADS", str(available_cores()))



def cpu_workers_ready() -> bool:
    """Whether MXNet's engine (configured at import) has the workers several CPU devices need."""
    return int(os.environ.get(CPU_WORKERS, "1") or 1) >= 2

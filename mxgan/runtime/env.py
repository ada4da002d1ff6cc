"""Process settings that must be made before MXNet is imported."""

from __future__ import annotations

import os
import warnings

from mxgan.errors import MxganError

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


# thread counts MXNet reads at start-up, and aborts on (exit code 134) when they are not numbers
THREAD_VARIABLES = ("OMP_NUM_THREADS", CPU_WORKERS, "MXNET_CPU_PRIORITY_NTHREADS", "MXNET_GPU_WORKER_NTHREADS",
                    "MXNET_GPU_COPY_NTHREADS", "MXNET_OMP_MAX_THREADS")
MOST_THREADS = 1024  # a thread count OpenMP (libgomp) can start on any machine mxgan runs on; 100000 aborts it
# MXNet 1.9.1's engines: any other MXNET_ENGINE_TYPE (even an empty one) fails MXNet's import
ENGINES = ("ThreadedEnginePerDevice", "ThreadedEngine", "NaiveEngine")
# the subgraph backends the pip wheels register ("NONE" or empty: none); another name fails every bind.
# oneDNN's is still called MKLDNN in 1.9.1 (ONEDNN came with 2.0)
SUBGRAPH_BACKENDS = ("MKLDNN", "MKLDNN_QUANTIZE", "default", "default_v2")
# libraries whose own deprecation warnings are no error of mxgan's user, even under PYTHONWARNINGS=error:
# MXNet 1.9.1 reads NumPy aliases deprecated since 1.20 (np.bool, np.mirr) as it is imported, matplotlib
# calls pyparsing's old names
LIBRARIES_WARNING = r"(mxnet|matplotlib)(\.|$)"


def check_thread_variables() -> None:
    """One clear error for a thread count in the environment that is not a positive whole number."""
    for name in THREAD_VARIABLES:
        value = os.environ.get(name)
        if value is None or value == "":
            continue
        count = value.strip()
        if "," in count:  # OpenMP takes a list, one count per nesting level; MXNet reads one number and aborts
            raise MxganError(f"{name}={value!r} in the environment is a list; MXNet 1.9.1 reads one positive number "
                             f"of threads there: set it to 1-{available_cores()} (the cores here) or unset it")
        if not (count.isascii() and count.isdigit() and int(count) > 0):  # "٢".isdigit(), but MXNet aborts
            raise MxganError(f"{name}={value!r} in the environment is not a positive number of threads; set it to "
                             f"1-{available_cores()} (the cores here) or unset it")
        if int(count) > MOST_THREADS:
            raise MxganError(f"{name}={value!r} in the environment asks for more than {MOST_THREADS} threads, which "
                             f"OpenMP fails to start; set it to 1-{available_cores()} (the cores here) or unset it")


def check_engine_variables() -> None:
    """One clear error for an MXNet engine or subgraph backend in the environment that MXNet 1.9.1 has not (it
    would fail MXNet's import, or every bind, with a C++ traceback)."""
    engine = os.environ.get("MXNET_ENGINE_TYPE")
    if engine is not None and engine not in ENGINES:
        raise MxganError(f"MXNET_ENGINE_TYPE={engine!r} in the environment is not one of MXNet's engines, "
                         f"{', '.join(ENGINES)}; set one of them or unset it")
    backend = os.environ.get("MXNET_SUBGRAPH_BACKEND")
    if backend and backend not in (*SUBGRAPH_BACKENDS, "NONE"):
        raise MxganError(f"MXNET_SUBGRAPH_BACKEND={backend!r} in the environment is not a subgraph backend of MXNet "
                         f"1.9.1 ({', '.join(SUBGRAPH_BACKENDS)}; NONE turns them off); set one of them or unset it")


def check_environment() -> None:
    """Every setting in the environment MXNet reads at start-up, checked before anything starts."""
    check_thread_variables()
    check_engine_variables()


def tolerate_library_warnings() -> None:
    """Let the deprecation warnings raised inside MXNet and matplotlib pass (``PYTHONWARNINGS=error`` otherwise
    turns ``import mxnet`` into a traceback); every other warning stays as the user set it."""
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=LIBRARIES_WARNING)


def prepare_mxnet(ctx: str = "cpu") -> None:
    """Everything to do before ``import mxnet``: the environment's settings checked, thread settings for ``ctx``,
    AMX requested and oneDNN allowed onto it where Linux grants it (see :mod:`mxgan.runtime.amx`), and, for the
    GPU build, loading the CUDA libraries of NVIDIA's pip wheels (see :mod:`mxgan.runtime.cuda`)."""
    check_environment()
    tolerate_library_warnings()
    configure_threads(ctx)
    from mxgan.runtime.amx import prepare
    from mxgan.runtime.cuda import preload

    prepare()  # oneDNN reads its ISA ceiling as libmxnet loads, and AMX needs Linux's permission first
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

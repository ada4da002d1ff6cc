"""``--ctx`` strings to MXNet contexts, with a clear error when a device is missing."""

from __future__ import annotations

import re

import mxnet as mx

from mxgan.errors import MxganError
from mxgan.runtime.env import CPU_WORKERS, cpu_workers_ready
from mxgan.runtime.gpu_arch import problem, visible_gpus

_DEVICE = re.compile(r"^(cpu|gpu)(\d*)$")
GPU_INSTALL_HINT = "install the GPU build with pip install '.[gpu]' (mxnet-cu112, needs an NVIDIA driver)"


def parse_ctx(spec: str) -> list[mx.Context]:
    """Parse ``cpu``, ``gpu0``, ``gpu0,gpu1`` or ``cpu0,cpu1`` into contexts.

    Raises :class:`MxganError` for malformed strings, mixed device kinds, and
    GPUs this MXNet build or machine does not have.
    """
    contexts = []
    for item in spec.replace(" ", "").split(","):
        match = _DEVICE.match(item)
        if not match:
            raise MxganError(f"--ctx {spec!r}: {item!r} is not a device; use cpu, gpu0, gpu0,gpu1 or cpu0,cpu1")
        kind, index = match.group(1), int(match.group(2) or 0)
        contexts.append(mx.Context(kind, index))
    if len({c.device_type for c in contexts}) > 1:
        raise MxganError(f"--ctx {spec!r} mixes cpu and gpu; use devices of one kind")
    if len(set(contexts)) != len(contexts):
        raise MxganError(f"--ctx {spec!r} names a device twice")
    if len(contexts) > 1 and contexts[0].device_type == "cpu" and not cpu_workers_ready():
        raise MxganError(
            f"--ctx {spec}: several CPU devices need {CPU_WORKERS}=2 set before MXNet is imported "
            "(the mxgan command does it; in Python call mxgan.runtime.env.prepare_mxnet(ctx) first)"
        )
    gpus = [c for c in contexts if c.device_type == "gpu"]
    if gpus:
        check_gpus(f"--ctx {spec}", gpus)
    return contexts


def on_gpu(spec: str) -> bool:
    """Whether ``--ctx spec`` names GPUs (checked as :func:`parse_ctx` checks it)."""
    return parse_ctx(spec)[0].device_type == "gpu"


def check_gpus(where: str, gpus: list[mx.Context]) -> None:
    """One :class:`MxganError` (``where``: what named them) for GPUs this MXNet build or machine cannot run on."""
    if not mx.runtime.Features().is_enabled("CUDA"):
        raise MxganError(f"{where}: this MXNet {mx.__version__} is a CPU-only build; {GPU_INSTALL_HINT}")
    by_index = {gpu.index: gpu for gpu in visible_gpus()}
    for context in gpus:  # before MXNet fails every kernel on a GPU its build has no code for
        if context.device_id in by_index and (line := problem(by_index[context.device_id])):
            raise MxganError(f"{where}: {line}")
    available = mx.context.num_gpus()
    missing = [str(c.device_id) for c in gpus if c.device_id >= available]
    if missing:
        raise MxganError(
            f"{where}: asks for GPU {', '.join(missing)} but {available} GPU(s) are visible; "
            "check nvidia-smi and CUDA_VISIBLE_DEVICES"
        )

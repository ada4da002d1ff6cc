"""Which GPUs the installed MXNet build has machine code for.

mxnet-cu112 1.9.1 is built for sm_50, sm_60, sm_70, sm_80 and sm_86 and ships no PTX
(MXNet's ``config/distribution/linux_cu112.cmake``), so a GPU of another generation (Hopper's
9.0 and newer) fails every kernel with "no kernel image is available". A cubin built for
sm_XY runs on a GPU of the same major version and a minor of Y or more, so 7.5 (T4) runs the
sm_70 code and 8.9 (L4, RTX 40) the sm_86 code.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass

CU112_ARCHS = ((5, 0), (6, 0), (7, 0), (8, 0), (8, 6))
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
UNSUPPORTED_GPU = "ships machine code"  # in every line about a GPU the build cannot run on
WAY_FORWARD = ("use NVIDIA's NGC MXNet container (MXNet 1.9.1 with CUDA 12, for Hopper), or build MXNet from source "
               "with CUDA >= 11.8 and MXNET_CUDA_ARCH including {cap}")


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    capability: tuple[int, int]


def runs_on(capability: tuple[int, int], archs: tuple[tuple[int, int], ...] = CU112_ARCHS) -> bool:
    """Whether machine code for ``archs`` (no PTX) runs on a GPU of ``capability``."""
    return any(major == capability[0] and minor <= capability[1] for major, minor in archs)


def problem(gpu: Gpu, archs: tuple[tuple[int, int], ...] = CU112_ARCHS) -> str | None:
    """One line for a GPU the build cannot run on: the GPU, its capability, what the build supports, the way on."""
    if runs_on(gpu.capability, archs):
        return None
    cap = f"{gpu.capability[0]}.{gpu.capability[1]}"
    built = ", ".join(f"sm_{major}{minor}" for major, minor in archs)
    return (f"gpu{gpu.index} ({gpu.name}) has compute capability {cap}, but mxnet-cu112 1.9.1 ships machine code "
            f"for {built} only and no PTX, so every kernel would fail; {WAY_FORWARD.format(cap=cap)}")


def _from_nvidia_smi() -> list[Gpu] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = []
    for line in out.strip().splitlines():
        index, name, cap = (part.strip() for part in line.split(","))
        major, minor = cap.split(".")
        gpus.append(Gpu(int(index), name, (int(major), int(minor))))
    return gpus


def _from_driver() -> list[Gpu] | None:
    """The driver's own answer (``libcuda``'s ``cuDeviceGetAttribute``), where nvidia-smi is missing."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    count, device = ctypes.c_int(), ctypes.c_int()
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return None
    gpus = []
    for index in range(count.value):
        major, minor, name = ctypes.c_int(), ctypes.c_int(), ctypes.create_string_buffer(100)
        cuda.cuDeviceGet(ctypes.byref(device), index)
        cuda.cuDeviceGetName(name, 100, device)
        cuda.cuDeviceGetAttribute(ctypes.byref(major), CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device)
        cuda.cuDeviceGetAttribute(ctypes.byref(minor), CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device)
        gpus.append(Gpu(index, name.value.decode(), (major.value, minor.value)))
    return gpus


def visible_gpus() -> list[Gpu]:
    """The GPUs the driver reports (nvidia-smi, else libcuda); none where there is no driver."""
    return _from_nvidia_smi() or _from_driver() or []

"""``mxgan doctor``: what this installation can run on, and what to install for what it cannot."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from pathlib import Path

from mxgan.runtime.amx import ISA_VARIABLE
from mxgan.runtime.amx import prepare as prepare_amx
from mxgan.runtime.cuda import DRIVER_LIBRARY, GPU_PACKAGE, driver_found, find_all, gpu_build_installed
from mxgan.runtime.env import available_cores
from mxgan.runtime.gpu_arch import Gpu, problem, visible_gpus
from mxgan.runtime.precision import resolve_dtype

FEATURES = ("CUDA", "CUDNN", "NCCL", "CUDA_RTC", "MKLDNN", "BLAS_OPEN", "OPENCV", "DIST_KVSTORE", "SIGNAL_HANDLER")


def _mxnet_lines() -> tuple[list[str], list[str]]:
    """MXNet's version, build features and GPUs; and the problems found."""
    try:
        import mxnet as mx
    except Exception as exc:  # an import failure is what the doctor is asked about
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"mxnet: import failed: {first}"], [f"mxnet does not import ({first}); see the libraries below"]
    features = mx.runtime.Features()
    shown = " ".join(f"{name}{'+' if features.is_enabled(name) else '-'}" for name in FEATURES)
    lines = [f"mxnet: {mx.__version__} from {Path(mx.__file__).parent}", f"build features: {shown}"]
    if not features.is_enabled("CUDA"):
        lines.append(f"GPUs: none usable (a CPU build; for GPUs: pip install '.[gpu]', which is {GPU_PACKAGE})")
        return lines, []
    try:
        count = mx.context.num_gpus()
    except mx.base.MXNetError as exc:
        message = str(exc).strip().splitlines()[0]
        return [*lines, f"GPUs: none ({message})"], [f"no GPU visible ({message}); check nvidia-smi"]
    gpus = []
    for index in range(count):
        free, total = mx.context.gpu_memory_info(index)
        gpus.append(f"gpu{index} ({total / 2**30:.0f} GiB, {free / 2**30:.0f} free)")
    problems = [] if count else ["the CUDA build sees no GPU; check nvidia-smi and CUDA_VISIBLE_DEVICES"]
    arch_lines, arch_problems = gpu_lines(visible_gpus())
    return [*lines, f"GPUs: {', '.join(gpus) or 'none visible'}", *arch_lines], problems + arch_problems


def gpu_lines(gpus: list[Gpu]) -> tuple[list[str], list[str]]:
    """A line per GPU with its compute capability, and a problem for each the build has no code for."""
    lines, problems = [], []
    for gpu in gpus:
        line = problem(gpu)
        cap = f"{gpu.capability[0]}.{gpu.capability[1]}"
        lines.append(f"  gpu{gpu.index}: {gpu.name}, compute capability {cap}: {'NOT supported' if line else 'ok'}")
        if line:
            problems.append(line)
    return lines, problems


def diagnose(roots: list[Path] | None = None, gpu_build: bool | None = None) -> tuple[list[str], list[str]]:
    """The report's lines, and the problems (each with its fix) it found.

    ``roots``: where to look for the ``nvidia/`` wheels (default: site-packages);
    ``gpu_build``: whether the CUDA libraries are needed (default: whether mxnet-cu112 is installed).
    """
    try:
        version = importlib.metadata.version("mxgan")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed (run from a checkout)"
    lines = [f"mxgan {version}, python {platform.python_version()} on {platform.machine()}, "
             f"{available_cores()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"]
    units = prepare_amx()
    lines.append(f"bfloat16 units: {units.describe()}; {ISA_VARIABLE}={os.environ.get(ISA_VARIABLE, 'unset')} "
                 f"(--dtype auto: {resolve_dtype('auto', on_gpu=False, units=units)} on the CPU)")
    mxnet_lines, problems = _mxnet_lines()
    lines += mxnet_lines
    needed = gpu_build_installed() if gpu_build is None else gpu_build
    lines.append(f"CUDA 11 libraries ({'needed by ' + GPU_PACKAGE if needed else 'only needed by the GPU build'}):")
    for library, path in find_all(roots).items():
        where = str(path) if path else f"missing: {library.install_hint()}"
        lines.append(f"  {library.soname:<20} {where}")
        if needed and path is None:
            problems.append(f"{library.soname} is missing: {library.install_hint()}")
    has_driver = driver_found()
    lines.append(f"  {DRIVER_LIBRARY:<20} {'found' if has_driver else 'missing: it comes with the NVIDIA driver'}")
    if needed and not has_driver:
        problems.append(f"{DRIVER_LIBRARY} is missing: install the NVIDIA driver (nvidia-smi should work)")
    return lines, problems


def format_report(lines: list[str], problems: list[str]) -> str:
    verdict = ["ok: nothing missing"] if not problems else [f"{len(problems)} problem(s):"]
    return "\n".join([*lines, *verdict, *(f"  - {p}" for p in problems)])

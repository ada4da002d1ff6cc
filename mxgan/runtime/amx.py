"""The CPU's bfloat16 units, and oneDNN switched onto AMX before MXNet loads.

MXNet 1.9.1 bundles oneDNN 2.4, which has AMX kernels but leaves them out unless ``DNNL_MAX_CPU_ISA`` names
AMX before ``libmxnet.so`` loads. Linux lets a process use the AMX tile registers only after it asked for them
(``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``), and oneDNN 2.4 never asks: an AMX kernel in a
process that did not ask dies of SIGILL. So mxgan asks first, and raises the ceiling only when Linux granted it.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ISA_VARIABLE = "DNNL_MAX_CPU_ISA"
AMX_ISA = "AVX512_CORE_AMX"
# the highest ceiling without AMX: a user's AMX ceiling is lowered to it when Linux refuses the tile state
NO_AMX_ISA = "AVX512_CORE_BF16"
SYS_ARCH_PRCTL = 158  # x86-64
ARCH_REQ_XCOMP_PERM = 0x1023
XFEATURE_XTILEDATA = 18
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Bfloat16Units:
    """What this process has for bfloat16 arithmetic."""

    amx: bool  # the CPU has AMX tiles for bfloat16
    avx512_bf16: bool  # the CPU has AVX-512's bfloat16 dot products
    granted: bool  # Linux granted this process the AMX tile state (oneDNN may use AMX)
    refusal: str = ""  # why not granted, on a CPU with AMX

    def describe(self) -> str:
        """One line for ``mxgan doctor`` and error messages."""
        if self.granted:
            return "AMX granted (the bfloat16 matrix units are on)"
        if self.amx:
            return f"AMX present but not granted ({self.refusal})"
        return "avx512_bf16 only (no AMX)" if self.avx512_bf16 else "none (no AMX, no avx512_bf16)"


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str]:
    """The first processor's feature flags (empty where ``/proc/cpuinfo`` is absent or unreadable)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The processor's name, its widest vector unit and its matrix unit (the ratios follow them: see
    bench/README.md); "unknown" where ``/proc/cpuinfo`` is unreadable."""
    try:
        info = cpuinfo.read_text(errors="replace")
    except OSError:
        return "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = cpu_flags(cpuinfo)
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{name}, {vector}" + (" + AMX" if "amx_bf16" in flags else "")


def _arch_prctl(code: int, feature: int) -> tuple[int, int]:
    """The raw ``arch_prctl`` system call: its result and errno."""
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.syscall(SYS_ARCH_PRCTL, code, feature)
    return int(result), ctypes.get_errno()


def request_tile_state(syscall: Callable[[int, int], tuple[int, int]] = _arch_prctl) -> str:
    """Ask Linux for the AMX tile state: "" when granted, else why not."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"not an x86-64 Linux ({platform.system()} {platform.machine()})"
    result, errno = syscall(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)
    if result == 0:
        return ""
    return f"arch_prctl(ARCH_REQ_XCOMP_PERM) refused: {os.strerror(errno) if errno else 'error'}"


def detect(flags: set[str], request: Callable[[], str] = request_tile_state) -> Bfloat16Units:
    """The bfloat16 units of a CPU with ``flags``; the tile state is requested where the CPU has AMX."""
    amx = {"amx_bf16", "amx_tile"} <= flags
    refusal = request() if amx else ""
    return Bfloat16Units(amx=amx, avx512_bf16="avx512_bf16" in flags, granted=amx and not refusal, refusal=refusal)


def set_isa_ceiling(units: Bfloat16Units, environ: dict | None = None) -> None:
    """Let oneDNN use AMX where the tile state was granted (unless the user set a ceiling); lower a user's
    AMX ceiling where it was not (oneDNN would die of SIGILL). Call before MXNet loads."""
    env = os.environ if environ is None else environ
    asked = env.get(ISA_VARIABLE, "")
    if units.granted:
        env.setdefault(ISA_VARIABLE, AMX_ISA)
    elif "AMX" in asked.upper():
        log.warning("%s=%s asks oneDNN for AMX, which this process may not use (%s); using %s instead",
                    ISA_VARIABLE, asked, units.describe(), NO_AMX_ISA)
        env[ISA_VARIABLE] = NO_AMX_ISA


@functools.cache
def prepare() -> Bfloat16Units:
    """This process's bfloat16 units, with the tile state requested and oneDNN's ceiling set (once a process)."""
    units = detect(cpu_flags())
    set_isa_ceiling(units)
    return units

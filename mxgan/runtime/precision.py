"""Which arithmetic a command runs in (``--dtype``): the choice checked and ``auto`` resolved, before MXNet binds."""

from __future__ import annotations

from mxgan.errors import MxganError
from mxgan.runtime.amx import Bfloat16Units, prepare

# What the quality runs of docs/quality.md ("Training in bfloat16") showed: bfloat16 training reaches the FID-MNIST
# of float32 at the same step, within the spread between seeds (two seeds each, to FID-MNIST 5). ``--dtype auto``
# picks bfloat16 where this holds and the CPU has AMX granted (where it is 1.3x faster a step).
BFLOAT16_NO_WORSE = True


def resolve_dtype(asked: str, on_gpu: bool, flag: str = "--dtype", units: Bfloat16Units | None = None) -> str:
    """The dtype a command runs in for ``--dtype asked``: one :class:`MxganError` where this machine cannot."""
    units = prepare() if units is None else units
    if asked == "auto":
        return "bfloat16" if not on_gpu and units.granted and BFLOAT16_NO_WORSE else "float32"
    if asked == "float16" and not on_gpu:
        raise MxganError(f"{flag} float16 needs a GPU (--ctx gpu0): MXNet 1.9.1 has no float16 GEMM on CPU")
    if asked == "bfloat16":
        if on_gpu:
            raise MxganError(f"{flag} bfloat16 runs on CPUs only (--ctx cpu); on a GPU use {flag} float16")
        if not units.granted:  # avx512_bf16 alone runs D at 0.74x float32's speed: no reason to choose it
            raise MxganError(f"{flag} bfloat16 needs AMX, granted by Linux; this process has {units.describe()}: "
                             f"use {flag} float32 (or auto)")
    return asked


def array_dtype(dtype: str) -> str:
    """The dtype of a run's input arrays and weights: bfloat16 computes inside the graph on float32 ones."""
    return "float16" if dtype == "float16" else "float32"


def describe_dtype(dtype: str) -> str:
    """The start line of a run that does not compute in float32 alone (bfloat16: resolved, so on AMX)."""
    if dtype == "bfloat16":
        return ("dtype bfloat16: D's convolutions in bfloat16 (on AMX); weights, Adam, G, BatchNorm statistics and "
                "the loss in float32")
    return f"dtype {dtype}" + (": half-precision weights, Adam on float32 master copies" if dtype == "float16" else "")

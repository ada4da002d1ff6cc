"""Checkpoints in the format of MXNet's example (``Module.save_params``: ``arg:``/``aux:`` keys)."""

from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.checkpoints.params_file import read_params
from mxgan.errors import DivergenceError, MxganError
from mxgan.model.symbols import unpad_single_filter_params
from mxgan.runtime.fileio import write_atomic


def standard_params(mod: mx.mod.Module) -> tuple[dict[str, mx.nd.NDArray], dict[str, mx.nd.NDArray]]:
    """``(arg_params, aux_params)`` of a training module, up to date and in their standard shapes."""
    settle_aux_states()
    arg_params, aux_params = mod.get_params()
    return unpad_single_filter_params(mod.symbol, arg_params), aux_params


def module_params(mod: mx.mod.Module) -> dict[str, mx.nd.NDArray]:
    """The module's parameters as ``{'arg:name': ..., 'aux:name': ...}``, as ``save_params`` keys them."""
    return keyed_params(*standard_params(mod))


def keyed_params(arg_params: dict[str, mx.nd.NDArray], aux_params: dict[str, mx.nd.NDArray]) -> dict:
    """``arg_params`` and ``aux_params`` as one dict keyed ``arg:name`` / ``aux:name``, in float32."""
    params = {f"arg:{k}": v for k, v in arg_params.items()}
    params.update({f"aux:{k}": v for k, v in aux_params.items()})
    # float32 on disk whatever the training dtype, so any MXNet code can load it
    return {k: v if v.dtype == np.float32 else v.astype(np.float32) for k, v in params.items()}


def settle_aux_states() -> None:
    """Wait until BatchNorm's moving statistics hold their latest values.

    MXNet 1.9.1's MKLDNN BatchNorm updates ``moving_mean``/``moving_var`` in its
    backward pass without declaring that write to the engine, so a read that
    does not wait for all pending work can see them one step stale.
    """
    mx.nd.waitall()


def first_non_finite(params: dict[str, mx.nd.NDArray]) -> str | None:
    """Name of the first parameter holding NaN or Inf, or None."""
    for name, value in params.items():
        if not np.isfinite(value.asnumpy()).all():
            return name
    return None


def save_module_params(mod: mx.mod.Module, path: Path) -> Path:
    """Write ``mod``'s parameters to ``path`` atomically; refuse non-finite weights.

    Raises
    ------
    DivergenceError
        If any parameter is NaN or Inf: such a checkpoint is never written.
    """
    return save_params(module_params(mod), path)


def save_params(params: dict[str, mx.nd.NDArray], path: Path) -> Path:
    """Write ``{'arg:name': ..., 'aux:name': ...}`` to ``path`` atomically (see :func:`save_module_params`)."""
    bad = first_non_finite(params)
    if bad is not None:
        raise DivergenceError(f"parameter {bad} is not finite, so {Path(path).name} was not written")
    return write_atomic(path, lambda tmp: mx.nd.save(tmp, params))


def split_arg_aux(params: dict[str, np.ndarray], path: str | Path) -> tuple[dict, dict]:
    """``{'arg:x': ..., 'aux:y': ...}`` numpy arrays to ``(arg_params, aux_params)`` NDArrays."""
    arg_params: dict[str, mx.nd.NDArray] = {}
    aux_params: dict[str, mx.nd.NDArray] = {}
    for key, value in params.items():
        kind, _, name = key.partition(":")
        if kind not in ("arg", "aux") or not name:
            raise MxganError(f"{path}: key {key!r} is not in the arg:/aux: layout of Module.save_params")
        (arg_params if kind == "arg" else aux_params)[name] = mx.nd.array(value, dtype=value.dtype)
    return arg_params, aux_params


def load_module_params(path: Path) -> tuple[dict[str, mx.nd.NDArray], dict[str, mx.nd.NDArray]]:
    """Read a ``save_params`` file into ``(arg_params, aux_params)``."""
    return split_arg_aux(read_params(path), path)

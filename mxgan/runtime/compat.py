"""The few places mxgan reaches into MXNet 1.9.1's private Module API, each for a reason the public API lacks.

Kept in one module so an MXNet upgrade has one file to check; ``tests/test_compat.py`` pins each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import mxnet as mx

UPDATE_ON_KVSTORE = "MXNET_UPDATE_ON_KVSTORE"


def gradient_arrays(mod: mx.mod.Module) -> list[list[mx.nd.NDArray]]:
    """The gradient buffers of ``mod``'s parameters, one list per parameter (one array per device).

    The Module API has no call to zero gradients accumulated with ``grad_req='add'``.
    """
    return mod._exec_group.grad_arrays


def gradients_summed_in_place(mod: mx.mod.Module) -> bool:
    """Whether ``mod`` was bound with ``grad_req='add'`` on its parameters (its backward passes sum)."""
    return all(mod._exec_group.grad_req.get(name) == "add" for name in mod._exec_group.param_names)


def live_parameters(mod: mx.mod.Module) -> dict[str, mx.nd.NDArray]:
    """``mod``'s parameters as its first device's executor holds them (no copy; updated in place by
    ``update()``). ``Module.get_params()`` copies every parameter to the host instead, and returns stale
    copies until an update marks them dirty."""
    group = mod._exec_group
    return {name: arrays[0] for name, arrays in zip(group.param_names, group.param_arrays)}


def optimizer_state_arrays(mod: mx.mod.Module) -> list[mx.nd.NDArray]:
    """Every array of the optimizer state ``mod`` keeps (Adam's two moments per parameter), where it keeps them
    itself (not in a kvstore). ``Module`` exposes them only pickled, through ``save_optimizer_states``."""
    arrays: list[mx.nd.NDArray] = []
    for state in mod._updater.states.values():
        arrays += list(state) if isinstance(state, (tuple, list)) else [state]
    return arrays


@contextmanager
def adam_in_kvstore(enabled: bool) -> Iterator[None]:
    """Within the block, ``Module.init_optimizer`` puts Adam in the kvstore (``enabled``) or in the module.

    MXNet reads this choice from the environment variable ``MXNET_UPDATE_ON_KVSTORE``
    (default 1), with no argument to pass it; the variable is put back afterwards.
    """
    previous = os.environ.get(UPDATE_ON_KVSTORE)
    os.environ[UPDATE_ON_KVSTORE] = "1" if enabled else "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[UPDATE_ON_KVSTORE]
        else:
            os.environ[UPDATE_ON_KVSTORE] = previous


def optimizer_counts(opt: mx.optimizer.Optimizer) -> dict:
    """An optimizer's update counts (Adam's bias-correction step ``t``), per device and parameter.

    ``Module.save_optimizer_states`` keeps Adam's moments but not these, which live in private
    attributes; without them a resumed Adam restarts at t = 1.
    """
    return {
        "num_update": opt.num_update,
        "per_device": [[dev, list(counts.items())] for dev, counts in opt._all_index_update_counts.items()],
    }


def restore_optimizer_counts(opt: mx.optimizer.Optimizer, saved: dict) -> None:
    """Put back what :func:`optimizer_counts` returned."""
    counts = {dev: dict((k, c) for k, c in items) for dev, items in saved["per_device"]}
    opt._all_index_update_counts = counts
    opt._index_update_count = counts.setdefault(0, {})
    opt.num_update = saved["num_update"]

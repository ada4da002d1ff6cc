"""The few places mxgan reaches into MXNet 1.9.1's private Module API, each for a reason the public API lacks.

Kept in one module so an MXNet upgrade has one file to check; ``tests/test_compat.py`` pins each.
"""

from __future__ import annotations

import mxnet as mx


def gradient_arrays(mod: mx.mod.Module) -> list[list[mx.nd.NDArray]]:
    """The gradient buffers of ``mod``'s parameters, one list per parameter (one array per device).

    The Module API has no call to zero gradients accumulated with ``grad_req='add'``.
    """
    return mod._exec_group.grad_arrays


def live_parameters(mod: mx.mod.Module) -> dict[str, mx.nd.NDArray]:
    """``mod``'s parameters as its first device's executor holds them (no copy; updated in place by
    ``update()``). ``Module.get_params()`` copies every parameter to the host instead, and returns stale
    copies until an update marks them dirty."""
    group = mod._exec_group
    return {name: arrays[0] for name, arrays in zip(group.param_names, group.param_arrays)}

"""Run a generator for inference: BatchNorm on its moving statistics."""

from __future__ import annotations

import mxnet as mx
import numpy as np

from mxgan.step import G_INPUT


def bind_generator(
    symG: mx.sym.Symbol, arg_params: dict, aux_params: dict, batch_size: int, nz: int,
    contexts: list[mx.Context] | None = None,
) -> mx.mod.Module:
    """A generator Module bound for inference on (batch_size, nz, 1, 1) noise."""
    modG = mx.mod.Module(symG, data_names=(G_INPUT,), label_names=None, context=contexts or [mx.cpu()])
    modG.bind(data_shapes=[(G_INPUT, (batch_size, nz, 1, 1))], for_training=False)
    modG.set_params(arg_params, aux_params)
    return modG


def generate(modG: mx.mod.Module, z: np.ndarray) -> np.ndarray:
    """Images (N, C, S, S) in [-1, 1] for noise ``z`` (N, nz, 1, 1), N = the bound batch size."""
    modG.forward(mx.io.DataBatch([mx.nd.array(z)]), is_train=False)
    return modG.get_outputs()[0].asnumpy()

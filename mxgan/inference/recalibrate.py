"""Precise BatchNorm: moving statistics re-estimated for the weights being sampled.

The moving mean and variance a generator saves were gathered during training,
one momentum step per batch, for the raw weights of past steps. They fit
neither an exponential moving average of the weights nor, quite, the final
weights. Re-estimating them means running G in training mode (each BatchNorm
normalizing by its batch's statistics) over fresh z, and pooling, layer by
layer, the statistics of what each BatchNorm receives.

MXNet 1.9.1's MKLDNN BatchNorm updates its moving statistics only in the
backward pass, so a training-mode forward leaves them untouched: the pooled
statistics are computed here from the BatchNorm inputs (``g{i}_output``), not
read back from the layer.
"""

from __future__ import annotations

import re
from dataclasses import replace

import mxnet as mx
import numpy as np

from mxgan.checkpoints.formats import load_generator
from mxgan.constants import CLASSES, G_INPUT
from mxgan.model.latent import latent
from mxgan.model.modules import one_hot
from mxgan.model.symbols import COND
from mxgan.runtime.streams import stream

RECALIBRATION_BATCH = 64  # batch statistics are those of a training batch of the default size


def _batchnorm_inputs(symbol: mx.sym.Symbol) -> dict[str, mx.sym.Symbol]:
    """``{BatchNorm layer name: the symbol it normalizes}`` of a generator (``gbn{i}`` <- ``g{i}_output``)."""
    internals = symbol.get_internals()
    outputs = internals.list_outputs()
    found = {}
    for name in outputs:
        match = re.fullmatch(r"gbn(\d+)_output", name)
        if match:
            found[f"gbn{match.group(1)}"] = internals[f"g{match.group(1)}_output"]
    return found


def recalibrate_batchnorm(ckpt, batches: int, seed: int = 0, batch_size: int = RECALIBRATION_BATCH,
                          contexts: list[mx.Context] | None = None):
    """``ckpt`` (a :class:`mxgan.checkpoints.formats.GeneratorCheckpoint`) with its BatchNorm moving statistics
    re-estimated over ``batches`` training-mode batches of fresh z (and random digits) from ``seed``.

    Returns a new checkpoint object; ``ckpt`` is unchanged. ``batches`` 0 returns ``ckpt`` itself.
    """
    if batches == 0:
        return ckpt
    arch = ckpt.arch
    probes = _batchnorm_inputs(ckpt.symbol())
    names = sorted(probes, key=lambda n: int(n[3:]))
    inputs = [(G_INPUT, (batch_size, arch.nz, 1, 1))]
    if arch.conditional:
        inputs.append((COND, (batch_size, CLASSES, 1, 1)))
    mod = mx.mod.Module(mx.sym.Group([probes[n] for n in names]), data_names=[n for n, _ in inputs],
                        label_names=None, context=contexts or [mx.cpu()])
    mod.bind(data_shapes=inputs, for_training=False)
    mod.set_params(ckpt.arg_params, ckpt.aux_params, allow_extra=True)
    rng = stream(seed, "recalibrate")
    # per layer: the count, sum and sum of squares of each channel's values, in float64
    moments = {n: np.zeros((3, 1)) for n in names}
    for _ in range(batches):
        data = [mx.nd.array(latent(rng, batch_size, arch.nz, arch.noise))]
        if arch.conditional:
            data.append(one_hot(rng.integers(0, CLASSES, batch_size)))
        mod.forward(mx.io.DataBatch(data), is_train=True)  # every BatchNorm normalizes by its batch
        for name, output in zip(names, mod.get_outputs()):
            values = output.asnumpy().astype(np.float64).transpose(1, 0, 2, 3).reshape(output.shape[1], -1)
            moments[name] = moments[name] + np.stack([np.full(len(values), values.shape[1]),
                                                      values.sum(axis=1), (values ** 2).sum(axis=1)])
    aux = dict(ckpt.aux_params)
    for name, (count, total, squares) in moments.items():
        mean = total / count
        aux[f"{name}_moving_mean"] = mx.nd.array(mean.astype(np.float32))
        aux[f"{name}_moving_var"] = mx.nd.array(np.maximum(squares / count - mean ** 2, 0.0).astype(np.float32))
    return replace(ckpt, aux_params=aux)


def load_for_sampling(spec: str, weights: str | None = None, recalibrate: int = 0, seed: int = 0,
                      contexts: list[mx.Context] | None = None):
    """The generator ``sample``, ``eval`` and ``export`` use: ``--checkpoint`` with ``--weights``, its
    BatchNorm statistics re-estimated over ``recalibrate`` batches (``--recalibrate-bn``) when asked."""
    return recalibrate_batchnorm(load_generator(spec, weights), recalibrate, seed, contexts=contexts)

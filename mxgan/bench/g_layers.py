"""Does G pay in bfloat16? (``python bench/g_layers.py``): each stride-2 layer of G, as the example's float32
Deconvolution and as the same layer re-expressed with a bfloat16-capable Convolution, timed side by side.

MXNet 1.9.1's AMP keeps Deconvolution in float32 (a bfloat16 one segfaults). A stride-2, 4x4, pad-1 transposed
convolution equals a 3x3, pad-1 Convolution with 4x the filters, one group per output phase, followed by
``depth_to_space(2)`` (sub-pixel convolution): :func:`subpixel_weight` maps the example's weight onto it, so
checkpoints would not change. Each layer runs forward and backward (input and weight gradients) with its
BatchNorm and ReLU, at the batch the trainer uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mxnet as mx
import numpy as np

from mxgan.bench.timing import interleaved
from mxgan.model.precision import in_bfloat16

WEIGHT = "g_weight"
FORMS = ("Deconvolution, float32", "sub-pixel, float32", "sub-pixel, bfloat16", "its Convolution alone, bfloat16")


def subpixel_weight(deconvolution: np.ndarray) -> np.ndarray:
    """A (in, out, 4, 4) stride-2 pad-1 Deconvolution weight as the (4 * out, in, 3, 3) Convolution weight whose
    output, through ``depth_to_space(2)``, is the Deconvolution's. Output row ``2i + a`` takes input rows
    ``i + d`` (d = -1, 0, 1) through the Deconvolution's tap ``a + 1 - 2d``; taps outside 0..3 are zero."""
    cin, cout = deconvolution.shape[:2]
    weight = np.zeros((4 * cout, cin, 3, 3), deconvolution.dtype)
    for a in (0, 1):
        for b in (0, 1):
            phase = slice((2 * a + b) * cout, (2 * a + b + 1) * cout)  # depth_to_space's channel order (DCR)
            for row, dy in enumerate((-1, 0, 1)):
                for col, dx in enumerate((-1, 0, 1)):
                    ky, kx = a + 1 - 2 * dy, b + 1 - 2 * dx
                    if 0 <= ky < 4 and 0 <= kx < 4:
                        weight[phase, :, row, col] = deconvolution[:, :, ky, kx].T
    return weight


def deconvolution_layer(filters: int) -> mx.sym.Symbol:
    """The example's stride-2 G layer (without its BatchNorm and ReLU)."""
    return mx.sym.Deconvolution(mx.sym.Variable("x"), kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=filters,
                                no_bias=True, name="g")


def subpixel_layer(filters: int, interleave: bool = True) -> mx.sym.Symbol:
    """The same layer as a Convolution (weight :func:`subpixel_weight`), its phases interleaved."""
    phases = mx.sym.Convolution(mx.sym.Variable("x"), kernel=(3, 3), pad=(1, 1), num_filter=4 * filters,
                                no_bias=True, name="g")
    return mx.sym.depth_to_space(phases, 2) if interleave else phases


def with_batchnorm(layer: mx.sym.Symbol) -> mx.sym.Symbol:
    return mx.sym.Activation(mx.sym.BatchNorm(layer, fix_gamma=True, name="gbn"), act_type="relu")


def layer_pass(symbol: mx.sym.Symbol, inputs: np.ndarray, weight: np.ndarray) -> Callable[[], None]:
    """Forward and backward of ``symbol`` on ``inputs`` with ``weight``, waited for."""
    arguments = symbol.list_arguments()
    executor = symbol.simple_bind(mx.cpu(), x=inputs.shape, grad_req="write",
                                  type_dict=dict.fromkeys(arguments, np.float32))
    executor.arg_dict["x"][:] = inputs
    executor.arg_dict[WEIGHT][:] = weight
    for name in arguments:
        if name.endswith("gamma"):
            executor.arg_dict[name][:] = 1
    executor.forward(is_train=True)
    head = mx.nd.ones(executor.outputs[0].shape) * 0.01

    def run() -> None:
        executor.forward(is_train=True)
        executor.backward([head])
        mx.nd.waitall()

    return run


def generator_layers(ngf: int, channels: int, image_size: int) -> list[tuple[int, int, int]]:
    """(input channels, filters, input side) of G's stride-2 layers (a 1-channel last layer: 2 filters, as
    mxgan trains it)."""
    count = int(math.log2(image_size)) - 1
    widths = [ngf * 2 ** (count - 2 - i) for i in range(count - 1)] + [max(channels, 2)]
    return [(widths[i], widths[i + 1], 4 * 2**i) for i in range(count - 1)]


def time_layers(batch: int, repeats: int, ngf: int = 64, channels: int = 1, image_size: int = 64) -> list[dict]:
    """Milliseconds of each form of each stride-2 layer, forward + backward with BatchNorm and ReLU."""
    rng = np.random.default_rng(0)
    rows = []
    for cin, cout, side in generator_layers(ngf, channels, image_size):
        inputs = rng.uniform(-1, 1, (batch, cin, side, side)).astype(np.float32)
        weight = rng.normal(0, 0.02, (cin, cout, 4, 4)).astype(np.float32)
        subpixel = subpixel_weight(weight)
        passes = {
            FORMS[0]: layer_pass(with_batchnorm(deconvolution_layer(cout)), inputs, weight),
            FORMS[1]: layer_pass(with_batchnorm(subpixel_layer(cout)), inputs, subpixel),
            FORMS[2]: layer_pass(in_bfloat16(with_batchnorm(subpixel_layer(cout))), inputs, subpixel),
            FORMS[3]: layer_pass(in_bfloat16(subpixel_layer(cout, interleave=False)), inputs, subpixel),
        }
        seconds = interleaved(passes, dict.fromkeys(passes, lambda: None), repeats)
        rows.append({"layer": f"{cin} -> {cout}, {side} -> {2 * side} px", **{k: 1000 * s for k, s in seconds.items()}})
    return rows


def format_rows(rows: list[dict], batch: int) -> str:
    lines = [f"G's stride-2 layers at batch {batch}, forward + backward with BatchNorm and ReLU, ms (median):",
             " | ".join(["layer", *FORMS, "bfloat16 sub-pixel x"])]
    for row in rows:
        speedup = row[FORMS[0]] / row[FORMS[2]]
        lines.append(" | ".join([row["layer"], *(f"{row[form]:.1f}" for form in FORMS), f"{speedup:.2f}"]))
    return "\n".join(lines)

"""The generator and discriminator symbols of MXNet's ``example/gan/dcgan.py``.

At 64 px every layer name, shape and hyper-parameter is the example's, so
``.params`` files written by the example load by name.  Other sizes add
(128 px) or drop (32, 16 px) one stride-2 block per factor of two, keeping
the naming scheme: ``g1..gL`` / ``gbn1..gbn(L-1)`` / ``gact1..gactL`` and
``d1..dL`` / ``dbn2..dbn(L-1)`` / ``dact1..dact(L-1)``.
"""

from __future__ import annotations

import math
from typing import Any

import mxnet as mx

from mxgan.config import Option, Range, check_argument
from mxgan.constants import D_INPUT, D_LABEL, G_INPUT, IMAGE_SIZES
from mxgan.errors import MxganError

KERNEL = (4, 4)
COND = "cond"  # conditional models: the one-hot class (N, classes, 1, 1), an input of G and of D
# A width or channel count: a whole number, and at most a bound that only nonsense reaches (a symbol costs no
# memory; whether a machine holds the weights of a wide network, training's memory check says in GiB).
WIDTH = Option("", bounds=Range(1, 1_000_000))
CUDNN_TUNES = ("off", "limited_workspace", "fastest")


def num_layers(image_size: int) -> int:
    """Layers in G (and in D) for ``image_size``: 5 at 64 px, one more per doubling."""
    if isinstance(image_size, bool) or image_size not in IMAGE_SIZES or not isinstance(image_size, int):
        sizes = ", ".join(str(s) for s in IMAGE_SIZES)
        raise MxganError(
            f"image size {image_size!r} is not supported; use one of {sizes} "
            "(28x28 inputs such as MNIST are resized)"
        )
    return int(math.log2(image_size)) - 1


def _check_widths(**widths: Any) -> None:
    """Each of ``widths`` (ngf, ndf, nc) a whole number within :data:`WIDTH`: one :class:`MxganError` naming it."""
    for name, value in widths.items():
        check_argument(name, value, int, WIDTH)


def _layer_options(
    no_bias: bool, fix_gamma: bool, eps: float, cudnn_tune: str | None, devices: int = 1
) -> tuple[dict, dict]:
    """Keyword arguments of every (De)Convolution and of every BatchNorm (see :func:`_batch_norm`)."""
    conv = {"kernel": KERNEL, "no_bias": no_bias}
    if cudnn_tune:  # GPU only: cuDNN's algorithm search ('off', 'limited_workspace', 'fastest')
        conv["cudnn_tune"] = cudnn_tune
    return conv, {"fix_gamma": fix_gamma, "eps": eps, "ndev": devices}


def _batch_norm(x: mx.sym.Symbol, name: str, bn: dict) -> mx.sym.Symbol:
    """BatchNorm; with the batch split over several devices, SyncBatchNorm.

    A plain BatchNorm would normalize each device's slice by its own
    statistics, so results would depend on how many devices share the batch.
    SyncBatchNorm computes the whole batch's statistics; its parameters have
    the same names and shapes, so checkpoints do not depend on the devices.
    """
    options = dict(bn)
    devices = options.pop("ndev")
    if devices == 1:
        return mx.sym.BatchNorm(x, name=name, **options)
    # the key names the shared buffer of the devices' statistics, process-wide
    return mx.sym.contrib.SyncBatchNorm(x, name=name, ndev=devices, key=f"{name}/{devices}", **options)


def _generator_block(x: mx.sym.Symbol, i: int, num_filter: int, conv: dict, bn: dict) -> mx.sym.Symbol:
    """``g{i}`` Deconvolution (x2 upsampling; g1 maps 1x1 to 4x4), ``gbn{i}``, ReLU ``gact{i}``."""
    stride_pad = {} if i == 1 else {"stride": (2, 2), "pad": (1, 1)}
    x = mx.sym.Deconvolution(x, name=f"g{i}", num_filter=num_filter, **stride_pad, **conv)
    x = _batch_norm(x, f"gbn{i}", bn)
    return mx.sym.Activation(x, name=f"gact{i}", act_type="relu")


def _discriminator_block(x: mx.sym.Symbol, i: int, num_filter: int, conv: dict, bn: dict) -> mx.sym.Symbol:
    """``d{i}`` strided Convolution (/2), ``dbn{i}`` (none on d1), LeakyReLU(0.2) ``dact{i}``."""
    x = mx.sym.Convolution(x, name=f"d{i}", stride=(2, 2), pad=(1, 1), num_filter=num_filter, **conv)
    if i > 1:
        x = _batch_norm(x, f"dbn{i}", bn)
    return mx.sym.LeakyReLU(x, name=f"dact{i}", act_type="leaky", slope=0.2)


def make_generator_sym(
    ngf: int, nc: int, no_bias: bool = True, fix_gamma: bool = True,
    eps: float = 1e-5 + 1e-12, image_size: int = 64, pad_single_filter: bool = False,
    cudnn_tune: str | None = None, conditional: bool = False, devices: int = 1,
) -> mx.sym.Symbol:
    """Generator: ``rand`` (N, nz, 1, 1) -> ``gact{L}`` (N, nc, S, S) in [-1, 1].

    ``pad_single_filter`` (training, nc = 1 only): see :func:`pad_single_filter_params`.
    ``conditional``: z is concatenated with the one-hot ``cond`` (N, classes, 1, 1) (cDCGAN).
    ``devices``: how many devices share a batch (see :func:`_batch_norm`).
    """
    _check_widths(ngf=ngf, nc=nc)
    layers = num_layers(image_size)
    conv, bn = _layer_options(no_bias, fix_gamma, eps, cudnn_tune, devices)
    x = mx.sym.Variable(G_INPUT)                                   # (N, nz, 1, 1)
    if conditional:
        x = mx.sym.concat(x, mx.sym.Variable(COND), dim=1)         # (N, nz + classes, 1, 1)
    for i in range(1, layers):
        # 64 px: g1 ngf*8 4x4, g2 ngf*4 8x8, g3 ngf*2 16x16, g4 ngf 32x32
        x = _generator_block(x, i, ngf * 2 ** (layers - 1 - i), conv, bn)
    padded = pad_single_filter and nc == 1
    x = mx.sym.Deconvolution(                                      # (N, nc, S, S)
        x, name=f"g{layers}", stride=(2, 2), pad=(1, 1), num_filter=PADDED_FILTERS if padded else nc, **conv
    )
    if padded:
        x = mx.sym.slice_axis(x, axis=1, begin=0, end=1, name=f"g{layers}{PAD_SUFFIX}")
    return mx.sym.Activation(x, name=f"gact{layers}", act_type="tanh")


# MXNet 1.9.1's MKLDNN Deconvolution fails in backward with "could not create a
# primitive descriptor for a reorder primitive" when it has 1 filter and 16 or
# more input channels (a 1-channel generator's last layer). Built with
# pad_single_filter, that layer trains as 2 filters whose second stays zero (its
# output is sliced away, so its gradient is exactly 0); checkpoints keep the
# standard (ngf, 1, 4, 4) weight, converted by the two functions below.
PADDED_FILTERS = 2
PAD_SUFFIX = "_first_filter"


def padded_weight(symbol: mx.sym.Symbol) -> str | None:
    """Name of the weight ``symbol`` trains padded, or None."""
    for name in symbol.get_internals().list_outputs():
        if name.endswith(f"{PAD_SUFFIX}_output"):
            return name[: -len(f"{PAD_SUFFIX}_output")] + "_weight"
    return None


def unpad_single_filter_params(symbol: mx.sym.Symbol, arg_params: dict) -> dict:
    """Standard-shape parameters (first filter only) from a padded training symbol's."""
    name = padded_weight(symbol)
    if name is None or name not in arg_params:
        return arg_params
    return {**arg_params, name: arg_params[name][:, :1].copy()}


def pad_single_filter_params(symbol: mx.sym.Symbol, arg_params: dict) -> dict:
    """Parameters for a padded training symbol from standard-shape ones (a zero second filter)."""
    name = padded_weight(symbol)
    if name is None or name not in arg_params or arg_params[name].shape[1] == PADDED_FILTERS:
        return arg_params
    weight = arg_params[name]
    return {**arg_params, name: mx.nd.concat(weight, mx.nd.zeros_like(weight), dim=1)}


def make_discriminator_sym(
    ndf: int, no_bias: bool = True, fix_gamma: bool = True,
    eps: float = 1e-5 + 1e-12, image_size: int = 64, cudnn_tune: str | None = None, conditional: bool = False,
    devices: int = 1,
) -> mx.sym.Symbol:
    """Discriminator: ``data`` (N, nc, S, S), ``label`` (N,) -> ``dloss`` (N, 1), P(real).

    ``conditional``: the image is concatenated with label maps, ``cond`` broadcast to (N, classes, S, S).
    ``devices``: how many devices share a batch (see :func:`_batch_norm`).
    """
    _check_widths(ndf=ndf)
    layers = num_layers(image_size)
    conv, bn = _layer_options(no_bias, fix_gamma, eps, cudnn_tune, devices)
    x = mx.sym.Variable(D_INPUT)                                   # (N, nc, S, S)
    if conditional:
        maps = mx.sym.broadcast_to(mx.sym.Variable(COND), shape=(0, 0, image_size, image_size))
        x = mx.sym.concat(x, maps, dim=1)                          # (N, nc + classes, S, S)
    for i in range(1, layers):
        # 64 px: d1 ndf 32x32, d2 ndf*2 16x16, d3 ndf*4 8x8, d4 ndf*8 4x4
        x = _discriminator_block(x, i, ndf * 2 ** (i - 1), conv, bn)
    x = mx.sym.Convolution(x, name=f"d{layers}", num_filter=1, **conv)
    x = mx.sym.Flatten(x)                                          # (N, 1) logits
    label = mx.sym.Variable(D_LABEL)
    return mx.sym.LogisticRegressionOutput(data=x, label=label, name="dloss")


def make_dcgan_sym(
    ngf: int, ndf: int, nc: int, no_bias: bool = True, fix_gamma: bool = True,
    eps: float = 1e-5 + 1e-12, image_size: int = 64, pad_single_filter: bool = False,
    cudnn_tune: str | None = None, conditional: bool = False,
) -> tuple[mx.sym.Symbol, mx.sym.Symbol]:
    """Return ``(symG, symD)``, the example's ``make_dcgan_sym`` plus ``image_size``.

    Parameters
    ----------
    ngf, ndf : int
        Width of the last generator / first discriminator block.
    nc : int
        Image channels (3 as the example, 1 for gray).
    no_bias, fix_gamma, eps
        As the example: no convolution bias, BatchNorm gamma fixed at 1.
    image_size : int
        16, 32, 64 (the example) or 128.
    pad_single_filter : bool
        For training a 1-channel G under MKLDNN; see :func:`pad_single_filter_params`.
    cudnn_tune : str, optional
        cuDNN's algorithm search for every (De)Convolution ('off', 'limited_workspace', 'fastest').
    conditional : bool
        cDCGAN: the one-hot ``cond`` is concatenated to G's z and, as label maps, to D's image.
    """
    _check_widths(ngf=ngf, ndf=ndf, nc=nc)
    num_layers(image_size)
    for name, flag in (("no_bias", no_bias), ("fix_gamma", fix_gamma), ("pad_single_filter", pad_single_filter),
                       ("conditional", conditional)):
        check_argument(name, flag, bool)
    check_argument("eps", eps, float, Option("", bounds=Range(0, low_open=True)))
    if cudnn_tune is not None:
        check_argument("cudnn_tune", cudnn_tune, str, Option("", choices=CUDNN_TUNES))
    symG = make_generator_sym(ngf, nc, no_bias, fix_gamma, eps, image_size, pad_single_filter, cudnn_tune,
                              conditional)
    symD = make_discriminator_sym(ndf, no_bias, fix_gamma, eps, image_size, cudnn_tune, conditional)
    return symG, symD

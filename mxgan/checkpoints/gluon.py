"""Gluon DCGAN parameter files, generator or discriminator, renamed to the example's Module names.

Three Gluon layouts are read:

=================  ============================================  =========================================
layout             written by                                    keys look like
=================  ============================================  =========================================
``gluon``          ``save_parameters`` of an ``nn.Sequential``   ``0.weight``, ``1.gamma`` (MXNet's dc_gan)
(nested)           the same, of blocks inside blocks (d2l.ai)    ``0.conv2d_trans.weight``, ``0.batch_norm.gamma``
``gluon-collect``  ``collect_params().save``                     ``sequential0_conv0_weight``, ...
=================  ============================================  =========================================

Whether a file holds a generator or a discriminator follows from its
convolution weights: Gluon stores a ``Conv2DTranspose`` kernel as (in, out, k, k)
and a ``Conv2D`` kernel as (out, in, k, k), so only one reading makes the widths
chain from layer to layer. A generator becomes ``g1..gL`` / ``gbn1..gbn(L-1)``, a
discriminator ``d1..dL`` / ``dbn2..dbn(L-1)``: each BatchNorm takes the number of
the convolution before it, as in :mod:`mxgan.model.symbols`.

MXNet's Gluon dc_gan discriminator ends in two logits (fake, real) under a
softmax. Its P(real) is ``sigmoid(real - fake)``, so its last kernel becomes the
difference of the two, one logit, and the example's D computes the same P(real).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mxgan.errors import MxganError

_FIELD = r"(weight|bias|gamma|beta|running_mean|running_var)"
# save_parameters: a dotted block path with at least one child number (``0.``, ``0.batch_norm.``), then the field
_SAVED = re.compile(rf"^((?:\w+\.)*\d+\.(?:\w+\.)*){_FIELD}$")
_COLLECTED = re.compile(rf"^(.*?)(conv2dtranspose|deconv|conv|batchnorm)(\d+)_{_FIELD}$")
_CONV_FIELDS = {"weight", "bias"}
_BN_FIELDS = {"gamma": "arg", "beta": "arg", "running_mean": "aux", "running_var": "aux"}
_AUX_NAMES = {"running_mean": "moving_mean", "running_var": "moving_var"}
GLUON_D_LOGITS = 2  # MXNet's Gluon dc_gan D: (fake, real) logits under SoftmaxCrossEntropyLoss


@dataclass
class _Layer:
    """One Gluon block with parameters: a convolution (weight, bias) or a BatchNorm."""

    name: str
    fields: dict[str, np.ndarray]

    @property
    def is_conv(self) -> bool:
        return "weight" in self.fields


def _layers(fields: dict[str, dict[str, np.ndarray]], source: str | Path) -> dict[str, _Layer]:
    layers = {}
    for name, found in fields.items():
        if not (set(found) <= _CONV_FIELDS and "weight" in found) and not set(found) <= set(_BN_FIELDS):
            raise MxganError(f"{source}: the Gluon block {name} with fields {sorted(found)} is neither a "
                             "convolution nor a BatchNorm")
        layers[name] = _Layer(name, found)
    return layers


def _saved_order(raw: dict[str, np.ndarray], source: str | Path) -> list[_Layer]:
    """save_parameters' blocks in network order: by the block numbers in their path, a convolution before the
    BatchNorm of the same block (d2l.ai's ``0.conv2d_trans``, then ``0.batch_norm``)."""
    fields: dict[str, dict[str, np.ndarray]] = {}
    for key, value in raw.items():
        path, field = _SAVED.fullmatch(key).groups()  # type: ignore[union-attr]  # matched by the caller
        fields.setdefault(path.rstrip("."), {})[field] = value
    layers = _layers(fields, source)
    order = {name: (tuple(int(part) for part in name.split(".") if part.isdigit()), not layer.is_conv)
             for name, layer in layers.items()}
    if len(set(order.values())) != len(order):
        raise MxganError(f"{source}: the Gluon blocks {', '.join(sorted(layers))} have no single network order")
    return sorted(layers.values(), key=lambda layer: order[layer.name])


def _collected_order(raw: dict[str, np.ndarray], source: str | Path) -> tuple[list[_Layer], list[_Layer]]:
    """collect_params' convolutions and BatchNorms, each in its own counter's order (Gluon numbers them apart)."""
    fields: dict[tuple[bool, int], dict[str, np.ndarray]] = {}
    for key, value in raw.items():
        _, kind, number, field = _COLLECTED.fullmatch(key).groups()  # type: ignore[union-attr]  # matched
        fields.setdefault((kind == "batchnorm", int(number)), {})[field] = value
    layers = _layers({f"{'batchnorm' if bn else 'conv'}{n}": f for (bn, n), f in sorted(fields.items())}, source)
    return [layer for layer in layers.values() if layer.is_conv], [layer for layer in layers.values()
                                                                    if not layer.is_conv]


def _role(convs: list[_Layer], source: str | Path) -> str:
    """'G' when the kernels chain as (in, out), 'D' when they chain as (out, in)."""
    shapes = [layer.fields["weight"].shape for layer in convs]
    if len(shapes) < 3 or any(len(shape) != 4 for shape in shapes):
        raise MxganError(f"{source}: {len(shapes)} Gluon convolution kernels of shapes {shapes}; a DCGAN has at "
                         "least 3, each 4-d")
    pairs = list(zip(shapes, shapes[1:]))
    generator = all(a[1] == b[0] for a, b in pairs)
    discriminator = all(a[0] == b[1] for a, b in pairs)
    if generator == discriminator:
        raise MxganError(f"{source}: the Gluon kernels {[s[:2] for s in shapes]} chain neither as a DCGAN "
                         "generator's nor as a discriminator's")
    return "G" if generator else "D"


def _with_batchnorm(role: str, layers: int) -> list[int]:
    """The convolutions a BatchNorm follows: G all but the last, D all but the first and the last."""
    return list(range(1, layers)) if role == "G" else list(range(2, layers))


def _example_names(role: str, convs: list[_Layer], bns: list[_Layer], source: str | Path,
                   ) -> dict[str, np.ndarray]:
    prefix = role.lower()
    normalized = _with_batchnorm(role, len(convs))
    if len(bns) != len(normalized):
        raise MxganError(f"{source}: a Gluon {'generator' if role == 'G' else 'discriminator'} with {len(convs)} "
                         f"convolutions has {len(normalized)} BatchNorms in a DCGAN, not {len(bns)}")
    out: dict[str, np.ndarray] = {}
    for number, conv in enumerate(convs, 1):
        for field, value in conv.fields.items():
            out[f"arg:{prefix}{number}_{field}"] = value
    for number, bn in zip(normalized, bns):
        for field, value in bn.fields.items():
            out[f"{_BN_FIELDS[field]}:{prefix}bn{number}_{_AUX_NAMES.get(field, field)}"] = value
    if role == "D":
        _fold_two_logits(out, f"arg:d{len(convs)}")
    return out


def _fold_two_logits(params: dict[str, np.ndarray], last: str) -> None:
    """A (fake, real) two-logit last layer as the one logit ``real - fake`` (softmax's P(real) = its sigmoid)."""
    weight = params[f"{last}_weight"]
    if weight.shape[0] != GLUON_D_LOGITS:
        return
    params[f"{last}_weight"] = weight[1:] - weight[:1]
    if f"{last}_bias" in params:
        bias = params[f"{last}_bias"]
        params[f"{last}_bias"] = bias[1:] - bias[:1]


def _check_saved_sequence(role: str, sequence: list[_Layer], source: str | Path) -> None:
    """save_parameters keeps the network's order: each BatchNorm must follow a convolution that has one."""
    allowed = _with_batchnorm(role, sum(layer.is_conv for layer in sequence))
    convs = 0
    for layer in sequence:
        convs += layer.is_conv
        if not layer.is_conv and convs not in allowed:
            network = "generator" if role == "G" else "discriminator"
            like = " (as d2l.ai's discriminator)" if role == "D" and convs == 1 else ""
            raise MxganError(f"{source}: this Gluon {network} has a BatchNorm after convolution {convs}{like}; "
                             f"the example's {role} has none there, so these weights cannot be used")


def from_gluon(raw: dict[str, np.ndarray], source: str | Path) -> tuple[str, dict[str, np.ndarray]] | None:
    """``(layout, params under the example's names)`` for a Gluon DCGAN G or D file; None if not Gluon's.

    Raises
    ------
    MxganError
        Gluon keys, but not a DCGAN generator or a discriminator the example's symbols can hold.
    """
    keys = list(raw)
    if all(_SAVED.fullmatch(key) for key in keys):
        sequence = _saved_order(raw, source)
        convs, bns = [la for la in sequence if la.is_conv], [la for la in sequence if not la.is_conv]
        role = _role(convs, source)
        _check_saved_sequence(role, sequence, source)
        return "gluon", _example_names(role, convs, bns, source)
    if all(_COLLECTED.fullmatch(key) for key in keys):
        convs, bns = _collected_order(raw, source)
        return "gluon-collect", _example_names(_role(convs, source), convs, bns, source)
    return None

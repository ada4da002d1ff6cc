"""Networks computing in bfloat16 on float32 weights: MXNet's AMP, kept in memory."""

from __future__ import annotations

import json

import mxnet as mx
from mxnet.contrib import amp

FLOAT32_CODE = "0"  # mshadow's type code for float32


def in_bfloat16(sym: mx.sym.Symbol) -> mx.sym.Symbol:
    """``sym`` with its Convolutions and FullyConnecteds in bfloat16 (AMP's list), fed float32 weights.

    BatchNorm keeps float32 statistics, the loss and LeakyReLU run in float32 (AMP casts around them), and every
    argument stays float32, so Adam updates float32 master weights. Two traps of MXNet 1.9.1: ``tojson()`` drops
    the casts unless told not to (the checkpoints' graph stays the example's: save the original symbol), and
    ``Module.bind`` cannot infer the type of a weight that feeds a cast, hence ``__dtype__`` on every argument.
    """
    converted = amp.convert_symbol(sym, target_dtype="bfloat16", cast_optional_params=False)
    graph = json.loads(converted.tojson(remove_amp_cast=False))
    for node in graph["nodes"]:
        if node["op"] == "null":
            node.setdefault("attrs", {})["__dtype__"] = FLOAT32_CODE
    return mx.sym.load_json(json.dumps(graph))

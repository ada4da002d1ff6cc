"""Export an inference generator for stock MXNet (symbol + params) and for ONNX."""

from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.errors import MxganError
from mxgan.runtime.fileio import StagedOutputs

ONNX_INSTALL = "pip install '.[onnx]' (and, for running it, pip install --no-deps onnxruntime==1.16.3)"


def export_generator(ckpt: GeneratorCheckpoint, prefix: str, onnx: bool = False) -> list[Path]:
    """Write ``PREFIX-symbol.json`` + ``PREFIX-0000.params`` (and ``PREFIX.onnx``).

    The first two load with ``mx.mod.Module.load(PREFIX, 0)`` and
    ``mx.gluon.nn.SymbolBlock.imports``; the input is ``rand`` (N, nz, 1, 1).
    The ONNX model takes any batch size.
    """
    symbol = ckpt.symbol()
    params = {f"arg:{k}": v for k, v in ckpt.arg_params.items()}
    params.update({f"aux:{k}": v for k, v in ckpt.aux_params.items()})
    if onnx:
        try:
            import onnx as _onnx  # noqa: F401  (mx.onnx needs it)
        except ImportError as exc:
            raise MxganError(f"--onnx needs the onnx package: {ONNX_INSTALL}") from exc
    with StagedOutputs() as outputs:  # all of them, or none (interrupted, failed)
        outputs.file(Path(f"{prefix}-symbol.json"), symbol.save)
        outputs.file(Path(f"{prefix}-0000.params"), lambda tmp: mx.nd.save(tmp, params))
        if onnx:
            shapes = list(ckpt.arch.inputs().values())
            outputs.file(Path(f"{prefix}.onnx"), lambda tmp: mx.onnx.export_model(
                symbol, {**ckpt.arg_params, **ckpt.aux_params}, in_shapes=shapes,
                in_types=[np.float32] * len(shapes), onnx_file_path=tmp, dynamic=True,
                dynamic_input_shapes=[(None, *s[1:]) for s in shapes]))
        return outputs.commit()

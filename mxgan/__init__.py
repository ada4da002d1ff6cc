"""mxgan: the DCGAN of MXNet's ``example/gan``, on the Module API, from the command line or from Python.

>>> import mxgan
>>> result = mxgan.train(mxgan.TrainConfig(dataset="mnist", max_steps=200))  # doctest: +SKIP
>>> images = mxgan.generate(mxgan.load_generator(result.checkpoint.parent), num=16)  # doctest: +SKIP

The API (see the README, "Use it from Python"): :class:`TrainConfig` and :func:`train` (with your own
:class:`Hook` subclasses, which read the run through :class:`RunView`); :func:`load_generator`,
:func:`generate` and :func:`evaluate`; :func:`make_dcgan_sym`, the example's networks; :class:`MxganError`,
what every function raises for a problem you can fix.

Importing :mod:`mxgan` does not import MXNet: each name loads its module when first used, after setting
the threads MXNet must start with (``OMP_NUM_THREADS``: the cores, unless you set it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name: the module that defines it (the ones that import MXNet are loaded after its threads are set)
_EXPORTS = {
    "TrainConfig": "mxgan.config",
    "SampleConfig": "mxgan.config",
    "MxganError": "mxgan.errors",
    "train": "mxgan.training.loop",
    "TrainResult": "mxgan.training.trainer",
    "Hook": "mxgan.training.contract",
    "RunView": "mxgan.training.contract",
    "load_generator": "mxgan.inference.sampling",  # formats' reader, its arguments checked
    "GeneratorCheckpoint": "mxgan.checkpoints.formats",
    "generate": "mxgan.inference.sampling",
    "evaluate": "mxgan.quality.evaluate",
    "QualityReport": "mxgan.quality.metrics",
    "make_dcgan_sym": "mxgan.model.symbols",
}
_WITHOUT_MXNET = ("mxgan.config", "mxgan.errors")
__all__ = ["GeneratorCheckpoint", "Hook", "MxganError", "QualityReport", "RunView", "SampleConfig", "TrainConfig",
           "TrainResult", "evaluate", "generate", "load_generator", "make_dcgan_sym", "train"]

if TYPE_CHECKING:  # what type checkers see of the names loaded on first use
    from mxgan.checkpoints.formats import GeneratorCheckpoint
    from mxgan.config import SampleConfig, TrainConfig
    from mxgan.errors import MxganError
    from mxgan.inference.sampling import generate, load_generator
    from mxgan.model.symbols import make_dcgan_sym
    from mxgan.quality.evaluate import evaluate
    from mxgan.quality.metrics import QualityReport
    from mxgan.training.contract import Hook, RunView
    from mxgan.training.loop import train
    from mxgan.training.trainer import TrainResult


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mxgan' has no attribute {name!r}")
    if _EXPORTS[name] not in _WITHOUT_MXNET:
        from mxgan.runtime.env import prepare_mxnet

        prepare_mxnet()
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, "__version__"})

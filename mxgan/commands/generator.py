"""The generator of ``sample``, ``eval`` and ``export``: its flags are :class:`mxgan.config.GeneratorOptions`
(which ``SampleConfig``, ``EvalConfig`` and ``ExportConfig`` extend); here, loading it."""

from __future__ import annotations

from mxgan.config import GeneratorOptions


def load(chosen: GeneratorOptions, seed: int = 0, contexts: list | None = None):
    """The generator the options name (``--weights``, ``--recalibrate-bn`` applied)."""
    from mxgan.inference.recalibrate import load_for_sampling

    return load_for_sampling(chosen.checkpoint, chosen.weights or None, chosen.recalibrate_bn, seed, contexts)

"""The generator of ``sample``, ``eval`` and ``export``: its flags (:class:`mxgan.config.GeneratorOptions`, which
``SampleConfig`` and ``ExportConfig`` extend) and loading it."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from mxgan.commands.options import add_options, from_flags
from mxgan.config import GeneratorOptions


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """``mxgan eval``'s generator flags."""
    add_options(parser, GeneratorOptions)


def check_generator_arguments(args: argparse.Namespace) -> None:
    """``mxgan eval``'s generator flags checked, their declared defaults set where not given."""
    vars(args).update(asdict(from_flags(args, GeneratorOptions)))


def load(chosen: GeneratorOptions | argparse.Namespace, seed: int = 0, contexts: list | None = None):
    """The generator the options name (``--weights``, ``--recalibrate-bn`` applied)."""
    from mxgan.inference.recalibrate import load_for_sampling

    return load_for_sampling(chosen.checkpoint, chosen.weights or None, chosen.recalibrate_bn, seed, contexts)

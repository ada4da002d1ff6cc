"""The flags that choose the generator of ``sample``, ``eval`` and ``export`` (declared in :mod:`mxgan.config`)."""

from __future__ import annotations

import argparse

from mxgan.commands.options import Declared, add_declared, check_declared
from mxgan.config import CHECKPOINT, RECALIBRATE_BN, WEIGHTS_OPTION

GENERATOR: Declared = (("checkpoint", CHECKPOINT, str), ("weights", WEIGHTS_OPTION, str),
                       ("recalibrate_bn", RECALIBRATE_BN, int))


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    add_declared(parser, GENERATOR)


def check_generator_arguments(args: argparse.Namespace) -> None:
    check_declared(args, GENERATOR)


def load(args: argparse.Namespace, seed: int = 0, contexts: list | None = None):
    """The generator the flags name (``--weights``, ``--recalibrate-bn`` applied)."""
    from mxgan.inference.recalibrate import load_for_sampling

    return load_for_sampling(args.checkpoint, args.weights or None, args.recalibrate_bn, seed, contexts)

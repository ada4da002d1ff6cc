"""``mxgan train`` (= ``python run_dcgan.py``): the flags of :class:`mxgan.config.TrainConfig`, ``--lr`` and
``--dry-run``; checked, then :func:`mxgan.training.loop.train_checked`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mxgan.commands.options import add_options, from_flags, given
from mxgan.config import Option, TrainConfig, declaration, declared
from mxgan.errors import MxganError

SUMMARY = "train a DCGAN"
DESCRIPTION = ("Train the DCGAN of MXNet's example/gan on MNIST or Fashion-MNIST (IDX files), a folder of your own "
               "pictures, a RecordIO file from mxgan pack, or synthetic images.")




@dataclass
class TrainCommand:
    """The flags of ``mxgan train`` beyond :class:`TrainConfig`'s: no option of the run (run.json keeps none)."""

    lr: float = declared(declaration(TrainConfig, "lr_g"), help="Adam learning rate of G and D (sets --lr-g and "
                         "--lr-d)", recipe=False)  # the range of both rates
    dry_run: bool = declared(Option("check the flags, print the resolved options, the run folder and the run's "
                                    "length (its steps, and their time on this machine: a few steps timed), and "
                                    "stop", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, TrainConfig)
    add_options(parser, TrainCommand)


def config(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """The run the flags ask for, every check passed (nothing created yet); ``environ``: the run's environment,
    where it is not this process's."""
    from mxgan.training.checks import check_train_config, resume_config

    lr = from_flags(args, TrainCommand).lr
    values = given(args, TrainConfig)
    if args.resume:
        if lr is not None:
            raise MxganError("--resume keeps the run's own --lr-g and --lr-d; --lr may not change")
        resumed = {name: value for name, value in values.items() if name != "resume"}
        return check_train_config(resume_config(Path(args.resume), **resumed), environ)
    if lr is not None:
        values = {"lr_g": lr, "lr_d": lr} | values
    return check_train_config(TrainConfig(**values), environ)


def run(args: argparse.Namespace) -> int:
    dry_run = from_flags(args, TrainCommand).dry_run
    cfg = config(args)
    if dry_run:
        print(json.dumps(cfg.to_json(), indent=1))
        print(f"would {'continue' if cfg.resume else 'write'} the run folder {cfg.out}")
        from mxgan.training.estimate import run_length

        print(run_length(cfg).format())
        return 0
    from mxgan.training.loop import train_checked

    result = train_checked(cfg)
    if result.stopped:
        print(f"stopped: {result.stopped}")
    if not result.steps:
        end = f"--max-steps {cfg.max_steps}" if cfg.max_steps and result.iterations >= cfg.max_steps else \
            f"--epochs {cfg.epochs}"
        print(f"nothing to train: {cfg.out} already ended at iteration {result.iterations} ({end}); train it further "
              f"with --resume {cfg.out} {end.split()[0]} N")
        return 0
    print(f"trained {result.iterations} steps; checkpoint: {result.checkpoint or 'written by worker rank 0'}; "
          f"run folder: {cfg.out}")
    return 0

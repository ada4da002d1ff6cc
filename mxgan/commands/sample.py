"""``mxgan sample``: the flags of :class:`mxgan.config.SampleConfig` and ``--force``; checked, then
:func:`mxgan.inference.sampling.draw_samples`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mxgan.commands.options import add_options, from_flags
from mxgan.config import Option, SampleConfig, declared
from mxgan.errors import MxganError
from mxgan.runtime.fileio import (
    check_not_replaced,
    check_output_file,
    check_writable,
    remove_dead_temporaries,
    sole_writer,
)

SUMMARY = "draw images from a generator checkpoint (any of 4 MXNet formats)"
DESCRIPTION = "Draw images from a generator checkpoint, without training."


@dataclass
class SampleCommand:
    """The flags of ``mxgan sample`` beyond :class:`SampleConfig`'s: what the command does around the drawing."""

    force: bool = declared(Option("replace --out and --npy where they exist already (else refused)", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, SampleConfig)
    add_options(parser, SampleCommand)


def config(args: argparse.Namespace) -> SampleConfig:
    """What the flags ask for, every check passed (nothing written yet)."""
    cfg = from_flags(args, SampleConfig)
    force = from_flags(args, SampleCommand).force
    if cfg.interpolate > cfg.num:
        raise MxganError(f"--interpolate {cfg.interpolate} must be between 1 and --num ({cfg.num}) rows")
    if cfg.nice and cfg.interpolate:
        raise MxganError("--nice and --interpolate do not combine; choose one")
    if cfg.discriminator and not cfg.nice:
        raise MxganError("--discriminator scores the samples of --nice; add --nice, or leave it out")
    if cfg.digit == "all" and (cfg.nice or cfg.interpolate):
        raise MxganError("--digit all draws its own grid; combine --nice or --interpolate with one digit")
    check_output_file("--out", cfg.out, image=True)
    if cfg.npy:
        check_output_file("--npy", cfg.npy)
    if cfg.separate:
        separate = Path(cfg.separate)
        check_writable(separate, "--separate")
        if separate.exists() and (not separate.is_dir() or any(separate.iterdir())):
            raise MxganError(f"--separate {separate} already holds files; give a new or empty folder (its pictures "
                             "appear all at once when every one is drawn)")
    for flag, path in (("--out", cfg.out), ("--npy", cfg.npy)):
        if path:
            check_not_replaced(flag, path, [Path(path)], force)
    from mxgan.runtime.devices import parse_ctx

    parse_ctx(cfg.ctx)
    return cfg


def run(args: argparse.Namespace) -> int:
    cfg = config(args)
    from mxgan.inference.sampling import draw_samples

    with sole_writer(Path(cfg.out), "--out"):
        # what a killed mxgan left while writing these outputs (its pid is gone; a live one's stays)
        remove_dead_temporaries(*(Path(path) for path in (cfg.out, cfg.npy, cfg.separate) if path))
        written = draw_samples(cfg)
    print("wrote " + ", ".join(map(str, written)))
    return 0

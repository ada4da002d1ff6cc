"""``mxgan eval``: a generator's samples judged by the shipped MNIST classifier (one checkpoint, or with
``--all`` every set of a run folder)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mxgan.commands.generator import add_generator_arguments, check_generator_arguments, load
from mxgan.commands.options import Declared, add_declared, check_declared, check_output_file, data_dir
from mxgan.config import CTX, DATA_DIR, MAX_SAMPLES, SEED, Option, Range, batch_size
from mxgan.constants import FEWEST_JUDGED
from mxgan.errors import MxganError
from mxgan.runtime.fileio import write_bytes_atomic

SUMMARY = "judge a generator with the MNIST classifier: FID-MNIST, digit histogram, confidence"
DESCRIPTION = "Quality of a generator's samples: FID-MNIST, digit histogram, mode collapse, confidence."
NUM = Option("samples to judge", 10000, bounds=Range(FEWEST_JUDGED, MAX_SAMPLES, hint=" (a Frechet distance and the "
                                                     "neighbourhood metrics need a sample of some size; all are held "
                                                     "in memory)"))
OPTIONS: Declared = (("num", NUM, int), ("seed", SEED, int), ("batch_size", batch_size("forward pass", 250), int),
           ("data_dir", DATA_DIR, str), ("ctx", CTX, str))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_generator_arguments(parser)
    parser.add_argument("--all", action="store_true", help="--checkpoint RUN_DIR: a row for every checkpoint set "
                        "the run folder holds, the best one marked, with when it was checked in training")
    add_declared(parser, OPTIONS)
    parser.add_argument("--json", default=None, help="also write the report to this JSON file")


def check(args: argparse.Namespace) -> None:
    check_generator_arguments(args)
    from mxgan.checkpoints.run_folder import has_state

    if args.all and not has_state(Path(args.checkpoint)):
        raise MxganError(f"--all needs a run folder of mxgan train as --checkpoint; {args.checkpoint} is not one")
    check_declared(args, OPTIONS)
    if args.json:
        check_output_file("--json", args.json)


def run(args: argparse.Namespace) -> int:
    check(args)
    from mxgan.quality.evaluate import evaluate_generator, evaluate_run, format_run_table
    from mxgan.runtime.devices import parse_ctx

    contexts, mnist = parse_ctx(args.ctx), data_dir(args.data_dir)
    if args.all:
        rows = evaluate_run(Path(args.checkpoint), args.weights or None, args.recalibrate_bn, mnist, args.num,
                            args.seed, args.batch_size, contexts)
        print(format_run_table(rows))
        result: object = rows
    else:
        ckpt = load(args, args.seed, contexts)
        report = evaluate_generator(ckpt, mnist, args.num, args.seed, args.batch_size, contexts)
        print(f"{ckpt.path}:")
        print(report.format())
        result = report.to_json()
    if args.json:
        write_bytes_atomic(Path(args.json), json.dumps(result, indent=1, allow_nan=False).encode())
    return 0

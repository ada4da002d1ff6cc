"""``mxgan eval``: a generator's samples judged by the shipped MNIST classifier (one checkpoint, or with
``--all`` every set of a run folder)."""

from __future__ import annotations

import argparse
import json
import sys
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
    from mxgan.quality.evaluate import evaluate_generator, format_run_table
    from mxgan.runtime.devices import parse_ctx

    contexts, mnist = parse_ctx(args.ctx), data_dir(args.data_dir)
    if args.all:
        rows = judge_sets(args, mnist, contexts)
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


def judge_sets(args: argparse.Namespace, mnist: Path, contexts: list) -> list[dict]:
    """``--all``: every checkpoint set of the run folder judged alike, oldest first, as
    :func:`mxgan.quality.evaluate.evaluate_run` does, except that a set whose files are missing, changed or
    unreadable is said in one line on the standard error and passed over; an error if none is left."""
    from mxgan.checkpoints.run_folder import EMA_ROLE, read_run_state
    from mxgan.inference.recalibrate import load_for_sampling
    from mxgan.quality.classifier import load_classifier
    from mxgan.quality.evaluate import evaluate_generator
    from mxgan.quality.metrics import mnist_reference

    run = Path(args.checkpoint)
    state = read_run_state(run)
    best = state.best["files"] if state.best else None
    checks = {json.dumps(e["files"], sort_keys=True): e for e in state.evaluations}
    classifier, reference, rows = load_classifier(contexts=contexts), None, []
    for each in state.checkpoints:
        weights = args.weights or ("ema" if EMA_ROLE in each.files else "raw")
        try:
            problem = each.problem(run, ("G", EMA_ROLE) if weights == "ema" else ("G",))
            if problem:
                raise MxganError(problem)
            ckpt = load_for_sampling(str(run / each.files["G"]), weights, args.recalibrate_bn, args.seed, contexts)
        except MxganError as exc:  # this set only: the others are judged still
            print(f"mxgan eval --all: passed over {each.describe()}: {exc}", file=sys.stderr)
            continue
        reference = reference or mnist_reference(classifier, mnist, ckpt.arch.image_size)
        report = evaluate_generator(ckpt, mnist, args.num, args.seed, args.batch_size, contexts,
                                    (classifier, reference))
        check = checks.get(json.dumps(each.files, sort_keys=True), {})
        in_training = {key: check.get(key) for key in ("iteration", "seconds", "fid", "fid_raw")}
        rows.append({"file": ckpt.path.name, "best": each.files == best, "in_training": in_training,
                     **report.to_json()})
    if not rows:
        raise MxganError(f"--all {run}: none of its {len(state.checkpoints)} checkpoint sets could be judged (each "
                         "said above); resume the run or train again to write good ones")
    return rows

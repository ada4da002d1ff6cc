"""``mxgan eval``: a generator's samples measured against its data (one checkpoint, or with ``--all`` every set of a
run folder): FID-MNIST and the digit histogram for MNIST generators, Inception FID and KID for any other."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mxgan.commands.generator import load
from mxgan.commands.options import add_options, data_dir, from_flags
from mxgan.config import (
    CTX,
    DATA_DIR,
    DTYPE,
    MEASURED,
    SEED,
    GeneratorOptions,
    Option,
    Range,
    TrainConfig,
    batch_size,
    declared,
)
from mxgan.errors import MxganError
from mxgan.runtime.fileio import check_not_replaced, check_output_file, write_bytes_atomic

SUMMARY = "measure a generator against its data: FID-MNIST and digits (MNIST), Inception FID and KID (any data)"
DESCRIPTION = ("Quality of a generator's samples against the data it was trained on. MNIST generators: FID-MNIST, "
               "the digit histogram, mode collapse, the classifier's confidence. Any other run (a folder, a .rec, "
               "Fashion-MNIST): FID and KID in the FID Inception network's features, precision, recall, density, "
               "coverage.")
METRICS = ("auto", "mnist", "inception")  # mxgan.quality.evaluator.METRICS (that module loads MXNet)


@dataclass
class EvalConfig(GeneratorOptions):
    """What ``mxgan eval`` measures (the generator, as ``sample`` and ``export`` take it), and how."""

    num: int = declared(MEASURED)
    seed: int = declared(SEED, help="seed of the samples' latent vectors")
    batch_size: int = declared(batch_size("forward pass", 250))
    data_dir: str = declared(DATA_DIR, help="the data the generator is measured against (default: the run's own, "
                             "from run.json beside the checkpoint; else $MXGAN_DATA_DIR or ./data, holding mnist/)")
    ctx: str = declared(CTX, help="device: cpu or gpu0")
    metric: str = declared(Option("auto: FID-MNIST for MNIST generators of 16-64 px, Inception FID for any other "
                                  "(a run folder's data); mnist or inception: that one (inception needs the run's "
                                  "data: a run folder as --checkpoint)", "auto", choices=METRICS))
    reference_images: int = declared(Option("Inception FID: the training images its reference statistics are made "
                                            "of (all, for a smaller set); kept in the run folder", 10000,
                                            bounds=Range(2), metavar="N"))
    all: bool = declared(Option("--checkpoint RUN_DIR: a row for every checkpoint set the run folder holds, the "
                                "best one marked, with when it was checked in training", False))
    json: str = declared(Option("also write the report to this JSON file", "", metavar="FILE"))
    dtype: str = declared(DTYPE, choices=("float32", "bfloat16"), help="the measuring network's arithmetic: "
                          "float32; bfloat16 (CPUs with AMX): faster Inception features, FID within about 1%% of "
                          "float32's (measured in docs/quality.md); training's checks stay float32")


@dataclass
class EvalCommand:
    """The flags of ``mxgan eval`` beyond :class:`EvalConfig`'s: what the command does around the measuring."""

    force: bool = declared(Option("replace --json where it exists already (else refused)", False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, EvalConfig)
    add_options(parser, EvalCommand)


def config(args: argparse.Namespace) -> EvalConfig:
    """The flags checked (nothing measured, nothing written yet)."""
    cfg = from_flags(args, EvalConfig)
    from mxgan.checkpoints.run_folder import has_state

    if cfg.all and not has_state(Path(cfg.checkpoint)):
        raise MxganError(f"--all needs a run folder of mxgan train as --checkpoint; {cfg.checkpoint} is not one")
    if cfg.json:
        check_output_file("--json", cfg.json)
        check_not_replaced("--json", cfg.json, [Path(cfg.json)], from_flags(args, EvalCommand).force)
    from mxgan.runtime.devices import on_gpu
    from mxgan.runtime.precision import resolve_dtype

    return replace(cfg, dtype=resolve_dtype(cfg.dtype, on_gpu(cfg.ctx)))


def run(args: argparse.Namespace) -> int:
    cfg = config(args)
    from mxgan.runtime.devices import parse_ctx

    contexts = parse_ctx(cfg.ctx)
    if cfg.all:
        result: Any = _all_sets(cfg, contexts)
    else:
        ckpt = load(cfg, cfg.seed, contexts)
        result = _one(cfg, ckpt, contexts)
    if cfg.json:
        write_bytes_atomic(Path(cfg.json), json.dumps(result, indent=1, allow_nan=False).encode())
    return 0


def _one(cfg: EvalConfig, ckpt: Any, contexts: list) -> dict:
    from mxgan.quality.evaluator import evaluate

    folder, options = _run_of(Path(ckpt.path))  # the file --checkpoint resolved to (RUN_DIR:best too)
    evaluator = _evaluator(cfg, folder, options, ckpt.arch.image_size, ckpt.arch.nc, contexts)
    report = evaluate(evaluator, ckpt, cfg.num, cfg.seed, cfg.batch_size, contexts)
    print(f"{ckpt.path} ({evaluator.metric} against {_against(evaluator)}{_in(cfg.dtype)}):")
    if options is None:
        print("  (no run.json beside it says what it was trained on: measured as an MNIST generator, by MNIST's "
              "digit classifier; a model of other pictures is no MNIST model and scores badly here)")
    print(report.format())
    return {"metric": evaluator.metric, "dtype": cfg.dtype, **report.to_json()}


def _all_sets(cfg: EvalConfig, contexts: list) -> list[dict]:
    from mxgan.quality.evaluate import evaluate_run, format_run_table

    run = Path(cfg.checkpoint)
    folder, options = _run_of(run)
    if options is None:
        raise MxganError(f"--all {run}: its run.json is missing or damaged: measure one set of it with --checkpoint "
                         "RUN_DIR/FILE instead")
    evaluator = _evaluator(cfg, folder, options, options.image_size, options.channels, contexts)
    rows = evaluate_run(run, cfg.weights or None, cfg.recalibrate_bn, evaluator, cfg.num, cfg.seed,
                        cfg.batch_size, contexts)
    print(format_run_table(rows, evaluator.metric) + ("\n(features in bfloat16)" if cfg.dtype == "bfloat16" else ""))
    return rows


def _evaluator(cfg: EvalConfig, folder: Path | None, options: TrainConfig | None, image_size: int, channels: int,
               contexts: list) -> Any:
    """The evaluator for a generator of that size: the data of its run (``folder``, whose run.json gave
    ``options``), else, for a lone file (both None), MNIST's."""
    from mxgan.quality.evaluator import EvaluatorChoice, make_evaluator

    if options is None:
        if cfg.metric == "inception":
            raise MxganError(f"--metric inception measures against the run's own data: {cfg.checkpoint} is no file "
                             "of an mxgan run folder (no run.json beside it)")
        options = TrainConfig(dataset="mnist", data_dir=str(data_dir(cfg.data_dir or None)), image_size=image_size,
                              channels=channels)
        cfg = replace(cfg, metric="mnist")  # a lone file: its data unknown, the MNIST classifier measures it
    elif cfg.data_dir:
        options = replace(options, data_dir=cfg.data_dir)
    choice = EvaluatorChoice(options.dataset, image_size, channels, cfg.metric)
    if not choice.inception and options.dataset != "mnist":
        raise MxganError(f"--metric mnist measures MNIST generators; this one was trained on --dataset "
                         f"{options.dataset}: --metric inception measures it against its data")
    return make_evaluator(choice, options, folder, contexts=contexts, reference_images=cfg.reference_images,
                          dtype=cfg.dtype)


def _run_of(path: Path) -> tuple[Path | None, TrainConfig | None]:
    """The run folder a checkpoint belongs to (it, or the folder holding the file) and its options, if any."""
    from mxgan.config import load_run_options

    folder = path if path.is_dir() else path.parent
    try:
        options = load_run_options(folder, flag="--checkpoint")
    except MxganError:  # a damaged run.json: measured as a lone file
        options = None
    return (folder, options) if options is not None else (None, None)


def _in(dtype: str) -> str:
    return ", features in bfloat16" if dtype == "bfloat16" else ""


def _against(evaluator: Any) -> str:
    data = getattr(evaluator, "data", None)
    return f"{data.dataset} in {data.data_dir}" if data is not None else "MNIST's test set"

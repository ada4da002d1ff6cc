"""The ``mxgan`` command line: parse, validate, run; errors become one line and an exit code.

``mxgan train ...`` is ``python run_dcgan.py ...``. MXNet is imported only after
``OMP_NUM_THREADS`` is set (see :func:`mxgan.runtime.env.prepare_mxnet`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from mxgan.constants import RUN_OPTIONS_FILE
from mxgan.data.download import dataset_folder, verify_dataset
from mxgan.data.idx import IDX_DATASETS, default_data_dir
from mxgan.errors import Interrupted, MxganError
from mxgan.flags import (
    add_bench_arguments,
    add_classifier_arguments,
    add_eval_arguments,
    add_export_arguments,
    add_launch_arguments,
    add_pack_arguments,
    add_sample_arguments,
    add_train_arguments,
    validate_bench_args,
    validate_classifier_args,
    validate_eval_args,
    validate_export_args,
    validate_launch_args,
    validate_pack_args,
    validate_sample_args,
    validate_train_args,
)
from mxgan.runtime.env import prepare_mxnet
from mxgan.runtime.fileio import COMMITTED, check_writable, sole_writer, write_bytes_atomic
from mxgan.runtime.signals import StoppedTwice, interruption_line, stopped_by


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        # argparse's own words for a bad choice, in mxgan's: "--bn 'x' is not one of eval, train"
        choice = re.fullmatch(r"argument (\S+?)(?:/\S+)?: invalid choice: (.*) \(choose from (.*)\)", message)
        if choice:
            flag, value, listed = choice.groups()
            message = f"{flag} {value} is not one of {listed.replace(chr(39), '')}"
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with each flag's default, except where it would say nothing (None, a switch) or the
    help already tells it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if action.default is None or action.nargs == 0 or "default:" in help_text:
            return help_text
        return super()._get_help_string(action) or help_text


def _add_download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=sorted(IDX_DATASETS), help="dataset to fetch")
    parser.add_argument("--data-dir", default=None,
                        help="folder to put <dataset>/ in (default: $MXGAN_DATA_DIR, else ./data)")


# name: (one-line help, description, function adding its flags)
SUBCOMMANDS = {
    "train": ("train a DCGAN", "Train the DCGAN of MXNet's example/gan on MNIST-format data.",
              add_train_arguments),
    "sample": ("draw images from a generator checkpoint (any of 4 MXNet formats)",
               "Draw images from a generator checkpoint, without training.", add_sample_arguments),
    "export": ("write an inference generator for stock MXNet (and ONNX)",
               "Write PREFIX-symbol.json + PREFIX-0000.params (and PREFIX.onnx) of an inference generator.",
               add_export_arguments),
    "bench": ("images/s of the training step, the generator and the data pipeline (vs PyTorch)",
              "Throughput of mxgan next to PyTorch's DCGAN example; see bench/README.md.", add_bench_arguments),
    "eval": ("judge a generator with the MNIST classifier: FID-MNIST, digit histogram, confidence",
             "Quality of a generator's samples: FID-MNIST, digit histogram, mode collapse, confidence.",
             add_eval_arguments),
    "classifier": ("train the MNIST classifier that mxgan eval uses (it ships with mxgan)",
                   "Train the LeNet-style MNIST classifier shipped in mxgan/weights/.", add_classifier_arguments),
    "plot": ("pictures of a run: loss, D accuracy and FID curves, a montage and a GIF of its sample grids",
             "Write PNG curves, a montage and an animated GIF of a run folder's fixed-noise grids.",
             lambda p: p.add_argument("run", metavar="RUN_DIR", help="a run folder written by mxgan train")),
    "pack": ("pack a folder of pictures into MXNet RecordIO (.rec + .idx) for --dataset rec",
             "Pack every image under DIR (centre square, --size px) into OUT.rec and OUT.idx.", add_pack_arguments),
    "launch": ("run mxgan train in W workers and S parameter servers on this machine (--kvstore dist_*)",
               "Start MXNet's scheduler, S servers and W workers running `mxgan train TRAIN_FLAGS` on this "
               "machine, and stop them all when one fails.", add_launch_arguments),
    "doctor": ("check the installation: MXNet's build, GPUs, the CUDA libraries of the GPU build",
               "Print MXNet's build features, the GPUs seen, and each CUDA library the GPU build needs: where it "
               "was found, or how to install it. Exit code 1 when something is missing.", lambda p: None),
    "download": ("fetch an MNIST-format dataset without training",
                 "Download the four IDX files of a dataset into <data-dir>/<dataset>/, verified by md5.",
                 _add_download_arguments),
}


def build_parser(prog: str = "mxgan") -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog, description="DCGAN on MXNet's Module API.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, (summary, description, add_arguments) in SUBCOMMANDS.items():
        add_arguments(commands.add_parser(name, help=summary, description=description,
                                          formatter_class=DefaultsFormatter))
    return parser


def run_train(args: argparse.Namespace) -> int:
    cfg = validate_train_args(args)
    if args.dry_run:
        print(json.dumps(cfg.to_json(), indent=1))
        print(f"would {'continue' if cfg.resume else 'write'} the run folder {cfg.out}")
        return 0
    from mxgan.train.loop import train  # imports MXNet, after prepare_mxnet()

    result = train(cfg)
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


def run_sample(args: argparse.Namespace) -> int:
    cfg = validate_sample_args(args)
    from mxgan.inference.sampling import draw_samples  # imports MXNet, after prepare_mxnet()

    with sole_writer(Path(cfg.out), "--out"):
        written = draw_samples(cfg)
    print("wrote " + ", ".join(map(str, written)))
    return 0


def run_export(args: argparse.Namespace) -> int:
    validate_export_args(args)
    from mxgan.checkpoints.export import export_generator
    from mxgan.inference.recalibrate import load_for_sampling

    with sole_writer(Path(args.out), "--out"):
        ckpt = load_for_sampling(args.checkpoint, args.weights, args.recalibrate_bn)
        written = export_generator(ckpt, args.out, onnx=args.onnx)
    for path in written:
        print(f"wrote {path}")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    cfg = validate_bench_args(args)
    from mxgan.bench.throughput import format_profile_result, format_table, run, run_profile

    result = run_profile(cfg) if cfg.profile else run(cfg)
    print(format_profile_result(result) if cfg.profile else format_table(result))
    if args.json:
        write_bytes_atomic(Path(args.json), json.dumps(result, indent=1).encode())
    return 0


def run_eval(args: argparse.Namespace) -> int:
    args = validate_eval_args(args)
    from mxgan.inference.recalibrate import load_for_sampling
    from mxgan.quality.metrics import evaluate_generator, evaluate_run, format_run_table
    from mxgan.runtime.devices import parse_ctx

    contexts = parse_ctx(args.ctx)
    if args.all:
        rows = evaluate_run(Path(args.checkpoint), args.weights, args.recalibrate_bn, args.data_dir, args.num,
                            args.seed, args.batch_size, contexts)
        print(format_run_table(rows))
        result: Any = rows
    else:
        ckpt = load_for_sampling(args.checkpoint, args.weights, args.recalibrate_bn, args.seed, contexts)
        report = evaluate_generator(ckpt, args.data_dir, args.num, args.seed, args.batch_size, contexts)
        print(f"{ckpt.path}:")
        print(report.format())
        result = report.to_json()
    if args.json:
        write_bytes_atomic(Path(args.json), json.dumps(result, indent=1, allow_nan=False).encode())
    return 0


def run_classifier(args: argparse.Namespace) -> int:
    args = validate_classifier_args(args)
    from mxgan.quality.classifier import train_classifier

    accuracy = train_classifier(args.data_dir, Path(args.out), args.epochs, args.seed, train_size=args.train_size,
                                progress=args.progress)
    print(f"MNIST test accuracy {accuracy:.4f}; weights: {args.out}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from mxgan.inference.plots import plot_run

    if Path(args.run).is_dir():  # (plot_run says what is wrong with a run folder that is not one)
        check_writable(Path(args.run), "RUN_DIR")

    for path in plot_run(Path(args.run)):
        print(f"wrote {path}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    spec = IDX_DATASETS[args.dataset]
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    folder = dataset_folder(spec, data_dir)
    verify_dataset(spec, folder)  # files already there are checked too, not only fresh downloads
    print(f"{args.dataset}: all files present and verified (md5) in {folder}")
    return 0


def run_pack(args: argparse.Namespace) -> int:
    validate_pack_args(args)
    from mxgan.data.records import pack_folder

    with sole_writer(Path(args.out), "OUT.rec"):
        report = pack_folder(Path(args.folder), Path(args.out), args.size, args.channels, args.format, args.quality,
                             progress=args.progress)
    print(report.describe())
    return 0


def run_launch(args: argparse.Namespace) -> int:
    train_args = validate_launch_args(args)
    from mxgan.runtime.launch import launch

    return launch(args.workers, args.servers, train_args, port=args.port)


def run_doctor(args: argparse.Namespace) -> int:
    from mxgan.runtime.doctor import diagnose, format_report
    from mxgan.runtime.gpu_arch import UNSUPPORTED_GPU

    lines, problems = diagnose()
    print(format_report(lines, problems))
    if any(UNSUPPORTED_GPU in p for p in problems):
        return 2  # a GPU this build cannot run on: no install fixes that
    return 1 if problems else 0


def _devices(args: argparse.Namespace) -> str:
    """The ``--ctx`` a command will run on, known before MXNet loads (a resumed run keeps its own)."""
    if getattr(args, "ctx", None):
        return args.ctx
    if getattr(args, "resume", None):
        try:
            return str(json.loads((Path(args.resume) / RUN_OPTIONS_FILE).read_text()).get("ctx", "cpu"))
        except (OSError, ValueError, AttributeError):
            return "cpu"  # validation then says what is wrong with the run folder
    return "cpu"


COMMANDS = {"train": run_train, "sample": run_sample, "export": run_export, "bench": run_bench, "eval": run_eval,
            "classifier": run_classifier, "plot": run_plot, "pack": run_pack, "launch": run_launch,
            "doctor": run_doctor, "download": run_download}


def main(argv: list[str] | None = None, prog: str = "mxgan") -> int:
    """Run a command; return its exit code (2: bad input, 3: diverged, 130: interrupted)."""
    args = build_parser(prog).parse_args(argv)  # imports no MXNet
    try:
        if args.command != "launch":  # the launcher imports no MXNet, and shares the cores among its workers
            prepare_mxnet(_devices(args))
        return COMMANDS[args.command](args)
    except Interrupted as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except MxganError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except StoppedTwice as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # the reader went away (mxgan ... | head): its output is not wanted, nor a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 0
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP outside the training loop
        stop = stopped_by(exc)
        print(f"{prog}: {interruption_line(args.command, stop, list(COMMITTED))}", file=sys.stderr)
        return stop.exit_code


if __name__ == "__main__":
    sys.exit(main())

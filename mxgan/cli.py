"""The ``mxgan`` command line: parse, validate, run; errors become one line and an exit code.

``mxgan train ...`` is ``python run_dcgan.py ...``. MXNet is imported only after
``OMP_NUM_THREADS`` is set (see :func:`mxgan.env.configure_threads`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mxgan.datasets import IDX_DATASETS, default_data_dir, locate_dataset
from mxgan.download import ensure_dataset
from mxgan.env import configure_threads
from mxgan.errors import Interrupted, MxganError
from mxgan.options import add_train_arguments, validate_train_args


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line and exit code 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(prog: str = "mxgan") -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog, description="DCGAN on MXNet's Module API.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    train = commands.add_parser(
        "train", help="train a DCGAN",
        description="Train the DCGAN of MXNet's example/gan on MNIST-format data.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_train_arguments(train)
    download = commands.add_parser(
        "download", help="fetch an MNIST-format dataset without training",
        description="Download the four IDX files of a dataset into <data-dir>/<dataset>/, verified by md5.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    download.add_argument("dataset", choices=sorted(IDX_DATASETS), help="dataset to fetch")
    download.add_argument("--data-dir", default=None,
                          help="folder to put <dataset>/ in (default: $MXGAN_DATA_DIR, else ./data)")
    return parser


def run_train(args: argparse.Namespace) -> int:
    cfg = validate_train_args(args)
    from mxgan.trainer import train  # imports MXNet, after configure_threads()

    result = train(cfg)
    print(f"trained {result.iterations} steps; checkpoint: {result.checkpoint}; run folder: {cfg.out}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    spec = IDX_DATASETS[args.dataset]
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    folder = locate_dataset(spec, data_dir) or ensure_dataset(spec, data_dir / spec.name)
    print(f"{args.dataset}: all files present in {folder}")
    return 0


COMMANDS = {"train": run_train, "download": run_download}


def main(argv: list[str] | None = None, prog: str = "mxgan") -> int:
    """Run a command; return its exit code (2: bad input, 3: diverged, 130: interrupted)."""
    configure_threads()
    args = build_parser(prog).parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except Interrupted as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.exit_code
    except MxganError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted twice; stopped without a checkpoint", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

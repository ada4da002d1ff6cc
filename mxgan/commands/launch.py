"""``mxgan launch``: MXNet's scheduler, S servers and W workers running ``mxgan train`` on this machine."""

from __future__ import annotations

import argparse
import socket

from mxgan.commands.options import Declared, add_declared, check_declared
from mxgan.config import POSITIVE, Option, Range
from mxgan.errors import MxganError

SUMMARY = "run mxgan train in W workers and S parameter servers on this machine (--kvstore dist_*)"
DESCRIPTION = ("Start MXNet's scheduler, S servers and W workers running `mxgan train TRAIN_FLAGS` on this machine, "
               "and stop them all when one fails.")
OPTIONS: Declared = (
    ("workers", Option("training processes (each reads its own part of the data)", 2, bounds=POSITIVE), int),
    ("servers", Option("parameter-server processes", 1, bounds=POSITIVE), int),
    ("port", Option("the scheduler's port on 127.0.0.1 (0: a free one)", 0, bounds=Range(0, 65535)), int),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_declared(parser, OPTIONS)
    parser.add_argument("train_args", nargs=argparse.REMAINDER, metavar="-- TRAIN_FLAGS",
                        help="the flags of mxgan train, after --; they must include --kvstore dist_sync or dist_async")


def train_flags(args: argparse.Namespace) -> list[str]:
    """The workers' ``train`` flags, after every check of the launch's own."""
    check_declared(args, OPTIONS)
    if args.port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", args.port))
            except OSError as exc:
                raise MxganError(f"--port {args.port} is in use on 127.0.0.1 ({exc.strerror}); choose another, or "
                                 "0 for a free one") from exc
    flags = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    kvstores = [value for flag, value in zip(flags, flags[1:]) if flag == "--kvstore"]
    kvstores += [arg.split("=", 1)[1] for arg in flags if arg.startswith("--kvstore=")]
    if not kvstores or not kvstores[-1].startswith("dist"):
        raise MxganError("mxgan launch runs distributed training: add --kvstore dist_sync (or dist_async) to the "
                         "train flags after --, e.g. mxgan launch --workers 2 -- --kvstore dist_sync --dataset mnist")
    return flags


def run(args: argparse.Namespace) -> int:
    flags = train_flags(args)
    from mxgan.runtime.launch import launch

    return launch(args.workers, args.servers, flags, port=args.port)

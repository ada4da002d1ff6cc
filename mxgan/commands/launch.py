"""``mxgan launch``: MXNet's scheduler, S servers and W workers running ``mxgan train`` on this machine."""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, replace
from typing import NoReturn

from mxgan.commands.options import add_options, from_flags
from mxgan.config import POSITIVE, Option, Range, declared
from mxgan.errors import MxganError
from mxgan.runtime.distributed import LAUNCHER_VARIABLES

SUMMARY = "run mxgan train in W workers and S parameter servers on this machine (--kvstore dist_*)"
DESCRIPTION = ("Start MXNet's scheduler, S servers and W workers running `mxgan train TRAIN_FLAGS` on this machine, "
               "and stop them all when one fails.")


@dataclass
class LaunchConfig:
    """The processes ``mxgan launch`` starts, and the flags of its workers' ``mxgan train``."""

    workers: int = declared(Option("training processes (each reads its own part of the data)", 2, bounds=POSITIVE))
    servers: int = declared(Option("parameter-server processes", 1, bounds=POSITIVE))
    port: int = declared(Option("the scheduler's port on 127.0.0.1 (0: a free one)", 0, bounds=Range(0, 65535)))
    train_args: list[str] = declared(Option("the flags of mxgan train, after --; they must include --kvstore "
                                            "dist_sync or dist_async", [], positional=True, metavar="-- TRAIN_FLAGS"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, LaunchConfig)


def config(args: argparse.Namespace) -> LaunchConfig:
    """What the flags ask for, every check of the launch's own passed; ``train_args`` without the ``--``."""
    cfg = from_flags(args, LaunchConfig)
    if cfg.port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", cfg.port))
            except OSError as exc:
                raise MxganError(f"--port {cfg.port} is in use on 127.0.0.1 ({exc.strerror}); choose another, or "
                                 "0 for a free one") from exc
    flags = cfg.train_args[1:] if cfg.train_args[:1] == ["--"] else cfg.train_args
    kvstores = [value for flag, value in zip(flags, flags[1:]) if flag == "--kvstore"]
    kvstores += [arg.split("=", 1)[1] for arg in flags if arg.startswith("--kvstore=")]
    if not kvstores or not kvstores[-1].startswith("dist"):
        raise MxganError("mxgan launch runs distributed training: add --kvstore dist_sync (or dist_async) to the "
                         "train flags after --, e.g. mxgan launch --workers 2 -- --kvstore dist_sync --dataset mnist")
    _check_train_flags(flags)
    return replace(cfg, train_args=flags)


class _TrainFlags(argparse.ArgumentParser):
    """The parser of the workers' train flags: a usage error is an MxganError, said before any process starts."""

    def error(self, message: str) -> NoReturn:
        raise MxganError(f"the train flags after --: {message}")


def _check_train_flags(flags: list[str]) -> None:
    """Every check of ``mxgan train`` on the workers' flags, here, before a scheduler, server or worker starts:
    a flag each worker would refuse is one line, not processes started and stopped."""
    from mxgan.commands.train import add_arguments as add_train_arguments
    from mxgan.commands.train import config as train_config

    parser = _TrainFlags(prog="mxgan train", add_help=False)
    add_train_arguments(parser)
    worker = {**os.environ, **{name: "set by mxgan launch" for name in LAUNCHER_VARIABLES}, "DMLC_ROLE": "worker"}
    train_config(parser.parse_args(flags), worker)


def run(args: argparse.Namespace) -> int:
    cfg = config(args)
    from mxgan.runtime.launch import launch

    return launch(cfg.workers, cfg.servers, cfg.train_args, port=cfg.port)

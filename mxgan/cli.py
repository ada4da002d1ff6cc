"""The ``mxgan`` command line: parse, check, run the subcommand (:mod:`mxgan.commands`); errors become one line
and an exit code.

``mxgan train ...`` is ``python run_dcgan.py ...``. MXNet is imported only after
``OMP_NUM_THREADS`` is set (see :func:`mxgan.runtime.env.prepare_mxnet`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from mxgan.commands import COMMANDS
from mxgan.config import load_run_options
from mxgan.errors import Interrupted, MxganError
from mxgan.runtime.env import prepare_mxnet
from mxgan.runtime.fileio import COMMITTED
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


def build_parser(prog: str = "mxgan") -> argparse.ArgumentParser:
    parser = OneLineParser(prog=prog, description="DCGAN on MXNet's Module API.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name, command in COMMANDS.items():
        command.add_arguments(commands.add_parser(name, help=command.SUMMARY, description=command.DESCRIPTION,
                                                  formatter_class=DefaultsFormatter))
    return parser


def _devices(args: argparse.Namespace) -> str:
    """The ``--ctx`` a command will run on, known before MXNet loads (a resumed run keeps its own)."""
    if getattr(args, "ctx", None):
        return args.ctx
    if getattr(args, "resume", None) and Path(args.resume).is_dir():
        saved = load_run_options(Path(args.resume))
        return saved.ctx if saved else "cpu"
    return "cpu"


def main(argv: list[str] | None = None, prog: str = "mxgan") -> int:
    """Run a command; return its exit code (2: bad input, 3: diverged, 4: a lost peer, 130, 143, 129: stopped by
    Ctrl-C, SIGTERM, SIGHUP)."""
    args = build_parser(prog).parse_args(argv)  # imports no MXNet
    try:
        if args.command != "launch":  # the launcher imports no MXNet, and shares the cores among its workers
            prepare_mxnet(_devices(args))
        return COMMANDS[args.command].run(args)
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

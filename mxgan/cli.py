"""The ``mxgan`` command line: parse, check, run the subcommand (:mod:`mxgan.commands`); errors become one line
and an exit code.

``mxgan train ...`` is ``python run_dcgan.py ...``. MXNet is imported only after
``OMP_NUM_THREADS`` is set (see :func:`mxgan.runtime.env.prepare_mxnet`).
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from mxgan.commands import COMMANDS
from mxgan.config import load_run_options
from mxgan.errors import Interrupted, MxganError
from mxgan.runtime.env import check_environment, prepare_mxnet
from mxgan.runtime.fileio import COMMITTED
from mxgan.runtime.messages import console_messages
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
        try:
            saved = load_run_options(Path(args.resume))
        except MxganError:  # a damaged run.json: the resume takes state.json's copy of the options, and says so
            return "cpu"
        return saved.ctx if saved else "cpu"
    return "cpu"


def check_readable_arguments(argv: list[str]) -> None:
    """Refuse an argument Python could not decode (a non-ASCII name under ``LC_ALL=C`` with ``PYTHONUTF8=0``:
    its bytes become lone surrogates), which MXNet cannot encode and OpenCV crashes on, before any work."""
    for i, token in enumerate(argv):
        try:
            token.encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(token).decode("utf-8", "replace")
            flag = argv[i - 1] if i and argv[i - 1].startswith("-") else "the argument"
            encoding = sys.getfilesystemencoding()
            raise MxganError(f"{flag} {shown}: the name is not ASCII and this process reads its command line as "
                             f"{encoding} (the C locale with PYTHONUTF8=0), which MXNet and OpenCV cannot take; run "
                             "with PYTHONUTF8=1 (or LC_ALL=C.UTF-8), or choose an ASCII name") from None


# file-system errors that need the user, not a fix in mxgan: one line naming the file instead of a traceback
FILE_PROBLEMS = {errno.EPERM: "is it immutable? lsattr shows it, chattr -i undoes it",
                 errno.EACCES: "check its permissions", errno.EROFS: "the file system is read-only",
                 errno.ENOSPC: "free some space", errno.EDQUOT: "free some of your quota",
                 errno.EFBIG: "this process's file-size limit, ulimit -f", errno.EISDIR: "a folder of that name is in "
                 "the way", errno.ENOTDIR: "a file stands where a folder goes"}


def file_problem(exc: OSError) -> str | None:
    """The line for an :class:`OSError` on a named file that the user must fix; None for any other."""
    if exc.filename is None or exc.errno not in FILE_PROBLEMS:
        return None
    return (f"{exc.filename}: {exc.strerror} ({FILE_PROBLEMS[exc.errno]}); fix it and run again (a training run "
            "continues from its last checkpoint with --resume)")


def _output_fails() -> bool:
    """Whether the standard output cannot take what it holds (a full disk, a file-size limit); if so, what it
    holds is dropped, so that nothing fails again at the exit."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return False
    except (OSError, ValueError):
        _discard_output()
        return True


def _discard_output() -> None:
    """The standard output from now on goes nowhere: nothing left to flush at the exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None, prog: str = "mxgan") -> int:
    """Run a command; return its exit code (2: bad input, 3: diverged, 4: a lost peer, 130, 143, 129, 138: stopped
    by Ctrl-C, SIGTERM, SIGHUP, SIGUSR1)."""
    args = build_parser(prog).parse_args(argv)  # imports no MXNet
    try:
        check_readable_arguments(sys.argv[1:] if argv is None else argv)
        if args.command == "launch":  # the launcher imports no MXNet, and shares the cores among its workers
            check_environment()
        else:
            prepare_mxnet(_devices(args))
        with console_messages(command=True):  # what library code logs, printed
            code = COMMANDS[args.command].run(args)
        if sys.stdout is not None:
            sys.stdout.flush()  # here, where a full disk behind `> file` is one line, not a traceback at the exit
        return code
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
        _discard_output()
        return 0
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP or SIGUSR1 outside the training loop
        stop = stopped_by(exc)
        print(f"{prog}: {interruption_line(args.command, stop, list(COMMITTED))}", file=sys.stderr)
        return stop.exit_code
    except OSError as exc:
        # a write without a file name that found no room: the standard output's (mxgan's own files say their name)
        unnamed = exc.filename is None and exc.errno in (errno.ENOSPC, errno.EFBIG)
        problem = f"could not write the standard output ({exc.strerror})" if _output_fails() or unnamed else \
            file_problem(exc)
        if unnamed:
            _discard_output()
        if problem is None:
            raise
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return MxganError.exit_code

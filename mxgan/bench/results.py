"""A bench script's results file (``--json``): refused before any work where it cannot be written, written whole,
and holding what makes it the source of the figures the docs quote from it: the machine, the date, the command
and what it printed (see tests/test_docs.py)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from mxgan.errors import MxganError
from mxgan.runtime.amx import cpu_model
from mxgan.runtime.env import available_cores
from mxgan.runtime.fileio import check_output_file, write_bytes_atomic

RESULTS_FLAGS = ("--json",)  # the flag of a bench script's results file


def run_script(main: Callable[[], int]) -> NoReturn:
    """Run a bench script's ``main``; a problem it can name (no data, no weights) is one line and exit 2."""
    try:
        code = main()
    except MxganError as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code)


def results_parser(doc: str) -> argparse.ArgumentParser:
    """A bench script's parser, described by the first line of ``doc``, with ``--json FILE``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(*RESULTS_FLAGS, default="", help="also write the results here")
    return parser


def parse_results_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The script's arguments; a ``--json`` file that cannot be written is one line and exit 2, before any work."""
    args = parser.parse_args()
    if args.json:
        try:
            check_output_file("--json", args.json)
        except MxganError as exc:
            parser.exit(2, f"{parser.prog}: error: {exc}\n")
    return args


def provenance(printed: str, source: str = "mxgan bench (bench/throughput.py)") -> dict:
    """The machine, the date, this process's command and what it printed."""
    command = shlex.join(["python", *sys.argv] if sys.argv[0].endswith(".py") else ["mxgan", *sys.argv[1:]])
    return {"machine": f"{cpu_model()}, {available_cores()} cores", "date": time.strftime("%Y-%m-%d"),
            "source": source, "commands": [command],
            "printed": [{"command": command, "output": printed.splitlines()}]}


def write_results(path: str, result: dict) -> None:
    """``result`` as JSON, written whole or not at all (a temporary file, then renamed)."""
    write_bytes_atomic(Path(path), (json.dumps(result, indent=1, allow_nan=False) + "\n").encode())


def report(printed: str, path: str, source: str, **result: object) -> None:
    """Print what a bench measured; with ``--json`` (``path``), write ``result`` with its provenance too."""
    print(printed, flush=True)
    if path:
        write_results(path, {**result, **provenance(printed, source)})

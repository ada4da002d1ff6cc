"""``mxgan --help`` and every command's ``--help``, as users start them, load neither MXNet nor OpenCV."""

import subprocess
import sys

import pytest
from helpers import REPO

from mxgan.commands import COMMANDS

PROBE = """
import sys
from mxgan.entry import run
try:
    run({argv!r})
except SystemExit:
    pass
print(sorted(name for name in ("cv2", "mxnet") if name in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_loads_neither_mxnet_nor_opencv(command):
    argv = ["--help"] if command is None else [command, "--help"]
    result = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert "usage:" in result.stdout and result.stderr.strip().splitlines()[-1] == "[]", result.stderr

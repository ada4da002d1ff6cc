"""The README cannot drift: its options block is --help, its test commands are what CI runs."""

import os
import re
import subprocess
import sys

import pytest
from helpers import REPO


def _pattern(marker: str) -> str:
    return rf"(<!-- {marker}.*?-->\n```\w*\n)(.*?)(```\n<!-- /{marker} -->)"


def _block(text: str, marker: str) -> str:
    match = re.search(_pattern(marker), text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(2)


COMMANDS = ("train", "sample", "export", "pack", "launch")


def _help(command: str) -> str:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-m", "mxgan.cli", command, "--help"],
                          capture_output=True, text=True, env=env, check=True).stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_options_blocks_are_the_help_output(command):
    assert _block((REPO / "README.md").read_text(), f"{command}-help") == _help(command), \
        "README options are stale: run python tests/test_readme.py --update"


def test_ci_runs_the_readme_test_commands_verbatim():
    commands = _block((REPO / "README.md").read_text(), "test-commands").strip().splitlines()
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    start = ci_lines.index(commands[0])
    assert ci_lines[start:start + len(commands)] == commands
    assert "export MXGAN_DATA_DIR=../shared/data" in ci_lines[:start]


def test_data_manifest_matches_the_downloader():
    from mxgan.data.idx import IDX_DATASETS

    listed = dict(line.split()[::-1] for line in (REPO / "data" / "MD5SUMS").read_text().splitlines())
    expected = {f"{d.name}/{f.name}": f.md5 for d in IDX_DATASETS.values() for f in d.files.values()}
    assert listed == expected


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    readme = REPO / "README.md"
    text = readme.read_text()
    for command in COMMANDS:
        text = re.sub(_pattern(f"{command}-help"), lambda m, c=command: m.group(1) + _help(c) + m.group(3),
                      text, flags=re.S)
    readme.write_text(text)

"""The README cannot drift: its options block is --help, its test commands are what CI runs."""

import os
import re
import subprocess
import sys

from conftest import REPO


def _block(text: str, marker: str) -> str:
    match = re.search(rf"<!-- {marker}.*?-->\n```\w*\n(.*?)```\n<!-- /{marker} -->", text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1)


def test_options_block_is_the_help_output():
    env = {**os.environ, "COLUMNS": "100"}
    help_text = subprocess.run([sys.executable, "-m", "mxgan.cli", "train", "--help"],
                               capture_output=True, text=True, env=env, check=True).stdout
    assert _block((REPO / "README.md").read_text(), "train-help") == help_text


def test_ci_runs_the_readme_test_commands_verbatim():
    commands = _block((REPO / "README.md").read_text(), "test-commands").strip().splitlines()
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    start = ci_lines.index(commands[0])
    assert ci_lines[start:start + len(commands)] == commands
    assert "export MXGAN_DATA_DIR=../shared/data" in ci_lines[:start]


def test_data_manifest_matches_the_downloader():
    from mxgan.datasets import IDX_DATASETS

    listed = dict(line.split()[::-1] for line in (REPO / "data" / "MD5SUMS").read_text().splitlines())
    expected = {f"{d.name}/{f.name}": f.md5 for d in IDX_DATASETS.values() for f in d.files.values()}
    assert listed == expected

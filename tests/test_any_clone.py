"""A clone anywhere passes: the tests on checkpoints need nothing outside the repository (no ../shared beside it),
and no test reads CI's shared folder but through helpers.py, which checks it only in addition where it exists."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

CHECKPOINT_TESTS = ["tests/test_checkpoints.py", "tests/test_gluon_checkpoints.py", "tests/test_sample_export.py"]


def test_no_test_reads_ci_s_shared_folder_by_its_own_path():
    """A path to ../shared spelled out in a test fails in every clone outside CI's layout."""
    spelled = [path.name for path in sorted((REPO / "tests").glob("*.py"))
               if path.name not in ("helpers.py", "test_any_clone.py") and re.search(r'/ *"shared"', path.read_text())]
    assert not spelled, f"{spelled} name ../shared themselves: use helpers.fixtures() (or SHARED_FIXTURES, skipped " \
                        "where it is missing)"


@pytest.mark.slow  # a clone and a second pytest session: about half a minute
def test_a_fresh_clone_without_shared_passes_the_checkpoint_tests(tmp_path):
    # git clone copies what is committed in this repository, not the working tree: it checks the committed state
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, capture_output=True, timeout=120)
    assert not (clone.parent / "shared").exists()  # not CI's layout: nothing at ../shared
    no_data = tmp_path / "no-data"  # these tests need no MNIST; an empty data folder proves it
    no_data.mkdir()
    # The venv's mxgan is installed editable from the main checkout; the clone's own mxgan must be the one
    # tested. `python -m pytest` run in the clone puts it first on sys.path already; PYTHONPATH says so
    # explicitly, and holds for every process the tests start too. Checked, not assumed, below.
    env = {**os.environ, "PYTHONPATH": str(clone), "MXGAN_DATA_DIR": str(no_data)}
    env.pop("PYTEST_ADDOPTS", None)  # this session's options are not the clone session's
    which = subprocess.run([sys.executable, "-c", "import mxgan; print(mxgan.__file__)"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=120)
    assert Path(which.stdout.strip()).is_relative_to(clone), which.stdout + which.stderr

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", *CHECKPOINT_TESTS],
                            cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    # the fixtures were made in the clone, by its own tests/stock_checkpoints.py
    assert list((clone / ".pytest_cache" / "d" / "stock-checkpoints").glob("ngf8-*/fixture.json")), result.stdout

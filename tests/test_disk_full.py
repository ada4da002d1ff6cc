"""A full disk while writing: one line, exit 2, the previous file intact (writes go to /dev/full, which answers
every write with ENOSPC, through the temporary name the atomic write uses)."""

import os

import mxnet as mx
import numpy as np
import pytest
from helpers import fixtures

from mxgan.cli import main
from mxgan.errors import MxganError
from mxgan.runtime.fileio import write_atomic, write_bytes_atomic


def _full(path):
    """Point the temporary file this process would write for ``path`` at /dev/full."""
    os.symlink("/dev/full", path.with_name(f".{path.name}.tmp-{os.getpid()}"))


def test_a_full_disk_keeps_the_previous_file(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("previous")
    _full(target)
    with pytest.raises(MxganError, match="no space left on the device"):
        write_bytes_atomic(target, b"x" * 100000)
    assert target.read_text() == "previous" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_mxnets_short_write_is_the_same_one_line(tmp_path):
    target = tmp_path / "mnist_G-0001.params"
    _full(target)
    with pytest.raises(MxganError, match="no space left on the device"):
        write_atomic(target, lambda tmp: mx.nd.save(tmp, {"arg:w": mx.nd.array(np.ones((256, 256)))}))


def test_sample_onto_a_full_disk_is_one_line_and_exit_2(tmp_path, capsys):
    out = tmp_path / "grid.png"
    _full(out)
    code = main(["sample", "--checkpoint", str(fixtures() / "module_save_params"), "--num", "4", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"could not write {out}" in err
    assert not out.exists()

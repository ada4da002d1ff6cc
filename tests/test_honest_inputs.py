"""Data and weights that are not what they claim: one line each, exit 2, nothing written."""

import gzip
import shutil

import numpy as np
from helpers import FIXTURES, data_dir, fixtures, run_cli

from mxgan.checkpoints.params_file import read_params


def _one_line(result):
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_download_verifies_the_files_already_present(tmp_path):
    copy = tmp_path / "mnist"
    shutil.copytree(data_dir() / "mnist", copy)
    assert run_cli("-m", "mxgan.cli", "download", "mnist", "--data-dir", str(tmp_path)).returncode == 0
    damaged = next(p for p in sorted(copy.iterdir()) if "t10k-labels" in p.name)
    labels = bytearray(gzip.decompress(damaged.read_bytes()))
    labels[-1] = (labels[-1] + 1) % 10  # a readable file with one wrong label: only its checksum can tell
    damaged.write_bytes(gzip.compress(bytes(labels)))
    line = _one_line(run_cli("-m", "mxgan.cli", "download", "mnist", "--data-dir", str(tmp_path)))
    assert f"{damaged} is damaged (md5" in line and "mxgan download mnist" in line


def test_a_data_dir_one_level_too_deep_gets_a_hint(tmp_path):
    line = _one_line(run_cli("run_dcgan.py", "--data-dir", str(data_dir() / "mnist"), "--out", str(tmp_path / "r")))
    assert f"holds the mnist files itself; pass the folder that holds mnist/, {data_dir()}" in line
    assert not (tmp_path / "r").exists()


def test_weights_holding_nan_are_refused_naming_the_parameter(tmp_path):
    import mxnet as mx

    source = fixtures() / "module_save_params" / "mnist_G_2017_10_09-10_00-0000.params"
    params = {k: mx.nd.array(v) for k, v in read_params(source).items()}
    params["arg:g3_weight"][0, 0, 0, 0] = np.nan
    bad = tmp_path / "bad_G-0000.params"
    mx.nd.save(str(bad), params)
    before = sorted(p.name for p in tmp_path.iterdir())
    for command in (["sample", "--out", str(tmp_path / "s.png")], ["eval"], ["export", "--out", str(tmp_path / "x")]):
        line = _one_line(run_cli("-m", "mxgan.cli", command[0], "--checkpoint", str(bad), *command[1:]))
        assert "parameter g3_weight holds NaN or Inf" in line
    line = _one_line(run_cli("run_dcgan.py", "--checkpoint", str(bad), "--dataset", "synthetic", "--channels", "3",
                             "--out", str(tmp_path / "run")))
    assert "parameter g3_weight holds NaN or Inf" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert FIXTURES.is_dir()


def test_launch_port_out_of_range(tmp_path):
    line = _one_line(run_cli("-m", "mxgan.cli", "launch", "--port", "70000", "--", "--kvstore", "dist_sync"))
    assert "--port must be a TCP port, 1-65535 (or 0: a free one), got 70000" in line

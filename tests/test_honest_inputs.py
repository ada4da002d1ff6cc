"""Data and weights that are not what they claim: one line each, exit 2, nothing written."""

import gzip
import shutil

import numpy as np
import pytest
from helpers import REPO, data_dir, fixtures, mnist_data_dir, one_line, run_cli, run_main, tiny

from mxgan.checkpoints.params_file import read_params


def test_download_verifies_the_files_already_present(tmp_path):
    copy = tmp_path / "mnist"
    shutil.copytree(mnist_data_dir() / "mnist", copy)
    assert run_cli("-m", "mxgan", "download", "mnist", "--data-dir", str(tmp_path)).returncode == 0
    damaged = next(p for p in sorted(copy.iterdir()) if "t10k-labels" in p.name)
    labels = bytearray(gzip.decompress(damaged.read_bytes()))
    labels[-1] = (labels[-1] + 1) % 10  # a readable file with one wrong label: only its checksum can tell
    damaged.write_bytes(gzip.compress(bytes(labels)))
    line = one_line(run_cli("-m", "mxgan", "download", "mnist", "--data-dir", str(tmp_path)))
    assert f"{damaged} is damaged (md5" in line and "mxgan download mnist" in line


def test_a_data_dir_one_level_too_deep_gets_a_hint(tmp_path):
    line = one_line(run_main("run_dcgan.py", "--data-dir", f"{mnist_data_dir()}/mnist", "--out", str(tmp_path / "r")))
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
        line = one_line(run_main("-m", "mxgan", command[0], "--checkpoint", str(bad), *command[1:]))
        assert "parameter g3_weight holds NaN or Inf" in line
    line = one_line(run_main("run_dcgan.py", "--checkpoint", str(bad), "--dataset", "synthetic", "--channels", "3",
                              "--out", str(tmp_path / "run")))
    assert "parameter g3_weight holds NaN or Inf" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert fixtures().is_dir()


def test_launch_port_out_of_range(tmp_path):
    line = one_line(run_main("-m", "mxgan", "launch", "--port", "70000", "--", "--kvstore", "dist_sync"))
    assert "--port must be in [0, 65535], got 70000" in line


@pytest.mark.parametrize("command, expected", [
    (["sample", "--out", "{tmp}/missing/x.png"], "--out {tmp}/missing/x.png: the folder {tmp}/missing does not exist"),
    (["sample", "--out", "{tmp}/x.jpgq"], "--out {tmp}/x.jpgq: OpenCV cannot write a .jpgq picture"),
    (["sample", "--npy", "{tmp}/missing/x.npy"], "--npy {tmp}/missing/x.npy: the folder {tmp}/missing does not exist"),
    (["sample", "--separate", "{tmp}/file"], "--separate {tmp}/file: {tmp}/file is a file, not a folder"),
    (["sample", "--num", "100000000000"], "--num must be in [1, 100000], got 100000000000 (they are held in"),
    (["eval", "--json", "{tmp}/missing/x.json"], "--json {tmp}/missing/x.json: the folder {tmp}/missing does not"),
    (["eval", "--num", "200000"], "--num must be in [10, 100000], got 200000"),
    (["export", "--out", "{tmp}/missing/p"], "--out {tmp}/missing/p-symbol.json: the folder {tmp}/missing does not"),
])
def test_outputs_and_sizes_are_checked_before_any_work(tmp_path, command, expected):
    (tmp_path / "file").write_text("")
    checkpoint = str(fixtures() / "module_save_params" / "mnist_G_2017_10_09-10_00-0000.params")
    args = [a.format(tmp=tmp_path) for a in command]
    line = one_line(run_main("-m", "mxgan", args[0], "--checkpoint", checkpoint, *args[1:]))
    assert expected.format(tmp=tmp_path) in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_network_too_large_for_the_machine_is_refused(tmp_path):
    line = one_line(run_cli("run_dcgan.py", "--ngf", "100000", "--out", str(tmp_path / "r")))
    assert "--ngf 100000 / --ndf 64: G and D would need" in line and "GiB" in line
    assert not (tmp_path / "r").exists()


def test_a_grid_is_written_in_the_format_its_name_asks_for(tmp_path):
    out = tmp_path / "grid.jpg"
    checkpoint = str(fixtures() / "module_save_params" / "mnist_G_2017_10_09-10_00-0000.params")
    result = run_cli("-m", "mxgan", "sample", "--checkpoint", checkpoint, "--num", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, not PNG bytes under a .jpg name


def test_plot_says_which_grid_is_damaged_and_skips_garbage_log_lines(tmp_path):
    run = tmp_path / "run"
    assert run_cli("run_dcgan.py", *tiny(500, "--max-steps", "4", "--sample-every", "2", "--out", str(run))
                   ).returncode == 0
    with open(run / "metrics.jsonl", "a") as log:
        log.write('{"iteration": 5, "errD": \n[1, 2]\n\x00\x01garbage\n')
    (run / "samples-0000002.png").write_bytes(b"not a picture")
    line = one_line(run_cli("-m", "mxgan", "plot", str(run)))
    assert f"{run / 'samples-0000002.png'} is not a readable picture" in line
    assert not list(run.glob("*.gif")) and not (run / "losses.png").exists()  # all the pictures, or none


def test_plot_draws_gaps_for_values_that_are_not_numbers_and_says_when_there_are_no_grids(tmp_path):
    run = tmp_path / "run"
    assert run_cli("run_dcgan.py", *tiny(500, "--max-steps", "4", "--log-every", "1", "--out", str(run))
                   ).returncode == 0
    for grid in run.glob("samples-*.png"):
        grid.unlink()
    with open(run / "metrics.jsonl", "a") as log:
        log.write('{"iteration": 5, "errD": NaN, "errG": "high", "facc": [1], "D_x": null}\n'
                  '{"iteration": "six", "errD": 1.0}\n{"iteration": 7, "errD": Infinity, "eval": {"fid": "x"}}\n')
    result = run_cli("-m", "mxgan", "plot", str(run))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"{run} holds no sample grids (samples-NNNNNNN.png) yet: no montage or GIF" in result.stdout
    for name in ("losses.png", "d_accuracy.png", "fid.png"):
        assert (run / name).read_bytes()[:4] == b"\x89PNG", name


def test_a_plain_resume_of_a_finished_run_says_there_is_nothing_to_do(tmp_path):
    run = tmp_path / "run"
    assert run_cli("run_dcgan.py", *tiny(500, "--max-steps", "2", "--out", str(run))).returncode == 0
    result = run_cli("run_dcgan.py", "--resume", str(run), "--no-progress")
    assert result.returncode == 0 and "worker rank" not in result.stdout, result.stdout
    assert (f"nothing to train: {run} already ended at iteration 2 (--max-steps 2); train it further with "
            f"--resume {run} --max-steps N") in result.stdout


@pytest.mark.parametrize("prefix", ["", "ex/"])
def test_an_export_prefix_without_a_name_is_one_line(tmp_path, prefix):
    line = one_line(run_main("-m", "mxgan", "export", "--checkpoint", str(fixtures() / "module_save_params"),
                              "--out", prefix))
    assert f"--out {prefix!r} is a prefix: export writes PREFIX-symbol.json and PREFIX-0000.params" in line
    assert not list(REPO.glob("-symbol.json")) and not (REPO / "ex").exists()


def test_pack_names_its_own_argument(tmp_path):
    line = one_line(run_main("-m", "mxgan", "pack", str(tmp_path), str(tmp_path / "p.rec")))
    assert f"DIR {tmp_path} holds no images" in line and "point DIR at a folder of pictures" in line
    assert "--data-dir" not in line


def test_a_huge_init_sigma_is_named_as_the_cause_of_a_divergence(tmp_path):
    result = run_cli("run_dcgan.py", *tiny(100, "--max-steps", "3", "--init-sigma", "1e10",
                                           "--out", str(tmp_path / "run")))
    assert result.returncode == 3 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--init-sigma 1e+10 starts the weights far larger than the example's 0.02: lower it" in result.stderr
    assert "--lr-g" not in result.stderr


def test_a_failed_offline_download_leaves_no_folder(tmp_path):
    result = run_cli("-m", "mxgan", "download", "mnist", "--data-dir", str(tmp_path / "new" / "data"),
                     env={"MXGAN_MIRROR": "http://127.0.0.1:9/"})
    assert "could not download" in one_line(result)
    assert list(tmp_path.iterdir()) == []


def test_pictures_that_do_not_decode_are_one_line_without_the_decoders_own_complaints(tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for i in range(20):
        (pictures / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
        (pictures / f"{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    for command in (["run_dcgan.py", "--dataset", "folder", "--data-dir", str(pictures), "--batch-size", "8",
                     "--out", str(tmp_path / "run")],
                    ["-m", "mxgan", "pack", str(pictures), str(tmp_path / "p.rec"), "--no-progress"]):
        line = one_line(run_cli(*command))  # in a process: the decoders write to its file descriptor 2
        assert "none of the 40 image files" in line and "could be decoded" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pictures"]


@pytest.mark.parametrize("spelling", ["{run}:best", "{run}/:best"])
def test_a_runs_best_is_found_with_or_without_a_slash(mnist_run, tmp_path, spelling):
    run, _ = mnist_run
    result = run_main("-m", "mxgan", "sample", "--checkpoint", spelling.format(run=run), "--num", "4",
                      "--out", str(tmp_path / "best.png"))
    assert result.returncode == 0, result.stderr

"""The command line as users run it: real processes, real files, one-line errors."""

import json
import os
import socket

import pytest
from helpers import one_line, run_cli, run_main, tiny

SMALL = tiny(16, dataset="")


@pytest.mark.parametrize("flags, expected", [
    (["--dataset", "cifar"], "--dataset 'cifar' is not one of mnist, fashion-mnist, synthetic"),
    (["--ctx", "tpu0"], "'tpu0' is not a device; use cpu, gpu0"),
    (["--ctx", "cpu0,gpu0"], "mixes cpu and gpu"),
    (["--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["--epochs", "-1"], "--epochs must be in (0, 1000000], got -1"),
    (["--image-size", "48"], "--image-size 48 is not one of 16, 32, 64, 128"),
    (["--channels", "2"], "--channels 2 is not one of 1, 3"),
    (["--batch-size", "x"], "argument --batch-size: invalid int value: 'x'"),
    (["--out", "/etc/hostname/run"], "/etc/hostname is a file, not a folder"),
    (["--ema-decay", "1"], "--ema-decay must be in [0, 1), got 1.0 (0 turns the EMA off; 0.999 is usual)"),
    (["--ema-decay", "-0.5"], "--ema-decay must be in [0, 1), got -0.5"),
    (["--ema-decay", "nan"], "--ema-decay must be in [0, 1), got nan"),
    (["--recipe", "fast"], "--recipe 'fast' is not one of default, example"),
    (["--lr", "nan"], "--lr must be in (0, 1e+30], got nan"),
    (["--lr-d", "-1"], "--lr-d must be in (0, 1e+30], got -1.0"),
    (["--lr-g", "1e308"], "--lr-g must be in (0, 1e+30], got 1e+308"),  # MXNet's Adam takes a float32
    (["--beta2", "1"], "--beta2 must be in [0, 1), got 1.0"),
    (["--eval-samples", "3"], "--eval-samples must be in [10, 100000], got 3"),
    (["--eval-samples", str(10**12)], "--eval-samples must be in [10, 100000], got 1000000000000"),
    (["--out", ""], "--out is empty: name a folder or file, or leave --out out for its default"),
    (["--data-dir", ""], "--data-dir is empty: name a folder or file, or leave --data-dir out for its default"),
    (["--seed", "-1"], "--seed must be 0 or more, got -1"),
    (["--dist-timeout", "nan"], "--dist-timeout must be positive, got nan"),
    (["--lr-g", "1e30"], None),  # accepted (see the dry run below); it diverges: test_nan_stops_training_...
])
def test_bad_flags_give_one_line_and_exit_2(flags, expected, tmp_path):
    args = ["--out", str(tmp_path / "run"), *flags] if "--out" not in flags else flags
    if expected is None:
        assert run_main("run_dcgan.py", *SMALL, "--dataset", "synthetic", *args, "--dry-run").returncode == 0
        return
    line = one_line(run_main("run_dcgan.py", *SMALL, "--dataset", "synthetic", *args))
    assert expected in line
    assert not (tmp_path / "run").exists()


def test_gpu_on_a_cpu_build_says_what_to_install(tmp_path):
    line = one_line(run_main("run_dcgan.py", "--ctx", "gpu0", "--out", str(tmp_path / "r")))
    assert "CPU-only build" in line and "pip install '.[gpu]'" in line


def test_batch_larger_than_the_dataset(tmp_path):
    line = one_line(run_main("run_dcgan.py", *SMALL[:-3], "--dataset", "synthetic",
                                    "--batch-size", "20000", "--out", str(tmp_path / "r")))
    assert "--batch-size 20000 is larger than the dataset (10000 images)" in line


def test_existing_run_is_never_overwritten(tmp_path):
    import mxnet as mx

    from mxgan.checkpoints.run_folder import Progress, save_run_checkpoint
    from mxgan.model.modules import GanSpec, build_gan

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    gan = build_gan(GanSpec(4, 10, 8, 8, 1, 16), [mx.cpu()])
    gan.attach_optimizers()
    save_run_checkpoint(run, "mnist", gan, Progress(0, 10, 10), True)  # a complete set: a run to continue
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    line = one_line(run_main("run_dcgan.py", "--out", str(run)))
    assert "already holds a run; continue it with --resume" in line
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_a_folder_whose_run_failed_before_its_first_checkpoint_is_reused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")  # all a start-up failure of an older mxgan left behind
    result = run_cli("run_dcgan.py", *SMALL, "--dataset", "synthetic", "--max-steps", "2", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "run.json").read_text())["max_steps"] == 2


def test_offline_without_data_says_where_to_put_the_files(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    result = run_cli("run_dcgan.py", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "r"),
                     env={"MXGAN_MIRROR": dead})
    line = one_line(result)
    assert "could not download train-images-idx3-ubyte.gz" in line
    assert f"copy the file into {tmp_path / 'empty' / 'mnist'}/" in line
    assert not (tmp_path / "r").exists()


def test_corrupt_data_names_the_file(mnist_dir, tmp_path):
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for f in mnist_dir.iterdir():
        if f.name.endswith(".gz"):
            os.symlink(f, folder / f.name)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\xea\x60" + b"\x01" * 100)
    line = one_line(run_cli("run_dcgan.py", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "r")))
    assert "train-labels-idx1-ubyte: 108 bytes but its header (60000,) needs 60008" in line


def test_nan_stops_training_with_exit_3_and_no_bad_checkpoint(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *SMALL, "--dataset", "synthetic", "--max-steps", "30", "--lr", "1e30",
                     "--out", str(run))
    line = one_line(result, code=3)
    assert "training diverged: D's output became NaN/Inf at iteration 0" in line
    assert "last good checkpoint: none written yet" in line
    assert not list(run.glob("*.params"))


def test_mxgan_train_is_run_dcgan(tmp_path):
    result = run_cli("-m", "mxgan", "train", *SMALL, "--dataset", "synthetic", "--max-steps", "3",
                     "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "r" / "run.json").read_text())
    assert config["dataset"] == "synthetic" and config["max_steps"] == 3 and config["ngf"] == 8


def test_dry_run_prints_the_resolved_options_and_writes_nothing(tmp_path):
    result = run_main("run_dcgan.py", "--dry-run", "--out", str(tmp_path / "run"), "--lr", "1e-4")
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout[:result.stdout.rindex("}") + 1])
    assert options["channels"] == 1 and options["lr_g"] == options["lr_d"] == 1e-4 and options["recipe"] == "default"
    assert f"would write the run folder {tmp_path / 'run'}" in result.stdout
    assert not (tmp_path / "run").exists()


def test_resume_keeps_the_runs_own_limits_and_refuses_what_it_cannot_change(tmp_path):
    run = tmp_path / "run"
    assert run_cli("run_dcgan.py", *SMALL, "--dataset", "synthetic", "--max-steps", "2", "--keep", "1",
                   "--epochs", "3", "--out", str(run)).returncode == 0
    kept = json.loads(run_main("run_dcgan.py", "--resume", str(run), "--dry-run").stdout.rsplit("}", 1)[0] + "}")
    assert (kept["max_steps"], kept["keep"], kept["epochs"]) == (2, 1, 3)
    changed = json.loads(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "4", "--dry-run")
                         .stdout.rsplit("}", 1)[0] + "}")
    assert (changed["max_steps"], changed["keep"]) == (4, 1)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--ngf", "16"))
    assert "--resume keeps the run's own --ngf" in line

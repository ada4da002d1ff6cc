"""Warnings for D overpowering G and for mode collapse, alone and in a real MNIST run."""

import json

from helpers import run_cli

from mxgan.config import TrainConfig
from mxgan.train.alarms import GRAY_AS_RGB_HINT, OverpoweringAlarm, collapse_warning
from mxgan.train.hooks import QualityCheck


def test_overpowering_alarm_fires_once_per_streak():
    alarm = OverpoweringAlarm(GRAY_AS_RGB_HINT, logs=3)
    fired = [alarm.update(acc, it) for it, acc in enumerate([1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0], start=1)]
    assert [i for i, m in enumerate(fired, start=1) if m] == [6]  # the streak 4-6; no repeat at 7 and 8
    assert "iterations 4-6" in fired[5] and "--channels 1" in fired[5]
    alarm.update(0.5, 9)
    assert [alarm.update(1.0, i) for i in (10, 11, 12)][-1] is not None  # a new streak warns again


def test_collapse_warning_names_digits_and_tells_noise_from_collapse():
    assert collapse_warning([], 0.99) is None
    assert "digits 2, 3 make up less than 2%" in collapse_warning([2, 3], 0.95)
    assert "do not look like digits yet" in collapse_warning([0, 1, 2], 0.2)


def test_quality_checks_apply_to_mnist_generators_only():
    assert QualityCheck.applies(TrainConfig(dataset="mnist", image_size=32))
    assert not QualityCheck.applies(TrainConfig(dataset="mnist", image_size=32, eval_every=0))
    assert not QualityCheck.applies(TrainConfig(dataset="fashion-mnist", image_size=32))
    assert not QualityCheck.applies(TrainConfig(dataset="mnist", image_size=128))


def test_an_mnist_epoch_logs_its_quality(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", "--image-size", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "256",
                     "--epochs", "1", "--eval-samples", "500", "--no-progress", "--out", str(run))
    assert result.returncode == 0, result.stderr
    assert "epoch 0 (raw weights): FID-MNIST" in result.stdout + result.stderr
    assert "epoch 0 (EMA weights): FID-MNIST" in result.stdout + result.stderr
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r["eval"] for r in records if "eval" in r]
    assert len(evals) == 1 and evals[0]["num"] == 500 and len(evals[0]["histogram"]) == 10
    assert evals[0]["fid"] > evals[0]["fid_floor"] > 0
    warnings = [r["warning"] for r in records if "warning" in r]
    assert all(f"warning: {w}" in result.stderr for w in warnings)

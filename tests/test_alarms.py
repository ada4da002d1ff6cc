"""Warnings for D overpowering G and for mode collapse, alone and in a real MNIST run."""

import json
import re

from mxgan.config import TrainConfig
from mxgan.training.alarms import GRAY_AS_RGB_HINT, OverpoweringAlarm, collapse_warning


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


def test_quality_checks_are_on_by_default_for_mnist_and_measured_by_the_metric_that_fits():
    from mxgan.quality.evaluator import EvaluatorChoice

    assert TrainConfig(dataset="mnist", image_size=32).eval_every == 1.0
    assert TrainConfig(dataset="fashion-mnist").eval_every == 0.0  # Inception checks take minutes: asked for
    assert TrainConfig(dataset="folder", until_fid=20).eval_every == 1.0  # --until-fid needs them
    assert not EvaluatorChoice("mnist", 32, 1).inception  # FID-MNIST, the classifier's
    assert EvaluatorChoice("mnist", 128, 1).inception  # a size the classifier does not take
    assert EvaluatorChoice("fashion-mnist", 32, 1).inception and EvaluatorChoice("folder", 64, 3).inception
    assert EvaluatorChoice("mnist", 32, 1, metric="inception").inception


def test_each_mnist_epoch_logs_its_quality(mnist_run):
    run, result = mnist_run
    for epoch in (0, 1):  # 120 steps an epoch; raw and EMA weights side by side
        assert re.search(rf"iteration {120 * (epoch + 1)} \(epoch {epoch}, [\w ]+ in\): FID-MNIST [\d.]+ raw, "
                         r"[\d.]+ EMA \(floor", result.stdout), result.stdout
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r["eval"] for r in records if "eval" in r]
    assert len(evals) == 2 and all(e["num"] == 500 and len(e["histogram"]) == 10 for e in evals)
    assert all(e["fid"] > e["fid_floor"] > 0 for e in evals)
    warnings = [r["warning"] for r in records if "warning" in r]
    assert all(f"warning: {w}" in result.stderr for w in warnings)

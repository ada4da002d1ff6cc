"""mxgan plot on a real run folder: curves, FID, a montage and an animated GIF."""

import cv2
from conftest import run_cli
from PIL import Image


def test_plot_a_real_mnist_run(tmp_path):
    run = tmp_path / "run"
    trained = run_cli("run_dcgan.py", "--image-size", "16", "--ngf", "8", "--ndf", "8", "--batch-size", "256",
                      "--epochs", "1", "--eval-samples", "300", "--sample-every", "50", "--no-progress",
                      "--out", str(run))
    assert trained.returncode == 0, trained.stderr
    result = run_cli("-m", "mxgan.cli", "plot", str(run))
    assert result.returncode == 0, result.stderr
    for name in ("losses.png", "d_accuracy.png", "fid.png", "samples-montage.png"):
        image = cv2.imread(str(run / name))
        assert image is not None and image.shape[0] > 100 and image.std() > 0, name
    with Image.open(run / "samples.gif") as gif:
        assert gif.n_frames == 4  # grids at iterations 50, 100, 150, 200


def test_plot_errors_are_one_line(tmp_path):
    missing = run_cli("-m", "mxgan.cli", "plot", str(tmp_path / "nothere"))
    assert missing.returncode == 2 and "no such run folder" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("-m", "mxgan.cli", "plot", str(empty))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "has no metrics.jsonl" in result.stderr

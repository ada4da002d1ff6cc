"""mxgan plot on a real run folder: curves, FID, a montage and an animated GIF."""

import cv2
from helpers import run_cli, tiny
from PIL import Image


def test_plot_a_real_mnist_run(mnist_run):
    run, _ = mnist_run
    result = run_cli("-m", "mxgan", "plot", str(run))
    assert result.returncode == 0, result.stderr
    for name in ("losses.png", "d_accuracy.png", "fid.png", "samples-montage.png"):
        image = cv2.imread(str(run / name))
        assert image is not None and image.shape[0] > 100 and image.std() > 0, name
    with Image.open(run / "samples.gif") as gif:
        assert gif.n_frames == 4  # grids at iterations 50, 100, 150, 200


def test_plot_errors_are_one_line(tmp_path):
    missing = run_cli("-m", "mxgan", "plot", str(tmp_path / "nothere"))
    assert missing.returncode == 2 and "no such run folder" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("-m", "mxgan", "plot", str(empty))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "has no metrics.jsonl" in result.stderr


def _event_tags(folder):
    """Tags in a TensorBoard event file (TFRecord framing, tensorboardX's Event protobuf)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    tags = {}
    for path in folder.glob("events.out.tfevents.*"):
        data, pos = path.read_bytes(), 0
        while pos < len(data):
            (length,) = struct.unpack_from("<Q", data, pos)
            event = Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append("image" if value.HasField("image") else "scalar")
    return tags


def test_tensorboard_gets_scalars_and_sample_grids(tmp_path):
    result = run_cli("run_dcgan.py", *tiny(16, "--max-steps", "4", "--log-every", "2", "--sample-every", "2",
                                           "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb")))
    assert result.returncode == 0, result.stderr
    tags = _event_tags(tmp_path / "tb")
    assert tags["errD"] == ["scalar", "scalar"] and tags["facc"] == ["scalar", "scalar"]
    assert tags["samples"] == ["image", "image"]


def test_tensorboard_without_tensorboardx_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['tensorboardX'] = None; from mxgan.cli import main; "
            f"sys.exit(main(['train', '--dataset', 'synthetic', '--tensorboard', {str(tmp_path / 'tb')!r}]))")
    result = run_cli("-c", code)
    assert result.returncode == 2 and "pip install '.[tensorboard]'" in result.stderr

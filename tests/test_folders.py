"""Image folders and RecordIO: real MNIST digits and real photos, written, packed and streamed."""

import json

import cv2
import numpy as np
import pytest
from helpers import final_params as _final_params
from helpers import one_line, run_cli, run_main, tiny

from mxgan.data.batches import load_images
from mxgan.data.folder import FolderBatches, FolderScan, load_image, scan_folder
from mxgan.data.records import RecordBatches, check_recordio, pack_folder
from mxgan.errors import MxganError

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "motorcycle")  # real colour photographs shipped inside scikit-image


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory, mnist_dir):
    """300 real MNIST test digits as PNG files in nested folders, with a text file and two broken images."""
    root = tmp_path_factory.mktemp("digits")
    for i, digit in enumerate(load_images("mnist", mnist_dir.parent, 28, seed=0, split="test")[:300]):
        folder = root / f"class{i % 3}" / ("deeper" if i % 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:04d}.png"), digit)
    (root / "README.txt").write_text("not a picture")
    (root / "broken.png").write_bytes(b"\x89PNG but not really")
    (root / "class1" / "empty.jpg").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def photos_folder(tmp_path_factory):
    import skimage.data as skimage_data  # a declared test dependency (the test extra)
    root = tmp_path_factory.mktemp("photos")
    for name in PHOTOS:
        image = skimage_data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skimage_data, name)()
        suffix = ".jpg" if name in ("rocket", "retina") else ".png"
        cv2.imwrite(str(root / f"{name}{suffix}"), cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR))
    return root


def _all_images(batches) -> np.ndarray:
    """One epoch of batches back as uint8, sorted, so two pipelines' images compare as sets."""
    images = np.round((np.concatenate(list(batches.epoch(0))) + 1) * 127.5).astype(np.uint8)
    return np.stack(sorted(images, key=lambda image: image.tobytes()))


def test_scan_counts_what_it_skips(digits_folder):
    scan = scan_folder(digits_folder)
    assert len(scan.files) == 302 and scan.not_images == 1  # 300 digits + 2 broken; the README skipped
    assert "1 files that are not images skipped" in scan.describe()


def test_unreadable_files_are_replaced_and_counted(digits_folder):
    batches = FolderBatches(scan_folder(digits_folder), 16, 302, 1, seed=0)
    epoch = next(batches.epoch(0))
    assert epoch.shape == (302, 1, 16, 16) and np.isfinite(epoch).all()
    assert sorted(p.name for p in batches.unreadable) == ["broken.png", "empty.jpg"]
    again = next(FolderBatches(scan_folder(digits_folder), 16, 302, 1, seed=0).epoch(0))
    assert np.array_equal(epoch, again)  # the replacement is the same on every run


def test_centre_square_crop_and_resize(photos_folder):
    coffee = load_image(photos_folder / "coffee.png", 32, 3)  # 400x600: the middle 400x400
    expected = cv2.resize(cv2.imread(str(photos_folder / "coffee.png"))[:, 100:500], (32, 32),
                          interpolation=cv2.INTER_AREA)
    assert np.array_equal(coffee, expected[..., ::-1].transpose(2, 0, 1))  # RGB, channels first
    assert load_image(photos_folder / "coffee.png", 32, 1).shape == (1, 32, 32)


@pytest.mark.parametrize("pictures, channels", [("digits", 1), ("digits", 3), ("photos", 3)],
                         ids=["gray-digits", "digits-tiled-to-rgb", "colour-photos"])
def test_folder_and_rec_pipelines_give_the_same_images(tmp_path, digits_folder, photos_folder, pictures, channels):
    folder = photos_folder if pictures == "photos" else digits_folder
    report = pack_folder(folder, tmp_path / "pack.rec", 32, channels, progress=False)
    scan = scan_folder(folder)
    readable = len(scan.files) - len(report.unreadable)
    assert report.records == readable and check_recordio(tmp_path / "pack.rec") == readable
    # the readable files only, so that no folder image is a replacement; one batch holds them all
    readable_scan = FolderScan(folder, [f for f in scan.files if f not in report.unreadable], 0)
    from_folder = FolderBatches(readable_scan, 32, readable, channels, seed=0)
    from_rec = RecordBatches(tmp_path / "pack.rec", 32, readable, channels, seed=0, rand_crop=False,
                             rand_mirror=False)
    assert np.array_equal(_all_images(from_folder), _all_images(from_rec))


def test_rec_mirror_flips_and_crop_changes_images(tmp_path, photos_folder):
    pack_folder(photos_folder, tmp_path / "p.rec", 32, 3, progress=False)
    plain = _all_images(RecordBatches(tmp_path / "p.rec", 32, 8, 3, 0, rand_crop=False, rand_mirror=False))
    mirrored = _all_images(RecordBatches(tmp_path / "p.rec", 32, 8, 3, 0, rand_crop=False, rand_mirror=True))
    known = {image.tobytes() for image in plain} | {image[..., ::-1].tobytes() for image in plain}
    assert all(image.tobytes() in known for image in mirrored)
    cropped = _all_images(RecordBatches(tmp_path / "p.rec", 32, 8, 3, 0, rand_crop=True, rand_mirror=False))
    assert sum(image.tobytes() not in known for image in cropped) >= 4
    # an epoch is the same on every run with the same seed, and differs between epochs
    random = RecordBatches(tmp_path / "p.rec", 32, 8, 3, 0)
    assert np.array_equal(next(random.epoch(1)), next(random.epoch(1)))
    assert not np.array_equal(next(random.epoch(1)), next(random.epoch(2)))


def test_train_on_a_folder_and_on_its_pack(tmp_path, digits_folder):
    flags = tiny(50, "--channels", "1", "--max-steps", "8", "--log-every", "4", "--eval-every", "0", dataset="")
    result = run_cli("run_dcgan.py", "--dataset", "folder", "--data-dir", str(digits_folder), *flags,
                     "--out", str(tmp_path / "folder-run"))
    assert result.returncode == 0, result.stderr
    assert f"302 images under {digits_folder} (1 files that are not images skipped)" in result.stdout
    warnings = [json.loads(line)["warning"] for line in (tmp_path / "folder-run" / "metrics.jsonl").open()
                if "warning" in line]
    assert any("skipped unreadable images" in w and "broken.png" in w for w in warnings), warnings
    packed = run_cli("-m", "mxgan", "pack", str(digits_folder), str(tmp_path / "d.rec"), "--size", "16",
                     "--channels", "1", "--no-progress")
    assert packed.returncode == 0, packed.stderr
    assert "packed 300 images" in packed.stdout and "2 unreadable images" in packed.stdout
    result = run_cli("run_dcgan.py", "--dataset", "rec", "--data-dir", str(tmp_path / "d.rec"), *flags,
                     "--out", str(tmp_path / "rec-run"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "rec-run" / "state.json").exists()


def _one_line_error(result, *words):
    line = one_line(result)
    assert all(w in line for w in words), line


def test_bad_folders_and_records_are_one_line(tmp_path, digits_folder):
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    train = ["run_dcgan.py", *tiny(64, "--max-steps", "1", "--out", str(tmp_path / "r"), dataset="")]
    _one_line_error(run_main(*train, "--dataset", "folder", "--data-dir", str(tmp_path / "empty")), "no images")
    _one_line_error(run_main(*train, "--dataset", "folder", "--data-dir", str(tmp_path / "texts")),
                    "no images", "1 files have other extensions")
    _one_line_error(run_main(*train, "--dataset", "folder"), "--data-dir")
    (tmp_path / "broken").mkdir()
    for name in ("a.png", "b.jpg"):
        (tmp_path / "broken" / name).write_bytes(b"no picture in here")
    _one_line_error(run_main(*train, "--dataset", "folder", "--data-dir", str(tmp_path / "broken"),
                             "--batch-size", "2"), "none of the 2 image files", "could be decoded")
    _one_line_error(run_main("-m", "mxgan", "pack", str(tmp_path / "broken"), str(tmp_path / "b.rec")),
                    "none of the 2 image files", "could be decoded")
    assert not list(tmp_path.glob("*b.rec*")) and not list(tmp_path.glob("*b.idx*"))  # not even a temporary
    _one_line_error(run_main(*train, "--dataset", "folder", "--data-dir", str(digits_folder), "--conditional"),
                    "labelled")
    assert not (tmp_path / "r").exists()  # nothing was created by a refused run

    pack_folder(digits_folder, tmp_path / "d.rec", 16, 1, progress=False)
    rec = tmp_path / "d.rec"
    cut = tmp_path / "cut.rec"
    cut.write_bytes(rec.read_bytes()[: rec.stat().st_size // 2])
    (tmp_path / "cut.idx").write_bytes((tmp_path / "d.idx").read_bytes())
    _one_line_error(run_cli(*train, "--dataset", "rec", "--data-dir", str(cut), timeout=60), "truncated")
    lone = tmp_path / "lone.rec"
    lone.write_bytes(rec.read_bytes())
    _one_line_error(run_main(*train, "--dataset", "rec", "--data-dir", str(lone)), "lone.idx", "missing")
    _one_line_error(run_main("-m", "mxgan", "pack", str(tmp_path / "empty"), str(tmp_path / "e.rec")),
                    "no images")
    assert not (tmp_path / "e.rec").exists() and not (tmp_path / "e.idx").exists()


@pytest.mark.parametrize("dataset", ["folder", "rec"])
def test_resume_is_exact_on_pictures(tmp_path, digits_folder, dataset):
    source = digits_folder
    if dataset == "rec":
        source = tmp_path / "d.rec"
        pack_folder(digits_folder, source, 16, 1, progress=False)
    # 50-image batches of ~300 pictures: an epoch is 6 steps (5 of the pack's 300), so 4 + 4 crosses one
    flags = tiny(50, "--data-dir", str(source), "--channels", "1", "--eval-every", "0", dataset=dataset)
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_cli("run_dcgan.py", *flags, "--max-steps", "8", "--out", str(straight)).returncode == 0
    assert run_cli("run_dcgan.py", *flags, "--max-steps", "4", "--out", str(resumed)).returncode == 0
    result = run_cli("run_dcgan.py", "--resume", str(resumed), "--max-steps", "8", "--no-progress")
    assert result.returncode == 0, result.stderr
    a, b = _final_params(straight), _final_params(resumed)
    assert max(np.abs(a[r][k] - b[r][k]).max() for r in a for k in a[r]) <= 1e-6


def test_more_bad_records_are_one_line(tmp_path, digits_folder):
    train = ["run_dcgan.py", *tiny(64, "--max-steps", "1", "--out", str(tmp_path / "r"), dataset="rec"), "--data-dir"]
    _one_line_error(run_main(*train, str(tmp_path / "absent.rec")), "absent.rec: no such file")
    pack_folder(digits_folder, tmp_path / "d.rec", 16, 1, progress=False)
    shifted = tmp_path / "shifted.rec"
    shifted.write_bytes(b"\0" * 8 + (tmp_path / "d.rec").read_bytes())  # every record 8 bytes later
    (tmp_path / "shifted.idx").write_bytes((tmp_path / "d.idx").read_bytes())
    _one_line_error(run_main(*train, str(shifted)), "no record at byte 0", "belongs to another .rec")
    garbage = tmp_path / "garbage.rec"
    garbage.write_bytes((tmp_path / "d.rec").read_bytes())
    (tmp_path / "garbage.idx").write_text("not an index\n")
    _one_line_error(run_main(*train, str(garbage)), "not a RecordIO index")
    _one_line_error(run_main(*train, str(tmp_path / "d.rec"), "--batch-size", "301"), "larger than", "300 images")
    assert not (tmp_path / "r").exists()


def _records_with_one_bad(path, bad_record) -> None:
    """100 PNG records of 32 px, written with mx.recordio as im2rec writes them; record 50 is ``bad_record(its
    header, its good bytes)``."""
    import mxnet as mx

    picture = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    writer = mx.recordio.MXIndexedRecordIO(str(path.with_suffix(".idx")), str(path), "w")
    for number in range(100):
        header = mx.recordio.IRHeader(0, 0.0, number, 0)
        good = mx.recordio.pack_img(header, picture, 3, ".png")
        writer.write_idx(number, bad_record(header, good) if number == 50 else good)
    writer.close()


def _not_an_image(header, good):
    import mxnet as mx

    return mx.recordio.pack(header, b"these bytes are no picture " * 8)


def _smaller_picture(header, good):
    import mxnet as mx

    return mx.recordio.pack_img(header, np.zeros((20, 24, 3), np.uint8), 3, ".png")


@pytest.mark.parametrize("bad_record, words", [
    (_not_an_image, ["record 50 of 100", "holds no encoded image", "repack"]),
    (lambda header, good: good[:80], ["record 50 of 100", "holds a PNG cut short"]),
    (_smaller_picture, ["record 50 is 20 px on its shorter side", "first record's 32", "must share one size"]),
])
def test_records_that_would_not_decode_are_refused_before_training(tmp_path, bad_record, words):
    rec = tmp_path / "bad.rec"
    _records_with_one_bad(rec, bad_record)
    with pytest.raises(MxganError) as info:
        RecordBatches(rec, 16, 10, 3, seed=0)
    assert all(w in str(info.value) for w in words) and "\n" not in str(info.value)


def test_a_record_that_looks_like_an_image_but_does_not_decode_stops_with_one_line(tmp_path):
    import mxnet as mx

    rec = tmp_path / "jpeg.rec"  # a JPEG's first bytes, then no JPEG: only OpenCV, during the epoch, can tell
    _records_with_one_bad(rec, lambda header, good: mx.recordio.pack(header, b"\xff\xd8\xff" + b"\0garbage" * 20))
    with pytest.raises(MxganError) as info:
        for _ in RecordBatches(rec, 16, 10, 3, seed=0).epoch(0):
            pass
    assert "jpeg.rec: MXNet could not read a record (input image size smaller than max_crop_size)" in str(info.value)


def test_a_first_record_that_does_not_decode_is_refused_before_training(tmp_path):
    import mxnet as mx

    rec = tmp_path / "first.rec"
    writer = mx.recordio.MXIndexedRecordIO(str(rec.with_suffix(".idx")), str(rec), "w")
    writer.write_idx(0, mx.recordio.pack(mx.recordio.IRHeader(0, 0.0, 0, 0), b"\xff\xd8\xff" + b"\0garbage" * 20))
    writer.close()
    with pytest.raises(MxganError, match="first.rec: its first record does not decode as an image"):
        RecordBatches(rec, 16, 1, 3, seed=0)


def test_training_on_a_record_that_is_no_image_is_one_line_and_no_folder(tmp_path):
    rec = tmp_path / "bad.rec"
    _records_with_one_bad(rec, _not_an_image)
    result = run_cli("run_dcgan.py", *tiny(64, "--data-dir", str(rec), "--max-steps", "1", "--out", str(tmp_path / "r"),
                                           dataset="rec"))
    _one_line_error(result, "holds no encoded image")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("args, words", [
    (["{missing}", "{out}/a.rec"], ["is not a folder"]),
    (["{digits}", "{out}/a.tar"], ["must end in .rec"]),
    (["{digits}", "{out}/a.rec", "--size", "4"], ["--size must be in [8, 2048], got 4"]),
    (["{digits}", "{out}/a.rec", "--size", "100000"], ["--size must be in [8, 2048], got 100000", "held in memory"]),
    (["{digits}", "{out}/missing/a.rec"], ["OUT.rec", "the folder", "does not exist"]),
    (["{digits}", "{out}/a.rec", "--channels", "2"], ["--channels 2 is not one of 1, 3"]),
    (["{digits}", "{out}/a.rec", "--format", "jpg", "--quality", "0"], ["--quality must be in [1, 100], got 0"]),
])
def test_pack_mistakes_are_one_line(tmp_path, digits_folder, args, words):
    filled = [a.format(missing=tmp_path / "missing", out=tmp_path, digits=digits_folder) for a in args]
    _one_line_error(run_main("-m", "mxgan", "pack", *filled), *words)
    assert not list(tmp_path.glob("*.rec")) and not list(tmp_path.glob("*.idx"))

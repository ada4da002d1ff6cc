"""The FID Inception network (TF "2015-12-05", pool3: 2048 features an image) in MXNet, and its input.

The network is the one every FID implementation uses (pytorch-fid, clean-fid, StyleGAN2-ADA's metrics), which is
not MXNet's or torchvision's Inception v3: its average pools leave padding out of the average, the last mixed
block (mixed_10) pools by max, its BatchNorms have no scale and eps 1e-3. It takes (N, 3, 299, 299) RGB values in
[0, 255] and scales them as TF did, (x - 128) / 128, inside the network.

Resizing happens before the network, in :func:`inception_input` alone: PIL's bicubic filter on float values
(no rounding to uint8 between), clipped to [0, 255]: clean-fid's "clean" mode. The filter alone moves FID by
several points (Parmar et al. 2022), and PIL's is the one that antialiases properly when shrinking. The
TorchScript files resize inside when given another size (NVIDIA's: bilinear, TF 1's alignment; fid-helper's
default_1.pt does not resize at all): figures from the two modes are not comparable, and mxgan's are "clean".
Gray images are copied to the three channels (as converting them to RGB does).
"""

from __future__ import annotations

import logging
from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.errors import MxganError
from mxgan.model.precision import in_bfloat16
from mxgan.quality.inception_weights import InceptionWeights, load_weights

log = logging.getLogger(__name__)

SIZE = 299
FEATURES = 2048
INPUT = "data"
RESIZE_MODE = "clean (PIL bicubic on float values, clipped to [0, 255])"


def _conv(x: mx.sym.Symbol, name: str, filters: int, kernel: tuple[int, int], stride: int = 1,
          pad: tuple[int, int] = (0, 0)) -> mx.sym.Symbol:
    """Convolution without bias, BatchNorm without scale (moving statistics), ReLU."""
    x = mx.sym.Convolution(x, name=name, num_filter=filters, kernel=kernel, stride=(stride, stride), pad=pad,
                           no_bias=True)
    x = mx.sym.BatchNorm(x, name=f"{name}_bn", fix_gamma=True, eps=1e-3, use_global_stats=True)
    return mx.sym.Activation(x, act_type="relu")


def _pool(x: mx.sym.Symbol, kind: str, stride: int = 1) -> mx.sym.Symbol:
    """3x3 pooling: stride 1 padded to the same size (TF's average leaves the padding out), or stride 2 valid."""
    if stride == 2:
        return mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type=kind)
    return mx.sym.Pooling(x, kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type=kind, count_include_pad=False)


def _chain(x: mx.sym.Symbol, name: str, layers: list[tuple]) -> mx.sym.Symbol:
    """Convolutions one after another, ``(filters, kernel, stride, pad)`` each, named ``name.conv``,
    ``name.conv_1``... (``conv``, ``conv_1``... at the top)."""
    for i, layer in enumerate(layers):
        x = _conv(x, f"{name}{'.' if name else ''}conv{'_' + str(i) if i else ''}", *layer)
    return x


def _block_a(x: mx.sym.Symbol, name: str, pool_filters: int) -> mx.sym.Symbol:
    return mx.sym.concat(
        _conv(x, f"{name}.conv", 64, (1, 1)),
        _chain(x, f"{name}.tower", [(48, (1, 1)), (64, (5, 5), 1, (2, 2))]),
        _chain(x, f"{name}.tower_1", [(64, (1, 1)), (96, (3, 3), 1, (1, 1)), (96, (3, 3), 1, (1, 1))]),
        _conv(_pool(x, "avg"), f"{name}.tower_2.conv", pool_filters, (1, 1)), dim=1)


def _block_b(x: mx.sym.Symbol, name: str) -> mx.sym.Symbol:
    return mx.sym.concat(
        _conv(x, f"{name}.conv", 384, (3, 3), 2),
        _chain(x, f"{name}.tower", [(64, (1, 1)), (96, (3, 3), 1, (1, 1)), (96, (3, 3), 2)]),
        _pool(x, "max", 2), dim=1)


def _block_c(x: mx.sym.Symbol, name: str, c7: int) -> mx.sym.Symbol:
    wide, tall = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
    return mx.sym.concat(
        _conv(x, f"{name}.conv", 192, (1, 1)),
        _chain(x, f"{name}.tower", [(c7, (1, 1)), (c7, *wide), (192, *tall)]),
        _chain(x, f"{name}.tower_1", [(c7, (1, 1)), (c7, *tall), (c7, *wide), (c7, *tall), (192, *wide)]),
        _conv(_pool(x, "avg"), f"{name}.tower_2.conv", 192, (1, 1)), dim=1)


def _block_d(x: mx.sym.Symbol, name: str) -> mx.sym.Symbol:
    return mx.sym.concat(
        _chain(x, f"{name}.tower", [(192, (1, 1)), (320, (3, 3), 2)]),
        _chain(x, f"{name}.tower_1", [(192, (1, 1)), (192, (1, 7), 1, (0, 3)), (192, (7, 1), 1, (3, 0)),
                                      (192, (3, 3), 2)]),
        _pool(x, "max", 2), dim=1)


def _block_e(x: mx.sym.Symbol, name: str, pool: str) -> mx.sym.Symbol:
    """The last two blocks: mixed_9 pools by average, mixed_10 by max (as the TF graph does)."""
    a = _conv(x, f"{name}.tower_conv", 384, (1, 1))
    b = _conv(_conv(x, f"{name}.tower_1_conv", 448, (1, 1)), f"{name}.tower_1_conv_1", 384, (3, 3), 1, (1, 1))
    return mx.sym.concat(
        _conv(x, f"{name}.conv", 320, (1, 1)),
        _conv(a, f"{name}.tower_mixed_conv", 384, (1, 3), 1, (0, 1)),
        _conv(a, f"{name}.tower_mixed_conv_1", 384, (3, 1), 1, (1, 0)),
        _conv(b, f"{name}.tower_1_mixed_conv", 384, (1, 3), 1, (0, 1)),
        _conv(b, f"{name}.tower_1_mixed_conv_1", 384, (3, 1), 1, (1, 0)),
        _conv(_pool(x, pool), f"{name}.tower_2_conv", 192, (1, 1)), dim=1)


def inception_symbol() -> mx.sym.Symbol:
    """(N, 3, 299, 299) values in [0, 255] -> (N, 2048) pool3 features; layers named as the TF graph's."""
    x = (mx.sym.Variable(INPUT) - 128.0) / 128.0
    x = _pool(_chain(x, "", [(32, (3, 3), 2), (32, (3, 3)), (64, (3, 3), 1, (1, 1))]), "max", 2)
    x = _pool(_conv(_conv(x, "conv_3", 80, (1, 1)), "conv_4", 192, (3, 3)), "max", 2)
    for i, pool_filters in enumerate((32, 64, 64)):
        x = _block_a(x, f"mixed{'_' + str(i) if i else ''}", pool_filters)
    x = _block_b(x, "mixed_3")
    for i, c7 in enumerate((128, 160, 160, 192)):
        x = _block_c(x, f"mixed_{4 + i}", c7)
    x = _block_e(_block_e(_block_d(x, "mixed_8"), "mixed_9", "avg"), "mixed_10", "max")
    return mx.sym.Flatten(mx.sym.Pooling(x, kernel=(8, 8), global_pool=True, pool_type="avg"), name="pool3")


def inception_input(images: np.ndarray, value_range: tuple[float, float] = (0.0, 255.0)) -> np.ndarray:
    """(N, C, H, W) images (C = 1 or 3) or (N, H, W) gray ones, values in ``value_range``, as the network's
    float32 (N, 3, 299, 299) input in [0, 255]: scaled, resized by :func:`resize_clean`, gray copied to RGB."""
    images = check_images(images)
    low, high = value_range
    if not high > low:
        raise MxganError(f"value_range {value_range!r} is not a (low, high) pair with low < high")
    scaled = (images.astype(np.float32) - np.float32(low)) * np.float32(255.0 / (high - low))
    if not np.all(np.isfinite(scaled)):
        raise MxganError("the images hold NaN or infinite values; Inception features need finite ones")
    resized = resize_clean(scaled)
    return np.repeat(resized, 3, axis=1) if resized.shape[1] == 1 else resized


def resize_clean(images: np.ndarray) -> np.ndarray:
    """float32 (N, C, H, W) in [0, 255] to (N, C, 299, 299): PIL's bicubic on float values, clipped to [0, 255]
    (clean-fid's "clean" mode; the one resize of mxgan's Inception metrics, see the module's docstring)."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise MxganError("Inception features resize with Pillow, which is not installed: pip install "
                         "'mxgan[inception]' (or pillow)") from exc

    if images.shape[-2:] != (SIZE, SIZE):
        # one float32 ("F") image a channel: PIL filters it as floats, no rounding to uint8 in between
        images = np.stack([[np.asarray(Image.fromarray(np.ascontiguousarray(channel)).resize(
            (SIZE, SIZE), resample=Image.Resampling.BICUBIC)) for channel in image] for image in images])
    return np.clip(images, 0.0, 255.0)


def check_images(images: np.ndarray) -> np.ndarray:
    """``images`` as (N, C, H, W) with C = 1 or 3, or one clear error."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3) or 0 in images.shape or images.dtype.kind not in "uif":
        raise MxganError(f"Inception features take (N, C, H, W) images with 1 or 3 channels or (N, H, W) gray ones, "
                         f"as numbers; got an array of shape {images.shape} and type {images.dtype}")
    return images


def module_params(weights: InceptionWeights, symbol: mx.sym.Symbol) -> tuple[dict, dict]:
    """MXNet's (arg_params, aux_params) from the file's tensors, each shape checked against the network's."""
    arg_shapes, _, aux_shapes = symbol.infer_shape(**{INPUT: (1, 3, SIZE, SIZE)})
    shapes = dict(zip(symbol.list_arguments(), arg_shapes)) | dict(zip(symbol.list_auxiliary_states(), aux_shapes))
    arrays = {}
    for name, value in weights.tensors.items():
        layer, field = name.rsplit(".", 1)
        key = {"weight": f"{layer}_weight", "beta": f"{layer}_bn_beta", "mean": f"{layer}_bn_moving_mean",
               "var": f"{layer}_bn_moving_var"}[field]
        if tuple(value.shape) != shapes[key]:
            raise MxganError(f"{weights.path}: {name} has shape {value.shape}, the FID Inception network's is "
                             f"{shapes[key]}: not the FID weights; delete it and run `mxgan download inception`")
        arrays[key] = mx.nd.array(value)
    arrays |= {name: mx.nd.ones(shapes[name]) for name in shapes if name.endswith("_bn_gamma")}  # fixed scale: 1
    aux = set(symbol.list_auxiliary_states())
    return ({k: v for k, v in arrays.items() if k not in aux}, {k: v for k, v in arrays.items() if k in aux})


class InceptionFeatures:
    """The FID Inception network bound for inference: ``InceptionFeatures().features(images)`` -> (N, 2048).

    ``weights``: a file (default: ``$MXGAN_INCEPTION_WEIGHTS``, else the usual places, see
    :func:`mxgan.quality.inception_weights.find_weights`); ``batch_size``: images a forward pass;
    ``contexts``: where to run (default: the CPU); ``dtype``: ``"bfloat16"`` runs the convolutions in bfloat16
    (faster on AMX; FID within about 1% of float32's, measured in docs/quality.md).
    """

    def __init__(self, weights: str | Path | None = None, batch_size: int = 50, contexts: list | None = None,
                 dtype: str = "float32") -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise MxganError(f"batch_size must be a positive whole number of images, got {batch_size!r}")
        self.weights = load_weights(weights)
        self.batch_size, self.dtype = batch_size, dtype
        symbol = inception_symbol()
        computed = in_bfloat16(symbol) if dtype == "bfloat16" else symbol
        self.module = mx.mod.Module(computed, data_names=(INPUT,), label_names=None, context=contexts or [mx.cpu()])
        self.module.bind(data_shapes=[(INPUT, (batch_size, 3, SIZE, SIZE))], for_training=False)
        self.module.set_params(*module_params(self.weights, symbol))

    def network_features(self, inputs: np.ndarray) -> np.ndarray:
        """float32 (N, 2048) of (N, 3, 299, 299) inputs in [0, 255] (already resized), a batch at a time."""
        out = []
        for start in range(0, len(inputs), self.batch_size):
            # a shorter last batch rebinds to its size (Module.forward reshapes): no padding computed
            self.module.forward(mx.io.DataBatch([mx.nd.array(inputs[start:start + self.batch_size])]), is_train=False)
            out.append(self.module.get_outputs()[0].asnumpy())
        return np.concatenate(out).astype(np.float32)

    def features(self, images: np.ndarray, value_range: tuple[float, float] = (0.0, 255.0),
                 progress: bool = True) -> np.ndarray:
        """float32 (N, 2048) pool3 features of (N, C, H, W) or (N, H, W) images with values in ``value_range``
        (``(-1, 1)`` for mxgan's generators), resized by :func:`inception_input` a batch at a time."""
        from tqdm import tqdm

        images = check_images(images)
        out = np.empty((len(images), FEATURES), np.float32)
        with tqdm(total=len(images), unit="img", desc="Inception features", disable=not progress) as bar:
            for start in range(0, len(images), self.batch_size):
                batch = inception_input(images[start:start + self.batch_size], value_range)
                out[start:start + len(batch)] = self.network_features(batch)
                bar.update(len(batch))
        return out

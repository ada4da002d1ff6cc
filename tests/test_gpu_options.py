"""GPU options, checked where they can be on a CPU machine: types, optimizer, refusals, symbol attributes.

MXNet 1.9.1 has no float16 GEMM on CPU, so a float16 step itself only runs on a GPU.
"""

import mxnet as mx
import numpy as np
import pytest
from helpers import run_cli

from mxgan.checkpoints.module_format import module_params
from mxgan.model.modules import GanSpec, build_gan
from mxgan.model.symbols import make_dcgan_sym


def test_float16_binds_half_weights_float32_batchnorm_and_multi_precision_adam():
    gan = build_gan(GanSpec(4, 10, 8, 8, 3, 16, dtype="float16"), [mx.cpu()])
    gan.attach_optimizers()
    arg, aux = gan.modG.get_params()
    assert arg["g1_weight"].dtype == np.float16 and arg["gbn1_gamma"].dtype == np.float32
    assert aux["gbn1_moving_mean"].dtype == np.float32
    assert gan.modD.get_params()[0]["d2_weight"].dtype == np.float16
    assert gan.optG.multi_precision and gan.optD.multi_precision
    assert all(v.dtype == np.float32 for v in module_params(gan.modG).values())  # checkpoints stay float32


def test_float32_default_has_no_multi_precision():
    gan = build_gan(GanSpec(4, 10, 8, 8, 3, 16), [mx.cpu()])
    assert not gan.optG.multi_precision
    assert gan.modG.get_params()[0]["g1_weight"].dtype == np.float32


def test_float16_on_cpu_is_refused_in_one_line(tmp_path):
    result = run_cli("run_dcgan.py", "--dataset", "synthetic", "--dtype", "float16", "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "--dtype float16 needs a GPU (--ctx gpu0)" in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("tune", ["off", "fastest"])
def test_cudnn_tune_reaches_every_convolution(tune):
    for symbol in make_dcgan_sym(8, 8, 3, image_size=32, cudnn_tune=tune):
        convs = {name: attrs for name, attrs in symbol.attr_dict().items()
                 if "kernel" in attrs and not name.endswith("_weight")}
        assert len(convs) == 4 and all(a["cudnn_tune"] == tune for a in convs.values())

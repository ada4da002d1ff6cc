"""Symbol names and shapes: the example's exactly at 64 px, one block more or fewer per doubling."""

import pytest

from mxgan.errors import MxganError
from mxgan.model.symbols import make_dcgan_sym

# (name, shape) of every parameter of MXNet's example/gan/dcgan.py at ngf = ndf = 64, nc = 3.
EXAMPLE_G_64 = {
    "g1_weight": (100, 512, 4, 4), "g2_weight": (512, 256, 4, 4), "g3_weight": (256, 128, 4, 4),
    "g4_weight": (128, 64, 4, 4), "g5_weight": (64, 3, 4, 4),
    **{f"gbn{i}_{p}": (c,) for i, c in zip(range(1, 5), (512, 256, 128, 64)) for p in ("gamma", "beta")},
}
EXAMPLE_D_64 = {
    "d1_weight": (64, 3, 4, 4), "d2_weight": (128, 64, 4, 4), "d3_weight": (256, 128, 4, 4),
    "d4_weight": (512, 256, 4, 4), "d5_weight": (1, 512, 4, 4),
    **{f"dbn{i}_{p}": (c,) for i, c in zip(range(2, 5), (128, 256, 512)) for p in ("gamma", "beta")},
}


def _arg_shapes(sym, **inputs):
    shapes, out_shapes, _ = sym.infer_shape(**inputs)
    return dict(zip(sym.list_arguments(), shapes)), out_shapes[0]


def test_64px_is_the_example_layer_for_layer():
    symG, symD = make_dcgan_sym(64, 64, 3)
    g, g_out = _arg_shapes(symG, rand=(2, 100, 1, 1))
    d, d_out = _arg_shapes(symD, data=(2, 3, 64, 64), label=(2,))
    assert g == {"rand": (2, 100, 1, 1), **EXAMPLE_G_64}
    assert d == {"data": (2, 3, 64, 64), "label": (2,), **EXAMPLE_D_64}
    assert g_out == (2, 3, 64, 64) and d_out == (2, 1)
    assert symG.list_auxiliary_states() == [f"gbn{i}_{s}" for i in range(1, 5) for s in ("moving_mean", "moving_var")]
    assert symG.list_outputs() == ["gact5_output"] and symD.list_outputs() == ["dloss_output"]
    internals = symG.get_internals().list_outputs()
    assert [f"gact{i}_output" for i in range(1, 6)] == [n for n in internals if n.startswith("gact")]
    attrs = symG.attr_dict()
    assert attrs["g1"] == {"kernel": "(4, 4)", "no_bias": "True", "num_filter": "512"}
    assert attrs["g2"]["stride"] == "(2, 2)" and attrs["g2"]["pad"] == "(1, 1)"
    assert attrs["gbn1"]["fix_gamma"] == "True" and float(attrs["gbn1"]["eps"]) == pytest.approx(1e-5 + 1e-12)
    assert symD.attr_dict()["dact1"] == {"act_type": "leaky", "slope": "0.2"}


@pytest.mark.parametrize("size, layers", [(16, 3), (32, 4), (64, 5), (128, 6)])
@pytest.mark.parametrize("nc", [1, 3])
def test_every_size_maps_noise_to_images_and_images_to_one_score(size, layers, nc):
    symG, symD = make_dcgan_sym(16, 8, nc, image_size=size)
    g, g_out = _arg_shapes(symG, rand=(4, 100, 1, 1))
    d, d_out = _arg_shapes(symD, data=(4, nc, size, size), label=(4,))
    assert g_out == (4, nc, size, size) and d_out == (4, 1)
    assert sorted(n for n in g if n.endswith("weight")) == sorted(f"g{i}_weight" for i in range(1, layers + 1))
    assert sorted(n for n in d if n.endswith("weight")) == sorted(f"d{i}_weight" for i in range(1, layers + 1))
    assert g["g1_weight"] == (100, 16 * 2 ** (layers - 2), 4, 4)  # widest block first
    assert d[f"d{layers}_weight"] == (1, 8 * 2 ** (layers - 2), 4, 4)


@pytest.mark.parametrize("size", [0, 28, 48, 100, 256])
def test_other_sizes_are_refused_with_the_supported_list(size):
    with pytest.raises(MxganError, match=r"image size .* 16, 32, 64, 128"):
        make_dcgan_sym(8, 8, 3, image_size=size)

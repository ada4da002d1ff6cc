"""Checkpoints from four MXNet APIs: fixtures stock MXNet writes, stock-API files at other sizes, bad files."""

import json
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from helpers import SHARED_FIXTURES, fixtures, gluon_generator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stock_checkpoints import GLUON_COLLECT_G, GLUON_G, MODEL_PREFIX, MODULE_D, MODULE_G

from mxgan.checkpoints.formats import load_discriminator, load_generator
from mxgan.checkpoints.params_file import read_params
from mxgan.errors import MxganError
from mxgan.inference.sampling import bind_generator, discriminator_scores, forward, generate_all
from mxgan.model.symbols import make_dcgan_sym

FIXTURE_SPECS = {
    "module_save_params": (MODULE_G, "module"),
    "model_save_checkpoint": (MODEL_PREFIX, "model"),  # a prefix
    "gluon_save_parameters": (GLUON_G, "gluon"),
    "gluon_collect_params_save": (GLUON_COLLECT_G, "gluon-collect"),
}
# the fixtures made here, always; CI's shared copy (64 filters, trained on MNIST) as well where it exists
SOURCES = ["made", pytest.param("shared", marks=pytest.mark.skipif(
    not SHARED_FIXTURES.is_dir(), reason=f"no shared checkpoint fixtures at {SHARED_FIXTURES} (CI's layout only)"))]


def _fixtures(source: str) -> Path:
    return fixtures() if source == "made" else SHARED_FIXTURES


def _arch(root: Path) -> tuple[int, int, int, int]:
    spec = json.loads((root / "fixture.json").read_text())
    return spec["nz"], spec["ngf"], spec["nc"], spec["image_size"]


def _run(ckpt, z):
    return forward(bind_generator(ckpt.symbol(), ckpt.arg_params, ckpt.aux_params, len(z), ckpt.arch.nz), z)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("folder", sorted(FIXTURE_SPECS))
def test_fixture_reproduces_expected_output(folder, source):
    root = _fixtures(source)
    spec, fmt = FIXTURE_SPECS[folder]
    ckpt = load_generator(str(root / spec))
    assert ckpt.format == fmt
    assert (ckpt.arch.nz, ckpt.arch.ngf, ckpt.arch.nc, ckpt.arch.image_size) == _arch(root)
    z, expected = np.load(root / folder / "z.npy"), np.load(root / folder / "expected.npy")
    assert np.abs(_run(ckpt, z) - expected).max() <= 1e-4


@pytest.mark.parametrize("source", SOURCES)
def test_reader_agrees_with_mxnet_on_every_fixture_file(source):
    paths = list(_fixtures(source).glob("*/*.params"))
    assert len(paths) == 5  # G in four formats, and the example's D: none left out
    for path in paths:
        ours, theirs = read_params(path), mx.nd.load(str(path))
        assert ours.keys() == theirs.keys()
        assert all(np.array_equal(ours[k], theirs[k].asnumpy()) for k in theirs)


@pytest.mark.parametrize("source", SOURCES)
def test_fixture_discriminator_loads_and_scores(source):
    root = _fixtures(source)
    ckpt = load_discriminator(str(root / MODULE_D))
    _, ndf, nc, size = _arch(root)
    assert (ckpt.ndf, ckpt.nc, ckpt.image_size) == (ndf, nc, size)
    if (root / "module_save_params" / "scores.npy").exists():  # the made set's: stock D's P(real) (shared: none)
        images = np.load(root / "module_save_params" / "expected.npy")
        expected = np.load(root / "module_save_params" / "scores.npy")
        assert np.abs(discriminator_scores(ckpt, images) - expected).max() <= 1e-5


@pytest.mark.skipif(not SHARED_FIXTURES.is_dir(), reason=f"no shared checkpoint fixtures at {SHARED_FIXTURES}")
def test_made_fixtures_are_laid_out_as_the_shared_copy():
    """At the shared copy's width, the made set has its files, keys in their order, shapes, symbol file (to the
    byte) and latent batch: the maker writes what the stock code that wrote CI's copy writes."""
    made = fixtures(64)
    shared_files = sorted(p.relative_to(SHARED_FIXTURES) for p in SHARED_FIXTURES.glob("*/*"))
    assert shared_files and set(shared_files) <= {p.relative_to(made) for p in made.glob("*/*")}
    for name in shared_files:
        theirs, ours = SHARED_FIXTURES / name, made / name
        if name.suffix == ".params":
            a, b = mx.nd.load(str(theirs)), mx.nd.load(str(ours))
            assert [(k, v.shape) for k, v in a.items()] == [(k, v.shape) for k, v in b.items()], name
        elif name.suffix == ".json" or name.name == "z.npy":
            assert theirs.read_bytes() == ours.read_bytes(), name
    assert _arch(made) == _arch(SHARED_FIXTURES)


# --- checkpoints written through stock MXNet APIs, at other sizes -----------------------------


def _module_generator(ngf, nc, size, nz=20):
    symG, _ = make_dcgan_sym(ngf, ngf, nc, image_size=size)
    mod = mx.mod.Module(symG, data_names=("rand",), label_names=None)
    mod.bind(data_shapes=[("rand", (4, nz, 1, 1))], for_training=False)
    mod.init_params(mx.init.Normal(0.3))
    arg, aux = mod.get_params()
    rng = np.random.default_rng(ngf + nc + size)
    for name in aux:  # non-trivial moving statistics, so a loader that drops them fails
        aux[name][:] = rng.uniform(0.5, 1.5, aux[name].shape) if "var" in name else rng.normal(0, 0.2, aux[name].shape)
    mod.set_params(arg, aux)
    return mod


SIZES = [(8, 1, 16), (16, 3, 32), (8, 3, 64), (12, 1, 32)]


@pytest.mark.parametrize("ngf, nc, size", SIZES)
@pytest.mark.parametrize("api", ["save_params", "save_checkpoint"])
def test_module_checkpoints_at_other_sizes(tmp_path, api, ngf, nc, size):
    mod = _module_generator(ngf, nc, size)
    if api == "save_params":
        mod.save_params(str(tmp_path / "g.params"))
        spec = tmp_path / "g.params"
    else:
        mod.save_checkpoint(str(tmp_path / "gen"), 7)
        spec = tmp_path / "gen"
    ckpt = load_generator(str(spec))
    assert (ckpt.arch.nz, ckpt.arch.ngf, ckpt.arch.nc, ckpt.arch.image_size) == (20, ngf, nc, size)
    z = np.random.default_rng(0).standard_normal((4, 20, 1, 1)).astype(np.float32)
    mod.forward(mx.io.DataBatch([mx.nd.array(z)]), is_train=False)
    np.testing.assert_allclose(_run(ckpt, z), mod.get_outputs()[0].asnumpy(), atol=1e-5)


@pytest.mark.parametrize("ngf, nc, size", SIZES)
@pytest.mark.parametrize("api", ["save_parameters", "collect_params"])
def test_gluon_checkpoints_at_other_sizes_honour_gamma(tmp_path, api, ngf, nc, size):
    net = gluon_generator(ngf, nc, size)
    path = tmp_path / "netG.params"
    net.save_parameters(str(path)) if api == "save_parameters" else net.collect_params().save(str(path))
    ckpt = load_generator(str(path))
    assert ckpt.learns_gamma and (ckpt.arch.ngf, ckpt.arch.nc, ckpt.arch.image_size) == (ngf, nc, size)
    z = np.random.default_rng(1).standard_normal((4, 20, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(_run(ckpt, z), net(mx.nd.array(z)).asnumpy(), atol=1e-5)


# --- bad files ------------------------------------------------------------------------------------


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def test_missing_checkpoint(tmp_path):
    with pytest.raises(MxganError) as info:
        load_generator(str(tmp_path / "nothing.params"))
    assert "no such file" in _one_line(info)


def test_text_file_is_not_a_params_file(tmp_path):
    path = tmp_path / "notes.params"
    path.write_text("these are my notes\n" * 10)
    with pytest.raises(MxganError) as info:
        load_generator(str(path))
    assert "not a valid MXNet .params file (wrong magic" in _one_line(info)


def test_truncated_fixture(tmp_path):
    data = (fixtures() / GLUON_G).read_bytes()
    path = tmp_path / "cut.params"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MxganError) as info:
        load_generator(str(path))
    assert "truncated" in _one_line(info)


def test_discriminator_given_where_the_generator_is_needed():
    with pytest.raises(MxganError) as info:
        load_generator(str(fixtures() / MODULE_D))
    assert "is a discriminator (D) checkpoint; pass the generator's (_G) file" in _one_line(info)


def test_unknown_key_layout(tmp_path):
    mx.nd.save(str(tmp_path / "x.params"), {"encoder.fc1.weight": mx.nd.zeros((3, 3))})
    with pytest.raises(MxganError) as info:
        load_generator(str(tmp_path / "x.params"))
    assert "unknown parameter layout (keys such as encoder.fc1.weight)" in _one_line(info)


def test_shape_mismatch_names_the_parameter_and_both_shapes(tmp_path):
    mod = _module_generator(8, 3, 32)
    arg, aux = mod.get_params()
    arg["g2_weight"] = mx.nd.zeros((32, 7, 4, 4))
    mx.nd.save(str(tmp_path / "g.params"), {**{f"arg:{k}": v for k, v in arg.items()},
                                            **{f"aux:{k}": v for k, v in aux.items()}})
    with pytest.raises(MxganError) as info:
        load_generator(str(tmp_path / "g.params"))
    assert "parameter g2_weight has shape (32, 7, 4, 4), but this architecture needs (32, 16, 4, 4)" in _one_line(info)


def _small_checkpoint_bytes() -> bytes:
    """A complete, valid 16 px generator checkpoint (about 10 KB), for byte-flipping."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        _module_generator(2, 1, 16, nz=4).save_params(f"{folder}/g.params")
        return Path(f"{folder}/g.params").read_bytes()


GOOD = _small_checkpoint_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=2048),
    st.integers(0, len(GOOD)).map(lambda n: GOOD[:n]),
    st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)).map(
        lambda t: GOOD[:t[0]] + bytes([t[1]]) + GOOD[t[0] + 1:]),
))
def test_fuzzed_bytes_load_or_raise_our_error(tmp_path_factory, data):
    path: Path = tmp_path_factory.mktemp("fuzz") / "f.params"
    path.write_bytes(data)
    try:
        load_generator(str(path))
    except MxganError as exc:
        assert "\n" not in str(exc)


def test_a_folder_the_example_wrote_works_as_checkpoint(tmp_path):
    """example/gan/dcgan.py names its files <dataset>_G_<stamp>-NNNN.params; its folder is a --checkpoint."""
    folder = tmp_path / "example-run"
    folder.mkdir()
    source = fixtures() / "module_save_params"
    for epoch in (0, 3):  # two epochs of the example's run: the newest is taken
        for role in ("G", "D"):
            (folder / f"mnist_{role}_2017_10_09-10_00-{epoch:04d}.params").write_bytes(
                (source / f"mnist_{role}_2017_10_09-10_00-0000.params").read_bytes())
    ckpt = load_generator(str(folder))
    assert ckpt.path.name == "mnist_G_2017_10_09-10_00-0003.params"
    assert load_discriminator(str(folder)).path.name == "mnist_D_2017_10_09-10_00-0003.params"
    z, expected = np.load(source / "z.npy"), np.load(source / "expected.npy")
    assert np.abs(generate_all(ckpt, z, batch_size=len(z)) - expected).max() < 1e-5

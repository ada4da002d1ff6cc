"""Generator checkpoints from four MXNet APIs, mapped onto the example's parameter names.

==================  ==========================================  =====================================
format              written by                                  keys look like
==================  ==========================================  =====================================
``module``          ``Module.save_params`` (the example)        ``arg:g1_weight``, ``aux:gbn1_moving_mean``
``model``           ``mx.model.save_checkpoint``                the same, plus ``prefix-symbol.json``
``gluon``           Gluon ``save_parameters`` (nn.Sequential)   ``0.weight``, ``1.gamma``, ``1.running_mean``
                    (blocks in blocks, as d2l.ai's DCGAN)       ``0.conv2d_trans.weight``, ``0.batch_norm.gamma``
``gluon-collect``   Gluon ``collect_params().save``             ``sequential0_conv0_weight``, ...
==================  ==========================================  =====================================

Discriminators load from the same formats (:mod:`mxgan.checkpoints.gluon` for
Gluon's). The architecture (nz, ngf, nc, image size, bias) is inferred from the weights.
Gluon's BatchNorm learns gamma, so a generator is always built with
``fix_gamma=False`` unless the checkpoint's own symbol says otherwise
(the example's ``fix_gamma=True`` keeps gamma at 1, where both agree).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.checkpoints.gluon import from_gluon
from mxgan.checkpoints.module_format import split_arg_aux
from mxgan.checkpoints.params_file import read_params
from mxgan.checkpoints.run_folder import (
    EMA_ROLE,
    STATE_FILE,
    WEIGHT_ROLES,
    CheckpointSet,
    has_state,
    read_run_state,
)
from mxgan.config import load_run_options
from mxgan.constants import CLASSES, D_INPUT, D_LABEL, G_INPUT, IMAGE_SIZES
from mxgan.errors import MxganError
from mxgan.jsontext import read_json
from mxgan.model.symbols import COND, make_discriminator_sym, make_generator_sym

log = logging.getLogger(__name__)


@dataclass
class Architecture:
    """What a DCGAN generator checkpoint implies about its network."""

    nz: int
    ngf: int
    nc: int
    image_size: int
    no_bias: bool = True
    fix_gamma: bool = False
    conditional: bool = False  # cDCGAN: a one-hot digit is a second input (from the run's run.json)
    noise: str = "normal"      # the latent distribution it was trained on (from the run's run.json)

    def symbol(self) -> mx.sym.Symbol:
        """The (inference) generator symbol of this architecture."""
        return make_generator_sym(self.ngf, self.nc, no_bias=self.no_bias, fix_gamma=self.fix_gamma,
                                  image_size=self.image_size, conditional=self.conditional)

    def inputs(self, batch_size: int = 1) -> dict:
        """Input shapes of the generator."""
        shapes = {G_INPUT: (batch_size, self.nz, 1, 1)}
        if self.conditional:
            shapes[COND] = (batch_size, CLASSES, 1, 1)
        return shapes


@dataclass
class _Checkpoint:
    """Parameters under the example's names, read from ``path`` (in ``format``)."""

    path: Path
    format: str
    arg_params: dict[str, mx.nd.NDArray]
    aux_params: dict[str, mx.nd.NDArray]

    @property
    def learns_gamma(self) -> bool:
        """Whether any BatchNorm gamma differs from 1: learned (as Gluon does), not fixed as the example."""
        return any((v.asnumpy() != 1).any() for k, v in self.arg_params.items() if k.endswith("_gamma"))


@dataclass
class GeneratorCheckpoint(_Checkpoint):
    """A generator's parameters under the example's names, with its architecture."""

    arch: Architecture

    def symbol(self) -> mx.sym.Symbol:
        return self.arch.symbol()

    @property
    def learns_gamma(self) -> bool:
        """Whether BatchNorm gamma matters: not fixed by the checkpoint's symbol, and not all ones."""
        return not self.arch.fix_gamma and super().learns_gamma

    def flags(self) -> str:
        """The training flags that build this architecture."""
        a = self.arch
        return (f"--nz {a.nz} --ngf {a.ngf} --channels {a.nc} --image-size {a.image_size}"
                + (" --conditional" if a.conditional else ""))


BEST = ":best"  # RUN_DIR:best, the evaluated checkpoint set with the lowest FID-MNIST


def _run_set(run: Path, spec: str) -> dict[str, str]:
    """The checkpoint set ``spec`` names in run folder ``run``: its newest, or (``RUN_DIR:best``) its best."""
    state = read_run_state(run)
    if state.source_problem:
        log.warning(f"{spec}: {state.source_problem}; read the copy it replaced, {state.source}")
    if not spec.endswith(BEST):
        for checkpoint in reversed(state.checkpoints):  # the newest set whose weights are as written
            problem = checkpoint.problem(run, WEIGHT_ROLES)
            if problem is None:
                return checkpoint.files
            log.warning(f"{spec}: passed over {checkpoint.describe()} ({problem})")
        raise MxganError(f"{spec}: no checkpoint set of that run is whole ({state.newest.problem(run, WEIGHT_ROLES)})")
    if state.best is None:
        raise MxganError(f"{spec}: that run never evaluated its generator (no best epoch in {STATE_FILE}); "
                         "only runs with quality checks (--eval-every) have one")
    problem = CheckpointSet(state.best["files"], None).problem(run, WEIGHT_ROLES)  # its files, inside the run
    if problem:
        raise MxganError(f"{spec}: the run's best checkpoint set cannot be read ({problem})")
    return state.best["files"]


def _choose_weights(path: Path, weights: str | None) -> Path:
    """A G file, or its sibling with the other weights: ``_G-`` raw, ``_G_ema-`` the moving average."""
    is_ema = f"_{EMA_ROLE}-" in path.name
    if weights is None or (weights == "ema") == is_ema:
        return path
    name = path.name.replace(f"_{EMA_ROLE}-", "_G-") if is_ema else path.name.replace("_G-", f"_{EMA_ROLE}-", 1)
    other = path.with_name(name)
    if other == path or not other.is_file():
        kind = "moving-average (EMA) weights (trained without --ema-decay)" if weights == "ema" else "raw weights"
        raise MxganError(f"--weights {weights}: no {kind} beside {path}")
    return other


def resolve(spec: str, role: str = "G", weights: str | None = None, flag: str = "--checkpoint",
            ) -> tuple[Path, Path | None]:
    """A ``.params`` path (and its ``-symbol.json``, if any) from a file, a prefix or a run folder.

    ``prefix`` means ``prefix-NNNN.params`` with the highest NNNN; a run folder
    means the newest checkpoint its ``state.json`` names (else its newest
    ``*_G-NNNN.params``; ``*_D-`` for ``role='D'``), and ``RUN_DIR:best`` its
    best evaluated one. For G, ``weights`` picks ``raw`` or ``ema`` (G's moving
    average); None takes a run folder's EMA weights where it has them, and a
    file as it is. Errors name ``flag``, the option that gave ``spec``.
    """
    run = Path(spec[: -len(BEST)]) if spec.endswith(BEST) else Path(spec)
    if spec.endswith(BEST) and not has_state(run):
        raise MxganError(f"{flag} {spec}: {run} is not a run folder with a {STATE_FILE}")
    path = Path(spec)
    if run.is_dir() and has_state(run):
        files = _run_set(run, spec)
        ema = role == "G" and weights != "raw" and EMA_ROLE in files
        if weights == "ema" and not ema:
            raise MxganError(f"--weights ema: {spec} has no moving-average (EMA) weights (trained without --ema-decay)")
        path, weights = run / files[EMA_ROLE if ema else role], None
    elif path.is_dir():
        # <prefix>_G-NNNN.params, or the example's own <dataset>_G_<stamp>-NNNN.params: the highest NNNN
        epoch = "-[0-9][0-9][0-9][0-9].params"
        found = {*path.glob(f"*_{role}{epoch}"), *path.glob(f"*_{role}_*{epoch}")} - {*path.glob(f"*_{EMA_ROLE}-*")}
        if not found:
            raise MxganError(f"{flag} {spec}: no *_{role}-NNNN.params (or *_{role}_<stamp>-NNNN.params) in "
                             "that folder")
        path = max(found, key=lambda p: (p.name[-11:-7], p.name))
    elif not path.is_file():
        candidates = sorted(path.parent.glob(f"{path.name}-[0-9][0-9][0-9][0-9].params"))
        if not candidates:
            raise MxganError(f"{flag} {spec}: no such file, and no {spec}-NNNN.params to take as a prefix")
        path = candidates[-1]
    if role == "G":
        path = _choose_weights(path, weights)
    prefix = re.sub(r"-\d{4}\.params$", "", str(path))
    symbol = Path(f"{prefix}-symbol.json")
    return path, symbol if symbol.is_file() and prefix != str(path) else None


def _standard_names(raw: dict[str, np.ndarray], source: str | Path) -> tuple[str, dict[str, np.ndarray]]:
    """Detect the key layout; return (format, {'arg:g1_weight': ..., 'aux:gbn1_moving_mean': ...}), or the
    ``d``-named parameters of a discriminator."""
    keys = list(raw)
    if all(k.startswith(("arg:", "aux:")) for k in keys):
        return "module", raw
    gluon = from_gluon(raw, source)
    if gluon is not None:
        return gluon
    shown = ", ".join(keys[:3])
    raise MxganError(
        f"{source}: unknown parameter layout (keys such as {shown}); expected Module arg:/aux: keys "
        "or a Gluon DCGAN (save_parameters or collect_params().save)"
    )


def _infer_architecture(params: dict[str, np.ndarray], path: Path) -> Architecture:
    weights = sorted((int(m.group(1)), k) for k in params if (m := re.match(r"arg:g(\d+)_weight$", k)))
    if not weights:
        if any(re.match(r"arg:d\d+_weight$", k) for k in params):
            raise MxganError(f"{path} is a discriminator (D) checkpoint; pass the generator's (_G) file")
        raise MxganError(f"{path}: no generator weights (arg:g1_weight ...) in it")
    layers = len(weights)
    if [i for i, _ in weights] != list(range(1, layers + 1)):
        raise MxganError(f"{path}: generator layers {[i for i, _ in weights]} are not g1..g{layers}")
    first, last = params["arg:g1_weight"], params[f"arg:g{layers}_weight"]
    if first.ndim != 4 or last.ndim != 4:
        raise MxganError(f"{path}: g1_weight {first.shape} / g{layers}_weight {last.shape} are not 4-d kernels")
    image_size = 2 ** (layers + 1)
    if image_size not in IMAGE_SIZES:
        raise MxganError(f"{path}: {layers} generator layers means {image_size} px, which is not supported")
    options = load_run_options(path.parent, flag="--checkpoint")  # its run's, or None for another program's
    conditional = bool(options and options.conditional)
    if last.shape[1] not in (1, 3):
        log.warning(f"{path}: g{layers}_weight draws {last.shape[1]} channels, which no picture has; if it is a "
                    f"1-channel G trained with pad_single_filter=True, save "
                    f"mxgan.model.symbols.unpad_single_filter_params(symG, arg_params) instead")
    return Architecture(
        nz=int(first.shape[0]) - (CLASSES if conditional else 0), ngf=int(last.shape[0]), nc=int(last.shape[1]),
        image_size=image_size, no_bias=not any(k.endswith("_bias") for k in params),
        conditional=conditional, noise=options.noise if options else "normal",
    )


def check_shapes(symbol: mx.sym.Symbol, arg_params: dict, aux_params: dict, inputs: dict, path: str | Path,
                 ) -> None:
    """Every parameter the symbol needs is present with the shape it needs; name the first that is not."""
    arg_shapes, _, aux_shapes = symbol.infer_shape(**inputs)
    for given, needed in (
        (arg_params, {n: s for n, s in zip(symbol.list_arguments(), arg_shapes) if n not in inputs}),
        (aux_params, dict(zip(symbol.list_auxiliary_states(), aux_shapes))),
    ):
        for name, shape in needed.items():
            if name not in given:
                raise MxganError(f"{path}: parameter {name} is missing")
            if tuple(given[name].shape) != tuple(shape):
                raise MxganError(
                    f"{path}: parameter {name} has shape {tuple(given[name].shape)}, "
                    f"but this architecture needs {tuple(shape)}"
                )
        extra = sorted(set(given) - set(needed))
        if extra:
            raise MxganError(f"{path}: parameters {', '.join(extra[:3])} do not belong to this network")


def _symbol_fix_gamma(symbol_path: Path | None) -> bool | None:
    """``fix_gamma`` of the BatchNorm layers in a saved symbol, or None."""
    if symbol_path is None:
        return None
    try:
        nodes = read_json(symbol_path)["nodes"]
        flags = {n.get("attrs", {}).get("fix_gamma", "True") for n in nodes if n.get("op") == "BatchNorm"}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # AttributeError: not a dict
        raise MxganError(f"{symbol_path}: not a symbol file ({exc})") from exc
    return flags == {"True"} if flags else None


def load_generator(spec: str, weights: str | None = None) -> GeneratorCheckpoint:
    """Load a generator checkpoint in any of the four formats (file, prefix or run folder;
    ``weights`` as :func:`resolve`).

    Raises
    ------
    MxganError
        Unreadable file, unknown layout, a discriminator, or inconsistent shapes.
    """
    path, symbol_path = resolve(spec, "G", weights)
    fmt, params = _standard_names(read_params(path), path)
    if fmt == "module" and symbol_path is not None:
        fmt = "model"
    arch = _infer_architecture(params, path)
    fix_gamma = _symbol_fix_gamma(symbol_path)
    if fix_gamma is not None:
        arch.fix_gamma = fix_gamma
    ckpt = GeneratorCheckpoint(path, fmt, *split_arg_aux(params, path), arch)
    check_shapes(ckpt.symbol(), ckpt.arg_params, ckpt.aux_params, arch.inputs(), path)
    _refuse_non_finite(params, path)
    return ckpt


def _refuse_non_finite(params: dict[str, np.ndarray], path: str | Path) -> None:
    """One clear error for a checkpoint holding NaN or Inf (it would draw NaN images, or train from them)."""
    for key, value in params.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise MxganError(f"{path}: parameter {key.partition(':')[2] or key} holds NaN or Inf; this checkpoint "
                             "cannot be used (take an earlier one)")


# How G's and D's files of one run are named: mxgan and the example, MXNet's Gluon dc_gan, PyTorch's ports
_PAIRED_NAMES = ((f"_{EMA_ROLE}-", "_D-"), ("_G", "_D"), ("generator", "discriminator"), ("netG", "netD"))


def sibling_discriminator(pathG: Path) -> Path | None:
    """The D file saved beside a G file (``_G``/``_D``, ``generator``/``discriminator``, ``netG``/``netD``)."""
    for g_part, d_part in _PAIRED_NAMES:
        if g_part in pathG.name:
            pathD = pathG.with_name(pathG.name.replace(g_part, d_part, 1))
            if pathD.is_file():
                return pathD
    return None


@dataclass
class DiscriminatorCheckpoint(_Checkpoint):
    """A discriminator under the example's names (from Module or Gluon files), for scoring and training."""

    ndf: int
    nc: int
    image_size: int
    flag: str = "--discriminator"  # the option that named it, for later messages

    def symbol(self) -> mx.sym.Symbol:
        return make_discriminator_sym(self.ndf, fix_gamma=False, image_size=self.image_size)

    def inputs(self, batch_size: int = 1) -> dict:
        size = self.image_size
        return {D_INPUT: (batch_size, self.nc, size, size), D_LABEL: (batch_size,)}

    def flags(self) -> str:
        """The training flags that build this discriminator."""
        return f"--ndf {self.ndf} --channels {self.nc} --image-size {self.image_size}"


def load_discriminator(spec: str, flag: str = "--discriminator") -> DiscriminatorCheckpoint:
    """Load a D checkpoint: a Module file (``arg:d1_weight`` ...) or a Gluon one, as for G.

    Errors name ``flag``, the option that gave ``spec``.
    """
    path, _ = resolve(spec, "D", flag=flag)
    source = f"{flag} {path}"
    try:
        raw = read_params(path, flag)
    except MxganError as exc:  # its messages begin with the path
        raise MxganError(f"{flag} {exc}") from exc
    fmt, params = _standard_names(raw, source)
    weights = sorted(int(m.group(1)) for k in params if (m := re.match(r"arg:d(\d+)_weight$", k)))
    if not weights:
        if any(re.match(r"arg:g\d+_weight$", k) for k in params):
            raise MxganError(f"{source} is a generator (G) checkpoint; pass the discriminator's (_D) file")
        raise MxganError(f"{source}: no discriminator weights (arg:d1_weight ...) in it")
    first = params["arg:d1_weight"]
    if first.ndim != 4:
        raise MxganError(f"{source}: d1_weight {first.shape} is not a 4-d kernel")
    ckpt = DiscriminatorCheckpoint(path, fmt, *split_arg_aux(params, path), ndf=int(first.shape[0]),
                                   nc=int(first.shape[1]), image_size=2 ** (len(weights) + 1), flag=flag)
    if ckpt.image_size not in IMAGE_SIZES:
        raise MxganError(f"{source}: {len(weights)} discriminator layers means {ckpt.image_size} px, which is not "
                         "supported")
    check_shapes(ckpt.symbol(), ckpt.arg_params, ckpt.aux_params, ckpt.inputs(), source)
    _refuse_non_finite(params, source)
    return ckpt


def starting_discriminator(spec: str, pathG: Path | None) -> DiscriminatorCheckpoint | None:
    """``--discriminator``'s D; without one, the D file beside the generator ``pathG`` (None if there is none)."""
    if spec:
        return load_discriminator(spec)
    pathD = sibling_discriminator(pathG) if pathG is not None else None
    return load_discriminator(str(pathD), flag="--checkpoint's D") if pathD is not None else None

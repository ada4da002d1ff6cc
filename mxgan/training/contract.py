"""The one contract between the training loop and every hook, mxgan's own and yours (as detectron2's
``HookBase``, with Lightning's ``state_dict``): a :class:`Hook` is called before training, after each step,
after each epoch and after training, always with the same narrow :class:`RunView`. A hook is given what it
needs when it is built; what one hook finds out for others (a metrics line, a quality check, a checkpoint,
a reason to stop) it reports through the view, never through another hook's attributes. Hooks run in the
order of their :attr:`Hook.order` (then as listed); a hook that keeps state across steps gives it in
:meth:`Hook.state_dict`, which is saved with every checkpoint set and handed back on ``--resume``.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mxgan.checkpoints.run_folder import Evaluation, Progress
from mxgan.config import TrainConfig
from mxgan.errors import MxganError
from mxgan.training.step import StepOutputs

log = logging.getLogger(__name__)


class RunView(Protocol):
    """What every hook reads of the run, and the few things it may report. Reading gives copies: a hook that
    changes what it read changes nothing of the run; assigning to the view raises."""

    @property
    def cfg(self) -> TrainConfig:
        """The run's options (read only)."""

    @property
    def progress(self) -> Progress:
        """Where the run is: epoch, batch within it, iteration (the step just done counted)."""

    @property
    def steps_per_epoch(self) -> int:
        """Steps in one epoch."""

    @property
    def total_steps(self) -> int:
        """The iteration the run ends at (``--epochs``, ``--max-steps``)."""

    @property
    def outputs(self) -> StepOutputs | None:
        """D's outputs, P(real), in the step just done: ``D_x``, ``D_G_z1``, ``D_G_z2`` (NDArrays, finished)."""

    @property
    def g_updated(self) -> bool:
        """Whether the step just done updated G."""

    @property
    def epoch_ends(self) -> bool:
        """Whether the step just done was its epoch's last."""

    @property
    def run_ends(self) -> bool:
        """Whether the run ends after this step: its last step, a stop signal, or a hook's :meth:`stop`."""

    @property
    def metrics(self) -> dict:
        """The newest line of metrics.jsonl: ``facc`` (D's accuracy), ``errD``, ``errG``, ``D_x``, ... ({} before
        the first)."""

    @property
    def evaluation(self) -> Evaluation | None:
        """The newest in-training quality check (its FID, of the weights ``sample`` draws, and of the raw ones)."""

    @property
    def fid(self) -> float | None:
        """FID of the newest quality check (None before the first)."""

    @property
    def checkpoint(self) -> Path | None:
        """G's file of the newest checkpoint set this process wrote."""

    @property
    def out(self) -> Path:
        """The run folder."""

    def elapsed(self) -> float:
        """The run's training time so far, in seconds (earlier processes of a resumed run included)."""

    def logged(self, line: dict) -> None:
        """Report the metrics line just written (mxgan's metrics hook does)."""

    def evaluated(self, evaluation: Evaluation) -> None:
        """Report a quality check of the weights as they are after this step (mxgan's quality hook does); the
        checkpoint of this step keeps it."""

    def wrote(self, checkpoint: Path) -> None:
        """Report a checkpoint set written (mxgan's checkpointer does)."""

    def stop(self, reason: str) -> None:
        """End the run after this step, with a checkpoint; ``reason`` is what the run says it stopped for."""


class Hook:
    """Code in the training loop: subclass it, override what you need, pass it to :func:`mxgan.train`
    (``hooks=[...]``). Every method gets the :class:`RunView`.

    ``order``: mxgan's hooks run in this order: the moving average and the heartbeat (0), the metrics line
    (10), warnings and TensorBoard (20), sample grids (30), the quality check (40), yours (50 unless you set
    it), the checkpoint (90: it keeps every hook's state after the step), the progress display (100).
    """

    order = 50

    def before_train(self, run: RunView) -> None:
        """Before the first step (of this process: after a resume, :meth:`load_state_dict` came first)."""

    def after_step(self, run: RunView) -> None:
        """After each step (``run.progress`` already counts it)."""

    def after_epoch(self, run: RunView) -> None:
        """After the last step of an epoch (not after a run that stops mid-epoch)."""

    def after_train(self, run: RunView) -> None:
        """When the loop ends, for whatever reason (an error or a stop included)."""

    def state_dict(self) -> dict:
        """What the hook keeps across steps, as JSON values: saved with each checkpoint set ({}: nothing)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what :meth:`state_dict` gave, when a run resumes from a checkpoint set."""


HOOK_METHODS = ("before_train", "after_step", "after_epoch", "after_train")  # what the trainer calls with the run
# a method with one of these prefixes that the contract lacks is a misspelling the trainer would never call
# (on_: Keras's and Lightning's on_epoch_end, on_train_end, ...)
HOOK_PREFIXES = ("after_", "before_", "on_")


def check_hooks(hooks: Any) -> list[Hook]:
    """``hooks`` (what :func:`mxgan.train` was given) as a list, each a :class:`Hook` whose methods the trainer
    can call; else one :class:`MxganError` naming the hook's position, before any work."""
    if isinstance(hooks, (str, bytes, Hook)) or not isinstance(hooks, Sequence):
        raise MxganError(f"hooks must be a list of mxgan.Hook instances, got {_kind(hooks)}")
    for i, hook in enumerate(hooks):
        _check_hook(f"hooks[{i}]", hook)
    for key, hook in zip(hook_keys(hooks), hooks):
        hook_state(key, hook)  # kept with every checkpoint: refused now, not at the first one
    return list(hooks)


def _kind(value: Any) -> str:
    return f"the class {value.__name__}" if isinstance(value, type) else f"{value!r} ({type(value).__name__})"


def _check_hook(where: str, hook: Any) -> None:
    """One hook: a :class:`Hook` instance, its contract's methods taking the run, no misspelt method."""
    if isinstance(hook, type) and issubclass(hook, Hook):
        raise MxganError(f"{where} is the class {hook.__name__}, not a hook: pass an instance, {hook.__name__}()")
    if not isinstance(hook, Hook):
        raise MxganError(f"{where} is {_kind(hook)}, not an mxgan.Hook: subclass mxgan.Hook and override "
                         f"{', '.join(HOOK_METHODS)}")
    name = type(hook).__name__
    for method in HOOK_METHODS:
        try:
            inspect.signature(getattr(hook, method)).bind(None)
        except (TypeError, ValueError) as exc:
            raise MxganError(f"{where} ({name}): {method} must take the run, as def {method}(self, run)") from exc
    for attribute in dir(hook):
        if (attribute.startswith(HOOK_PREFIXES) and attribute not in HOOK_METHODS
                and callable(inspect.getattr_static(hook, attribute))):
            raise MxganError(f"{where} ({name}) has {attribute}, which the trainer never calls; a hook's methods "
                             f"are {', '.join(HOOK_METHODS)}")
    if not isinstance(getattr(hook, "order", None), (int, float)) or isinstance(hook.order, bool):
        raise MxganError(f"{where} ({name}): order must be a number, got {hook.order!r}")


def hook_state(key: str, hook: Hook) -> dict:
    """``hook.state_dict()``, checked to be what a checkpoint set can keep (a dict that is JSON, no NaN or
    infinity); else one :class:`MxganError` naming the hook (``key``)."""
    state = hook.state_dict()
    try:
        if not isinstance(state, dict):
            raise TypeError(f"a dict, got {type(state).__name__}")
        json.dumps(state, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise MxganError(f"hook {key}: state_dict() must return a dict of JSON values (numbers, strings, lists, "
                         f"dicts; no NaN or infinity), which the checkpoint set keeps ({exc})") from None
    return state


def load_hook_state(key: str, hook: Hook, state: dict) -> None:
    """``hook.load_state_dict(state)``; a hook that cannot take its saved state is one :class:`MxganError`
    naming it (and the set it came from is kept as it is)."""
    try:
        hook.load_state_dict(state)
    except Exception as exc:  # the hook's own code: any error of it is the user's to fix, said in one line
        if type(hook).__module__.startswith("mxgan."):  # mxgan's own hooks: a damaged state is only lost
            log.warning(f"hook {key}: the state its last checkpoint set kept does not load ({type(exc).__name__}: "
                        f"{exc}); it starts afresh")
            return
        raise MxganError(f"hook {key}: load_state_dict() failed on the state its last checkpoint set kept "
                         f"({type(exc).__name__}: {exc}); make it accept that state (or ignore unknown keys)") from exc


def hook_keys(hooks: Sequence[Hook]) -> list[str]:
    """A name for each hook's state in a checkpoint set: its class, and its place among hooks of that class."""
    seen: dict[str, int] = {}
    keys = []
    for hook in hooks:
        name = type(hook).__qualname__
        keys.append(f"{name}#{seen.get(name, 0)}" if name in seen else name)
        seen[name] = seen.get(name, 0) + 1
    return keys


def in_order(hooks: Sequence[Hook]) -> list[Hook]:
    """The hooks as the trainer calls them: by :attr:`Hook.order`, hooks of one order as listed."""
    return sorted(hooks, key=lambda hook: hook.order)


@dataclass
class RunRecord:
    """What the hooks reported as the run goes: for each other (through the view) and for the run's result."""

    metrics: dict
    evaluation: Evaluation | None = None
    checkpoint: Path | None = None
    stop: str = ""  # why the run ends early (--until-fid, a hook's stop), once it should

"""One DCGAN training step on two ``mx.mod.Module`` objects, as MXNet's example does it.

D is bound with ``grad_req='add'`` on its parameters (see
:func:`mxgan.model.modules.bind_discriminator`):
its fake-batch and real-batch gradients then sum in place, where the example
copies the fake-batch gradients out and adds them back by hand (as a bfloat16 D still does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mxnet as mx

from mxgan.runtime.compat import gradient_arrays, gradients_summed_in_place


def accumulate_gradients(modD: mx.mod.Module, batches: list[mx.io.DataBatch]) -> list[mx.nd.NDArray]:
    """Run forward/backward on each batch, leaving the SUM of their gradients in ``modD``.

    This is the example's "gradients from the fake batch and the real batch are
    summed before one ``update()``". Bound by :func:`bind_discriminator` with
    ``grad_req='add'``, ``modD`` sums them in place, without copies: this helper
    first zeroes the gradient buffers, which also drops what other passes (the G
    step's pass through D) added since the last update. A bfloat16 D is bound with
    ``'write'`` (MXNet 1.9.1's ``amp_cast`` ignores ``'add'``): its earlier passes'
    gradients are copied out and added back by hand, as the example does.

    The Module API has no call to clear accumulated gradients, so the buffers
    come from :func:`mxgan.runtime.compat.gradient_arrays`.

    Returns
    -------
    list of NDArray
        D's output, P(real), for each batch (copies: D's output buffer is reused).
    """
    in_place = gradients_summed_in_place(modD)
    if in_place:
        for per_param in gradient_arrays(modD):
            for grad in per_param:
                grad[:] = 0
    outputs: list[mx.nd.NDArray] = []
    earlier: list[mx.nd.NDArray] = []  # 'write': the sum of the earlier passes' gradients
    for batch in batches:
        modD.forward(batch, is_train=True)
        modD.backward()
        outputs.append(modD.get_outputs()[0].copy())
        if not in_place:
            grads = [grad for per_param in gradient_arrays(modD) for grad in per_param]
            for grad, before in zip(grads, earlier):
                grad += before
            earlier = [grad.copy() for grad in grads] if len(outputs) < len(batches) else []
    return outputs


@dataclass
class StepOutputs:
    """D's outputs (P(real)) in one step, under the names of PyTorch's DCGAN example."""

    D_x: mx.nd.NDArray            # D(x) on the real batch, in the D update
    D_G_z1: mx.nd.NDArray         # D(G(z)) on the fake batch, in the D update
    D_G_z2: mx.nd.NDArray | None  # D(G(z)) on the fake batch, in the (first) G update; None if G rested
    last: mx.nd.NDArray | None = None  # D's output in the step's last phase

    def wait(self) -> None:
        """Block until the step has run (MXNet's engine is asynchronous): wait for its last output, a few
        bytes, which needs D's update and every phase before the last G update's backward pass."""
        (self.last if self.last is not None else self.D_x).wait_to_read()


@dataclass
class Labels:
    """Constant label batches, allocated once.

    ``real_for_D`` is the real batch's label in D's update: 1, or less with
    one-sided label smoothing (``--real-label 0.9``); G always aims at 1.
    """

    real: mx.nd.NDArray
    fake: mx.nd.NDArray
    real_for_D: mx.nd.NDArray

    @classmethod
    def create(cls, batch_size: int, dtype: str = "float32", real_label: float = 1.0) -> Labels:
        ones = mx.nd.ones((batch_size,), dtype=dtype)
        return cls(real=ones, fake=mx.nd.zeros((batch_size,), dtype=dtype),
                   real_for_D=ones if real_label == 1.0 else mx.nd.full((batch_size,), real_label, dtype=dtype))


def _update_generator(modG: mx.mod.Module, d_for_g: mx.mod.Module, fake: list, target: mx.nd.NDArray) -> mx.nd.NDArray:
    """Push ``fake`` (G's latest training-mode output) through ``d_for_g`` (D, as bound for G's update) toward
    ``target``; update G only."""
    d_for_g.forward(mx.io.DataBatch(fake, [target]), is_train=True)
    d_for_g.backward()
    modG.backward(d_for_g.get_input_grads()[:1])  # the image's gradient (not the class input's)
    modG.update()
    return d_for_g.get_outputs()[0].copy()


EXAMPLE_PHASES = ("D", "G")  # the example's step: one D update, then one G update


def schedule(iteration: int, d_steps: int = 1, g_steps: int = 1, pretrain_d: int = 0) -> tuple[str, ...]:
    """The phases of step ``iteration``, as data: ``"D"``, then ``g_steps`` times ``"G"`` on G's turns.

    G's turn comes after ``pretrain_d`` D-only steps, every ``d_steps``-th step.
    """
    g_turn = iteration >= pretrain_d and (iteration - pretrain_d + 1) % d_steps == 0
    return ("D",) + ("G",) * (g_steps if g_turn else 0)


@dataclass
class StepInputs:
    """One step's batches on the device.

    ``noise[0]`` makes the fake batch of the D phase and of the first G phase; each further G phase
    draws on the next. Conditional models add the real batch's classes and those G is asked to draw.
    """

    real: mx.nd.NDArray
    noise: list[mx.nd.NDArray]
    real_cond: mx.nd.NDArray | None = None
    fake_cond: mx.nd.NDArray | None = None


def train_step(modG: mx.mod.Module, modD: mx.mod.Module, inputs: StepInputs, labels: Labels,
               phases: Sequence[str] = EXAMPLE_PHASES, modD_G: mx.mod.Module | None = None) -> StepOutputs:
    """One step of the example's loop: update D on fake + real, then G through D, as ``phases`` lists.

    Parameters
    ----------
    modG : Module
        The generator, bound for training on ``rand``.
    modD : Module
        The discriminator, bound by :func:`mxgan.model.modules.bind_discriminator`.
    inputs : StepInputs
        Real images (B, C, S, S) in [-1, 1], latent batches (B, nz, 1, 1) (and one-hot classes).
    labels : Labels
        Label batches of ones and zeros.
    phases : sequence of "D" and "G"
        ``("D",)`` updates D only (``--pretrain-d``, ``--d-steps``); each further "G" is one more
        G update on a fresh z (``--g-steps``). See :func:`schedule`.
    modD_G : Module, optional
        D for the G update, from :func:`mxgan.model.modules.bind_input_gradient_module` (faster);
        default ``modD``.
    """
    if phases[:1] != ("D",) or set(phases[1:]) - {"G"} or len(inputs.noise) < max(1, len(phases) - 1):
        raise ValueError(f"phases {phases!r}: a D phase, then G phases, one latent batch for each")
    fake_class = [] if inputs.fake_cond is None else [inputs.fake_cond]
    modG.forward(mx.io.DataBatch([inputs.noise[0], *fake_class]), is_train=True)
    fake = modG.get_outputs() + fake_class  # D's inputs for the fake batch

    ############################
    # Update D: maximize log(D(x)) + log(1 - D(G(z)))
    # The fake batch (label 0) and the real batch (label 1) each run forward and
    # backward through D; their gradients sum before one update.
    ############################
    real_class = [] if inputs.real_cond is None else [inputs.real_cond]
    D_G_z1, D_x = accumulate_gradients(modD, [
        mx.io.DataBatch(fake, [labels.fake]),
        mx.io.DataBatch([inputs.real, *real_class], [labels.real_for_D]),
    ])
    modD.update()

    ############################
    # Update G: maximize log(D(G(z)))
    # The same fake batch goes through the updated D with label 1; the gradient
    # D hands back for its input is G's output gradient. D is not updated here.
    # A further G phase draws a fresh fake batch first.
    ############################
    d_for_g = modD_G or modD
    D_G_z2 = D_G_z = None
    for number in range(1, len(phases)):
        if number > 1:
            modG.forward(mx.io.DataBatch([inputs.noise[number - 1], *fake_class]), is_train=True)
            fake = modG.get_outputs() + fake_class
        D_G_z = _update_generator(modG, d_for_g, fake, labels.real)
        D_G_z2 = D_G_z if D_G_z2 is None else D_G_z2  # the first G phase's, as PyTorch's example reports
    return StepOutputs(D_x=D_x, D_G_z1=D_G_z1, D_G_z2=D_G_z2, last=D_G_z)

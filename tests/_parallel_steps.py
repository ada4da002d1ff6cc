"""Helper process of test_devices: a few training steps on the devices of argv[1], parameters to argv[2].

A process of its own, because MXNet's engine takes its worker count (which
several CPU devices need, see mxgan.runtime.env) when it is imported.
"""

import sys

import numpy as np

from mxgan.runtime.env import prepare_mxnet

prepare_mxnet(sys.argv[1])

import mxnet as mx  # noqa: E402

from mxgan.checkpoints.module_format import standard_params  # noqa: E402
from mxgan.model.modules import GanSpec, build_gan  # noqa: E402
from mxgan.runtime.devices import parse_ctx  # noqa: E402
from mxgan.training.step import Labels, StepInputs, train_step  # noqa: E402

BATCH, NZ, SIZE, STEPS = 32, 16, 16, 3

mx.random.seed(0)
gan = build_gan(GanSpec(BATCH, NZ, 8, 8, 3, SIZE), parse_ctx(sys.argv[1]))
# SGD, so that a parameter's difference is the learning rate times its gradient's: Adam
# divides each gradient by its own magnitude, and turns the rounding of near-zero
# gradients (summed in another order on two devices) into full-size steps of either sign.
gan.optG = mx.optimizer.SGD(learning_rate=0.1, rescale_grad=1.0 / BATCH)
gan.optD = mx.optimizer.SGD(learning_rate=0.1, rescale_grad=1.0 / BATCH)
gan.attach_optimizers()
start = {f"start:{k}": v.asnumpy() for k, v in gan.modD.get_params()[0].items()}
rng = np.random.default_rng(0)
for _ in range(STEPS):
    real = mx.nd.array(rng.uniform(-1, 1, (BATCH, 3, SIZE, SIZE)))
    z = mx.nd.array(rng.standard_normal((BATCH, NZ, 1, 1)))
    train_step(gan.modG, gan.modD, StepInputs(real, [z]), Labels.create(BATCH), modD_G=gan.modD_G)
params = {}
for role, module in (("G", gan.modG), ("D", gan.modD)):
    arg, aux = standard_params(module)
    params.update({f"{role}:{k}": v.asnumpy() for k, v in {**arg, **aux}.items()})
np.savez(sys.argv[2], **params, **start)

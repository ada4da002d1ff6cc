"""The step of MXNet's example/gan/dcgan.py as written: the yardstick of tests and benchmarks.

Kept as the example has it: D bound with grad_req='write', the fake batch's
gradients copied out and added back after the real batch's backward, one
update, one label array rewritten in place, and the metrics read every step.
mxgan's :func:`mxgan.training.step.train_step` must produce the same parameters.
"""

import mxnet as mx
import numpy as np


def bind_example_modules(symG, symD, batch_size, nz, image_shape, ctx, lr=0.0002, beta1=0.5):
    modG = mx.mod.Module(symbol=symG, data_names=("rand",), label_names=None, context=ctx)
    modG.bind(data_shapes=[("rand", (batch_size, nz, 1, 1))])
    modG.init_params(initializer=mx.init.Normal(0.02))
    modG.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": lr, "wd": 0.0, "beta1": beta1})
    modD = mx.mod.Module(symbol=symD, data_names=("data",), label_names=("label",), context=ctx)
    modD.bind(data_shapes=[("data", (batch_size,) + image_shape)],
              label_shapes=[("label", (batch_size,))], inputs_need_grad=True)
    modD.init_params(initializer=mx.init.Normal(0.02))
    modD.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": lr, "wd": 0.0, "beta1": beta1})
    return modG, modD


def example_step(modG, modD, real, noise, batch_size, read_metrics=False):
    """One iteration of the example's loop (``read_metrics``: also its per-step metric reads)."""
    label = mx.nd.zeros((batch_size,))
    modG.forward(mx.io.DataBatch([noise]), is_train=True)
    outG = modG.get_outputs()

    # update discriminator on fake
    label[:] = 0
    modD.forward(mx.io.DataBatch(outG, [label]), is_train=True)
    modD.backward()
    gradD = [[grad.copyto(grad.context) for grad in grads] for grads in modD._exec_group.grad_arrays]

    # update discriminator on real
    label[:] = 1
    modD.forward(mx.io.DataBatch([real], [label]), is_train=True)
    modD.backward()
    for gradsr, gradsf in zip(modD._exec_group.grad_arrays, gradD):
        for gradr, gradf in zip(gradsr, gradsf):
            gradr += gradf
    modD.update()

    # update generator
    label[:] = 1
    modD.forward(mx.io.DataBatch(outG, [label]), is_train=True)
    modD.backward()
    diffD = modD.get_input_grads()
    modG.backward(diffD)
    modG.update()
    if read_metrics:  # the example's mG.update / mACC.update call asnumpy() every step
        np.mean(modD.get_outputs()[0].asnumpy())

"""PyTorch's ``examples/dcgan`` at the same sizes, as the yardstick of ``bench/throughput.py``.

Same architecture as :mod:`mxgan.model.symbols` (4x4 kernels, BatchNorm, ReLU/LeakyReLU 0.2,
tanh out), and the same step as PyTorch's example: D on real and on the detached
fake, one optimizer step; then G through D(fake) with real labels. The loss is
``BCEWithLogitsLoss`` (numerically the example's Sigmoid + BCELoss). Imports torch
lazily: it is optional (the ``bench`` extra).
"""

from __future__ import annotations

import math
from typing import Any

# How a PyTorch user would run the example on a CPU: as written, with NHWC tensors, or compiled by Inductor.
VARIANTS = ("eager", "channels_last", "compile")


def build(nz: int, ngf: int, ndf: int, nc: int, image_size: int, variant: str = "eager"):
    """``(netG, netD, optG, optD, loss)`` of PyTorch's DCGAN example at ``image_size``, run as ``variant``."""
    import torch
    from torch import nn

    layers = int(math.log2(image_size)) - 1
    g: list[nn.Module] = []
    for i in range(1, layers):
        width_in = nz if i == 1 else ngf * 2 ** (layers - i)
        width = ngf * 2 ** (layers - 1 - i)
        g += [nn.ConvTranspose2d(width_in, width, 4, 1 if i == 1 else 2, 0 if i == 1 else 1, bias=False),
              nn.BatchNorm2d(width), nn.ReLU(True)]
    g += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    d: list[nn.Module] = []
    for i in range(1, layers):
        width_in = nc if i == 1 else ndf * 2 ** (i - 2)
        width = ndf * 2 ** (i - 1)
        d += [nn.Conv2d(width_in, width, 4, 2, 1, bias=False)]
        d += [nn.BatchNorm2d(width)] if i > 1 else []
        d += [nn.LeakyReLU(0.2, inplace=True)]
    d += [nn.Conv2d(ndf * 2 ** (layers - 2), 1, 4, 1, 0, bias=False), nn.Flatten()]
    netG: Any = nn.Sequential(*g)
    netD: Any = nn.Sequential(*d)
    for net in (netG, netD):  # the example's weights_init
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    if variant == "channels_last":
        netG, netD = netG.to(memory_format=torch.channels_last), netD.to(memory_format=torch.channels_last)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    if variant == "compile":  # the modules, forward and backward (AOTAutograd); the optimizers stay eager
        netG, netD = torch.compile(netG, dynamic=False), torch.compile(netD, dynamic=False)
    return netG, netD, optG, optD, nn.BCEWithLogitsLoss()


def train_step(netG, netD, optG, optD, loss, real, noise) -> None:
    """One step of PyTorch's DCGAN example."""
    import torch

    ones = torch.ones(real.shape[0])
    zeros = torch.zeros(real.shape[0])
    # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
    netD.zero_grad()
    errD_real = loss(netD(real).view(-1), ones)
    errD_real.backward()
    fake = netG(noise)
    errD_fake = loss(netD(fake.detach()).view(-1), zeros)
    errD_fake.backward()
    optD.step()
    # (2) Update G network: maximize log(D(G(z)))
    netG.zero_grad()
    errG = loss(netD(fake).view(-1), ones)
    errG.backward()
    optG.step()


def contenders(nz: int, ngf: int, ndf: int, nc: int, image_size: int, batch: int, steps: int, variant: str = "eager",
               bfloat16: bool = False) -> dict:
    """``{"train": ..., "infer": ...}``: ``steps`` training steps, and ``steps`` generator forwards in eval mode,
    of PyTorch's example run as ``variant``, on the cores ``OMP_NUM_THREADS`` names; ``bfloat16``: under
    ``torch.autocast("cpu", torch.bfloat16)``, the one line a PyTorch user adds for the matrix units."""
    import contextlib
    import os

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    torch.manual_seed(0)
    netG, netD, optG, optD, loss = build(nz, ngf, ndf, nc, image_size, variant)
    real = torch.rand(batch, nc, image_size, image_size) * 2 - 1
    if variant == "channels_last":
        real = real.contiguous(memory_format=torch.channels_last)
    z = torch.randn(batch, nz, 1, 1)

    def precision() -> contextlib.AbstractContextManager:
        return torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16 else contextlib.nullcontext()

    def train() -> None:
        netG.train()
        netD.train()
        with precision():
            for _ in range(steps):
                train_step(netG, netD, optG, optD, loss, real, z)

    def infer() -> None:
        netG.eval()
        with torch.no_grad(), precision():
            for _ in range(steps):
                netG(z)

    return {"train": train, "infer": infer}

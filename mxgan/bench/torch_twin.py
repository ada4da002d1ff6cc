"""PyTorch's ``examples/dcgan`` at the same sizes, as the yardstick of ``bench/throughput.py``.

Same architecture as :mod:`mxgan.model.symbols` (4x4 kernels, BatchNorm, ReLU/LeakyReLU 0.2,
tanh out), and the same step as PyTorch's example: D on real and on the detached
fake, one optimizer step; then G through D(fake) with real labels. The loss is
``BCEWithLogitsLoss`` (numerically the example's Sigmoid + BCELoss). Imports torch
lazily: it is optional (the ``bench`` extra).
"""

from __future__ import annotations

import math


def build(nz: int, ngf: int, ndf: int, nc: int, image_size: int):
    """``(netG, netD, optG, optD, loss)`` of PyTorch's DCGAN example at ``image_size``."""
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
    netG, netD = nn.Sequential(*g), nn.Sequential(*d)
    for net in (netG, netD):  # the example's weights_init
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
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

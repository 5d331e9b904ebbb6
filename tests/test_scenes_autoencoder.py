"""engines.scenes.autoencoder: the KL autoencoder's shapes, its KL against the closed form, and a tiny fit."""

from __future__ import annotations

import math

import pytest
import torch

from engines.scenes import autoencoder as ae
from engines.scenes import judge, world


@pytest.mark.parametrize("widths, side", [((16, 16, 32), 16), ((16, 16, 32, 32), 8)])
def test_latent_is_spatial_and_decodes_back_to_64(widths, side):
    torch.manual_seed(0)
    model = ae.Autoencoder(ae.Config(widths=widths, latent_channels=4))
    x = torch.rand(2, 3, 64, 64)
    mean, logvar = model.encode(x)
    assert mean.shape == logvar.shape == (2, 4, side, side) == (2, *model.config.latent_shape)
    assert model.decode(mean).shape == (2, 3, 64, 64)


def test_config_bounds():
    with pytest.raises(ValueError):
        ae.Config(widths=(16, 16)).validate()               # 2x: not a latent diffusion factor
    with pytest.raises(ValueError):
        ae.Config.from_dict({"widths": [16, 16, 16], "latent_dim": 4})
    assert ae.Config.from_dict({"widths": [16, 16, 16]}).factor == 4


def test_kl_matches_the_closed_form():
    assert ae.kl_loss(torch.zeros(3, 4), torch.zeros(3, 4)).item() == pytest.approx(0.0)
    mean, var = 0.5, 2.0   # KL(N(m, v) || N(0, 1)) = (m^2 + v - 1 - ln v) / 2
    got = ae.kl_loss(torch.full((5,), mean), torch.full((5,), math.log(var))).item()
    assert got == pytest.approx((mean**2 + var - 1 - math.log(var)) / 2, rel=1e-6)


def test_a_tiny_autoencoder_learns_to_reconstruct_scenes():
    torch.manual_seed(0)
    model = ae.Autoencoder(ae.Config(widths=(16, 16, 32), latent_channels=4))
    x = judge.as_input(world.render(world.sample_scenes(8, seed=0)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    first = None
    for _ in range(60):
        loss, parts = ae.loss_fn(model, x, gen)
        first = parts["rec"] if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        rec = torch.nn.functional.mse_loss(model.decode(model.encode(x)[0]), x).item()
    assert rec < 0.5 * first, (first, rec)

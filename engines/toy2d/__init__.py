"""The 2-D playground: toy distributions, tiny GAN / diffusion / VAE models that train in real
time on a CPU, and the distance between model and data. Torch + numpy only; nothing heavy at import.

    from engines import toy2d
    pg = toy2d.Playground(toy2d.Settings(model="gan", data="gaussians8", loss="wgan-gp"))
    pg.train(20)               # 20 steps (a GAN's D and G; which="D" / "G" steps one player)
    frame = pg.frame()         # numpy arrays: points, D's heat map, G's warped grid, arrows, history
"""

from .data import (
           DISTRIBUTIONS,
           EXTENT,
           MIN_DRAWN,
           check_points,
           points_along,
           points_near,
           sample,
)
from .metrics import histogram, js_divergence, kl_divergence
from .models import GAN_LOSSES, gradient_penalty
from .playground import DEFAULT_LR, METRICS, MODELS, Frame, Playground, Settings
from .slots import Slots, Ticket

__all__ = ["DEFAULT_LR", "DISTRIBUTIONS", "EXTENT", "GAN_LOSSES", "METRICS", "MIN_DRAWN", "MODELS", "Frame",
           "Playground", "Settings", "Slots", "Ticket", "check_points", "gradient_penalty", "histogram", "js_divergence",
           "kl_divergence", "points_along", "points_near", "sample"]

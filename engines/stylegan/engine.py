"""What the UI and the command line use to explore a StyleGAN checkpoint: numpy out, seeded.

Conventions:
- A seed names one image: z = randn(z_dim) from `runtime.generator(seed)`, whatever else is in
  the batch. `sample(n, seed)` shows seeds seed, seed + 1, ..., seed + n - 1.
- w and ws cross the boundary as numpy float32: w (N, w_dim), ws (N, num_ws, w_dim). `mapping`
  returns w already truncated by psi.
- Noise: "const" (the fixed maps saved with the model; the default, so a seed always gives the
  same picture), "random" (maps drawn from `noise_seed`, one draw shared by every image of the
  call, so only the styles differ between them) or "none". `noise_strength` multiplies each
  layer's learned strength: one number, or num_ws numbers (index i is conv i; the last index,
  the final toRGB, has no noise and is ignored); 0 turns a layer's noise off.
- Images come back as uint8 (N, H, W, C).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from .. import runtime
from ..errors import UserError
from ..pictures import to_uint8
from .networks import NOISE_MODES, Generator, Layer, layer_groups, layers, to_unit

FAMILY = "stylegan"
MAX_BATCH = 256              # images per call
PSI_RANGE = (-1.0, 2.0)      # truncation psi accepted (1: none, 0: the average image)
NOISE_STRENGTH_MAX = 10.0    # largest multiplier of a layer's learned noise strength


def check_psi(psi) -> float:
    try:
        value = float(psi)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and PSI_RANGE[0] <= value <= PSI_RANGE[1]):
        raise UserError("stylegan_psi", low=PSI_RANGE[0], high=PSI_RANGE[1], value=psi)
    return value


def mix_styles(ws_a: np.ndarray, ws_b: np.ndarray, layers: Sequence[int]) -> np.ndarray:
    """ws_a, ws_b (N, num_ws, w_dim) -> A's styles with the layers in `layers` taken from B.
    No layers gives ws_a, every layer gives ws_b."""
    out = np.array(ws_a, dtype=np.float32, copy=True)
    out[:, list(layers)] = np.asarray(ws_b, dtype=np.float32)[:, list(layers)]
    return out


class Engine:
    def __init__(self, ckpt, device: torch.device | None = None):
        self.device = device or runtime.device()
        self.config, model = ckpt.build(self.device)
        self.G: Generator = model.G
        # On a CPU a grouped conv per image is slower than scaling the activations around one
        # shared conv (the same numbers; see networks.modulated_conv2d).
        self.G.synthesis.set_fused(None if self.device.type == "cpu" else True)
        self.card = ckpt.card
        self.name = ckpt.name
        self.path = ckpt.path

    @classmethod
    def load(cls, path, device: torch.device | None = None) -> Engine:
        from .. import checkpoint

        return cls(checkpoint.load(path, expect_family=FAMILY), device)

    # --- the layer table -------------------------------------------------------------------------

    @property
    def num_ws(self) -> int:
        return self.G.num_ws

    @property
    def w_dim(self) -> int:
        return self.G.w_dim

    @property
    def z_dim(self) -> int:
        return self.G.z_dim

    @property
    def layers(self) -> list[Layer]:
        """(index, resolution, name, group) per w; see engines.stylegan for the table."""
        return layers(self.config.image_size)

    @property
    def layer_resolutions(self) -> list[int]:
        return [layer.resolution for layer in self.layers]

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def layer_groups(self) -> dict[str, list[int]]:
        """{"coarse": [...], "middle": [...], "fine": [...]}: w indices of each group."""
        return layer_groups(self.config.image_size)

    def layer_indices(self, selection: Iterable[int | str]) -> list[int]:
        """Layer indices and group names ("coarse", "middle", "fine") -> sorted unique indices."""
        if isinstance(selection, (str, int)):
            selection = [selection]
        groups, out = self.layer_groups, set()
        for item in selection:
            if isinstance(item, str) and item in groups:
                out.update(groups[item])
                continue
            try:
                index = int(item)
            except (TypeError, ValueError):
                raise UserError("stylegan_layer", value=item, high=self.num_ws - 1) from None
            if (index != item and not isinstance(item, (str, np.integer))) or not 0 <= index < self.num_ws:
                raise UserError("stylegan_layer", value=item, high=self.num_ws - 1)
            out.add(index)
        if not out:
            raise UserError("stylegan_no_layers")
        return sorted(out)

    # --- z and w ---------------------------------------------------------------------------------

    @property
    def w_avg(self) -> np.ndarray:
        """The tracked average w (w_dim,): the image at psi = 0."""
        return self.G.mapping.w_avg.detach().float().cpu().numpy().copy()

    def z_from_seeds(self, seeds: Sequence[int]) -> np.ndarray:
        """One z ~ N(0, I) per seed, (N, z_dim) float32."""
        seeds = self._seeds(seeds)
        return torch.stack([torch.randn(self.z_dim, generator=runtime.generator(s)) for s in seeds]).numpy()

    def mapping(self, seeds_or_z, psi: float = 1.0) -> np.ndarray:
        """Seeds (a list of ints) or z ((N, z_dim) or (z_dim,)) -> w (N, w_dim) float32, truncated:
        w' = w_avg + psi (w - w_avg)."""
        psi = check_psi(psi)
        z = self._z(seeds_or_z)
        with runtime.compute():
            w = self.G.mapping.truncate(self.G.mapping(torch.from_numpy(z).to(self.device)), psi)
        return w.float().cpu().numpy()

    def broadcast(self, w: np.ndarray) -> np.ndarray:
        """w (N, w_dim) -> ws (N, num_ws, w_dim): the same style at every layer."""
        w = np.asarray(w, dtype=np.float32)
        return np.repeat(w[:, None], self.num_ws, axis=1)

    # --- images ----------------------------------------------------------------------------------

    def synthesize(self, ws, *, noise_mode: str = "const", noise_seed: int = 0,
                   noise_strength: float | Sequence[float] | None = None) -> np.ndarray:
        """ws (N, num_ws, w_dim) (or w (N, w_dim), used at every layer) -> uint8 (N, H, W, C)."""
        ws = self._ws(ws)
        kw = self._noise_kw(noise_mode, noise_seed, noise_strength)
        with runtime.compute():
            x = self.G.synthesis(torch.from_numpy(ws).to(self.device), **kw)
        return to_uint8(to_unit(x))

    def generate(self, seeds: Sequence[int], psi: float = 1.0, **noise) -> np.ndarray:
        """One image per seed, uint8 (N, H, W, C); `noise` as for `synthesize`."""
        return self.synthesize(self.mapping(list(seeds), psi), **noise)

    def sample(self, n: int, seed: int, psi: float | None = None, *, noise_mode: str = "const",
               noise_seed: int = 0) -> tuple[np.ndarray, None]:
        """Seeds seed .. seed + n - 1 -> (uint8 (n, H, W, C), None). psi: default the card's
        `default_psi`, else 1 (no truncation)."""
        if not (isinstance(n, (int, np.integer)) and 1 <= n <= MAX_BATCH):
            raise UserError("value_out_of_range", what="n", low=1, high=MAX_BATCH, value=n)
        seed = runtime.check_seed(seed)
        runtime.check_seed(seed + n - 1)
        psi = float(self.card.get("default_psi", 1.0)) if psi is None else psi
        images = self.generate(range(seed, seed + int(n)), psi, noise_mode=noise_mode, noise_seed=noise_seed)
        return images, None

    def mix(self, seeds_a: Sequence[int], seeds_b: Sequence[int], layers: Iterable[int | str],
            psi: float = 1.0, **noise) -> np.ndarray:
        """The style-mixing grid: uint8 (rows, cols, H, W, C), rows = len(seeds_a), cols =
        len(seeds_b); cell (i, j) is A_i with the layers in `layers` (indices or group names)
        taking their w from B_j. All layers gives B_j; A_i itself is `generate([a_i])`."""
        index = self.layer_indices(layers)
        seeds_a, seeds_b = self._seeds(seeds_a), self._seeds(seeds_b)
        rows, cols = len(seeds_a), len(seeds_b)
        if rows * cols > MAX_BATCH:
            raise UserError("value_out_of_range", what="rows x columns", low=1, high=MAX_BATCH, value=rows * cols)
        w = self.mapping(seeds_a + seeds_b, psi)
        wa = np.repeat(w[:rows], cols, axis=0)     # (rows * cols, w_dim): row i, every column
        wb = np.tile(w[rows:], (rows, 1))          # (rows * cols, w_dim): column j, every row
        images = self.synthesize(mix_styles(self.broadcast(wa), self.broadcast(wb), index), **noise)
        return images.reshape(rows, cols, *images.shape[1:])

    def interpolate(self, seed_a: int, seed_b: int, ts, space: str = "z", psi: float = 1.0,
                    **noise) -> np.ndarray:
        """Images along a path from seed_a (t = 0) to seed_b (t = 1): uint8 (T, H, W, C).

        space "z": spherical interpolation of z (z is Gaussian: its norm stays typical), then
        mapping and truncation; "w": linear interpolation of the two (truncated) w's.
        """
        return self.synthesize(self.interpolate_w(seed_a, seed_b, ts, space, psi), **noise)

    def interpolate_w(self, seed_a: int, seed_b: int, ts, space: str = "z", psi: float = 1.0) -> np.ndarray:
        """The w's of `interpolate`'s path, (T, w_dim) float32 (several paths can then be
        synthesised in one batch)."""
        from ..vae import lerp, slerp

        ts = np.asarray(ts, dtype=np.float64).reshape(-1)
        if not np.isfinite(ts).all():
            raise UserError("value_not_finite", what="t", value="NaN/inf")
        if not 1 <= len(ts) <= MAX_BATCH:
            raise UserError("value_out_of_range", what="steps", low=1, high=MAX_BATCH, value=len(ts))
        if space not in ("z", "w"):
            raise UserError("stylegan_space", value=space)
        if space == "z":
            za, zb = self.z_from_seeds([seed_a, seed_b])
            return self.mapping(slerp(za, zb, ts), psi)
        wa, wb = self.mapping([seed_a, seed_b], psi)
        return lerp(wa, wb, ts)

    # --- checks ----------------------------------------------------------------------------------

    def _seeds(self, seeds) -> list[int]:
        if isinstance(seeds, (int, np.integer)):
            seeds = [seeds]
        seeds = [runtime.check_seed(s) for s in seeds]
        if not 1 <= len(seeds) <= MAX_BATCH:
            raise UserError("value_out_of_range", what="number of seeds", low=1, high=MAX_BATCH, value=len(seeds))
        return seeds

    def _z(self, seeds_or_z) -> np.ndarray:
        arr = seeds_or_z.detach().cpu().numpy() if isinstance(seeds_or_z, torch.Tensor) else np.asarray(seeds_or_z)
        if arr.size == 0 or arr.ndim == 0 or arr.dtype.kind in "iu":
            return self.z_from_seeds(arr.reshape(-1).tolist())
        z = arr.astype(np.float32).reshape(-1, arr.shape[-1])
        if arr.ndim > 2 or z.shape[-1] != self.z_dim or not 1 <= len(z) <= MAX_BATCH:
            raise UserError("stylegan_shape", what="z", want=f"(N, {self.z_dim})", shape=tuple(arr.shape))
        if not np.isfinite(z).all():
            raise UserError("value_not_finite", what="z", value="NaN/inf")
        return z

    def _ws(self, ws) -> np.ndarray:
        arr = ws.detach().cpu().numpy() if isinstance(ws, torch.Tensor) else np.asarray(ws)
        arr = arr.astype(np.float32)
        if arr.ndim == 2 and arr.shape[1] == self.w_dim:
            arr = self.broadcast(arr)
        if arr.ndim != 3 or arr.shape[1:] != (self.num_ws, self.w_dim) or not 1 <= len(arr) <= MAX_BATCH:
            raise UserError("stylegan_shape", what="ws", want=f"(N, {self.num_ws}, {self.w_dim}) or (N, {self.w_dim})",
                            shape=tuple(np.shape(ws)))
        if not np.isfinite(arr).all():
            raise UserError("value_not_finite", what="w", value="NaN/inf")
        return np.ascontiguousarray(arr)

    def _noise_kw(self, noise_mode: str, noise_seed: int, noise_strength) -> dict:
        if noise_mode not in NOISE_MODES:
            raise UserError("stylegan_noise_mode", value=noise_mode)
        n_noise = self.G.synthesis.num_noise
        if noise_strength is None:
            strengths = [1.0] * n_noise
        else:
            values = np.asarray(noise_strength, dtype=np.float64).reshape(-1)
            if values.size == 1:
                values = np.repeat(values, n_noise)
            if values.size not in (n_noise, self.num_ws):
                raise UserError("stylegan_noise_count", count=values.size, num_ws=self.num_ws)
            if not np.isfinite(values).all():
                raise UserError("value_not_finite", what="noise strength", value="NaN/inf")
            if values.min() < 0 or values.max() > NOISE_STRENGTH_MAX:
                bad = values[(values < 0) | (values > NOISE_STRENGTH_MAX)][0]
                raise UserError("value_out_of_range", what="noise strength", low=0, high=NOISE_STRENGTH_MAX,
                                value=float(bad))
            strengths = values[:n_noise].tolist()
        noise = None
        if noise_mode == "random":
            noise = self.G.synthesis.make_noise(1, runtime.generator(noise_seed, self.device), self.device)
        return {"noise_mode": noise_mode, "noise": noise, "noise_strength": strengths}

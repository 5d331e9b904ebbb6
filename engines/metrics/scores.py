"""FID, KID, Inception Score and k-NN precision / recall on precomputed features.

The maths of FID, KID and IS is torchmetrics' (`FrechetInceptionDistance`, `KernelInceptionDistance`,
`InceptionScore`), given our feature spaces as its "custom feature extractor": features are
extracted once (engines.metrics.features) and fed through an identity module, so bootstrap
resamples and FID-vs-N curves cost no network passes. Precision / recall (Kynkaanniemi et al.
2019) is small enough to state here.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import torch
from torch import nn

from .. import runtime
from ..errors import UserError


# KID and IS keep every feature (as we intend); torchmetrics warns about memory each time.
warnings.filterwarnings("ignore", message=r"Metric `(Kernel Inception Distance|InceptionScore)` will save all")


class _Given(nn.Module):
    """torchmetrics' feature extractor for features computed beforehand: the identity, (B, D) -> (B, D)."""

    def __init__(self, dims: int):
        super().__init__()
        self.num_features = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@contextlib.contextmanager
def _one_thread():
    """torch's eigvals of a small (D, D) matrix on a busy 2-core CPU: 3 ms on one thread, 600 ms
    on two (measured here: the threads wait on each other), so FID's eigenvalues take one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check(real: torch.Tensor, fake: torch.Tensor, low: int = 2) -> None:
    n = min(len(real), len(fake))
    if n < low:
        raise UserError("metrics_too_few", low=low, n=n)
    assert real.ndim == fake.ndim == 2 and real.shape[1] == fake.shape[1], (real.shape, fake.shape)


def fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to real (N, D) and fake (M, D) features
    (Heusel et al. 2017): ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2))."""
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from torchmetrics.image.fid import FrechetInceptionDistance

    _check(real, fake)
    metric = FrechetInceptionDistance(feature=_Given(real.shape[1]), reset_real_features=True)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with _one_thread():
        return float(metric.compute())


def kid(real: torch.Tensor, fake: torch.Tensor, *, subsets: int = 20, subset_size: int | None = None,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic
    kernel k(x, y) = (x.y / D + 1)^3, averaged over `subsets` random subsets of
    subset_size per side (default min(1000, N / 2, M / 2): subsets that differ, so their std says
    something) -> (mean, std over subsets)."""
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from torchmetrics.image.kid import KernelInceptionDistance

    _check(real, fake, low=4)
    size = min(subset_size or 1000, len(real) if subset_size else len(real) // 2,
               len(fake) if subset_size else len(fake) // 2)
    metric = KernelInceptionDistance(feature=_Given(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # torchmetrics draws its subsets from the global generator
    try:
        mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std)


def inception_score(logits: torch.Tensor, *, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) over `splits` parts of the images (Salimans et al. 2016),
    from class logits (N, K) -> (mean, std over splits)."""
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from torchmetrics.image.inception import InceptionScore

    metric = InceptionScore(feature=_Given(logits.shape[1]), splits=min(splits, len(logits)))
    metric.update(logits.double())
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # torchmetrics shuffles the images before splitting
    try:
        with warnings.catch_warnings():  # one split: its std has no degrees of freedom (we return 0)
            warnings.simplefilter("ignore", UserWarning)
            mean, std = metric.compute()
    finally:
        torch.random.set_rng_state(state)
    return float(mean), float(std) if len(logits) >= 2 * splits > 2 else 0.0


def knn_radii(feats: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each of feats (N, D) to its k-th nearest neighbour among the others -> (N,)."""
    d = torch.cdist(feats, feats)  # (N, N), the diagonal (itself) is 0 and the first of each sort
    return d.kthvalue(k + 1, dim=1).values


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019). Each set's manifold is the union
    of balls around its points, radius the distance to the point's k-th nearest neighbour in the
    same set. Precision: the fraction of fake points inside the real manifold (quality); recall:
    the fraction of real points inside the fake manifold (coverage, diversity)."""
    _check(real, fake, low=k + 1)
    real, fake = real.float(), fake.float()  # float32: distances to rank, twice as fast as float64 here
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    d = torch.cdist(fake, real)  # (M, N)
    precision = (d <= r_real[None, :]).any(1).double().mean()
    recall = (d.T <= r_fake[None, :]).any(1).double().mean()
    return float(precision), float(recall)


def bootstrap(fn, real: torch.Tensor, fake: torch.Tensor, *, rounds: int = 10, seed: int = 0) -> np.ndarray:
    """Standard deviation of fn(real*, fake*) (a number or a tuple of numbers) over `rounds`
    resamples of both feature sets with replacement: error bars at no extra network cost."""
    values = list(bootstrap_values(fn, real, fake, rounds=rounds, seed=seed))
    return np.std(np.stack(values), axis=0, ddof=1)  # (one per number fn returns,)


def bootstrap_values(fn, real: torch.Tensor, fake: torch.Tensor, *, rounds: int = 10, seed: int = 0):
    """fn(real*, fake*) as a float64 array, one resample of both feature sets at a time (`bootstrap`
    in steps: a caller may show progress between rounds)."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(rounds):
        i = torch.randint(len(real), (len(real),), generator=gen)
        j = torch.randint(len(fake), (len(fake),), generator=gen)
        yield np.atleast_1d(np.asarray(fn(real[i], fake[j]), np.float64))


def fid_vs_n(real: torch.Tensor, fake: torch.Tensor, ns=None, *, repeats: int = 3, seed: int = 0) -> dict:
    """FID against the number of fake samples N, and its extrapolation to infinite N (Chong &
    Forsyth 2020): FID_N is close to linear in 1/N, FID_N = FID_inf + slope / N, so a least-squares
    line through (1/N, FID_N) meets the axis 1/N = 0 at FID_inf. The real side keeps all its
    features. -> {"n": [...], "fid": [...] (mean over `repeats` draws), "fid_std": [...],
    "fid_infinity": float, "slope": float}."""
    out = None
    for out in fid_vs_n_steps(real, fake, ns, repeats=repeats, seed=seed):
        pass
    return out


def fid_vs_n_steps(real: torch.Tensor, fake: torch.Tensor, ns=None, *, repeats: int = 3, seed: int = 0):
    """`fid_vs_n` one N at a time: yields the dict so far after each N (the fit once all are in)."""
    m = len(fake)
    if ns is None:
        ns = [n for n in (100, 200, 500, 1000, 2000, 5000, 10000) if n < m] + [m]
    ns = sorted({int(n) for n in ns if 2 <= n <= m})
    gen = torch.Generator().manual_seed(seed)
    out = {"n": [], "fid": [], "fid_std": [], "fid_infinity": None, "slope": None}
    for n in ns:
        draws = [fid(real, fake[torch.randperm(m, generator=gen)[:n]]) for _ in range(1 if n == m else repeats)]
        out["n"].append(n)
        out["fid"].append(float(np.mean(draws)))
        out["fid_std"].append(float(np.std(draws, ddof=1)) if len(draws) > 1 else 0.0)
        if n != ns[-1]:
            yield out
    if len(ns) >= 2:
        slope, intercept = np.polyfit(1.0 / np.asarray(ns, np.float64), np.asarray(out["fid"]), 1)
        out["fid_infinity"], out["slope"] = float(intercept), float(slope)
    yield out


def finite(x: float, digits: int = 4):
    return round(x, digits) if math.isfinite(x) else None

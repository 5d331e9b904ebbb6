"""The VAE tab's "Autoencoder vs VAE" part: why the VAE has a prior.

The same 16 draws z ~ N(0, I) go through a plain autoencoder's decoder and a VAE's (both 2-D,
same networks, same data: assets/mnist-ae-z2 and assets/mnist-vae-z2), beside both latent maps
(held-out digits' codes coloured by class, the prior's circles, the draws as crosses) and both
decoded grids over the same square. The autoencoder's codes spread far beyond the prior, with holes
between them, so N(0, I) reaches a few of its digits only; the VAE's KL term pulls its codes onto
N(0, I), so its draws decode to every digit.
The MNIST classifier's confidence on each set of 16 puts a number on it (benchmarks/ae_holes.py
measures the same over 2,000 draws).

`build(ctx, models)` is called inside the VAE tab's sub-tabs; it lays out its own sub-tab, which
starts (its first refresh) when a student first selects it, and wires its events.
"""

from __future__ import annotations

import functools
import threading
from types import SimpleNamespace

import gradio as gr
import numpy as np

from engines import runtime
from engines.pictures import image_grid

from . import ae_plots, i18n_ae  # noqa: F401  (i18n_ae adds the part's strings to demo.i18n.STRINGS)
from .common import LIVE, PRIVATE, QUIET, AppContext, Models, Opening, SmallCache, display
from .forms import Form, widget
from .i18n import t

MODELS = {"plain": "mnist-ae-z2", "variational": "mnist-vae-z2"}  # the two autoencoders compared, by side
N_SAMPLES = 16
SURE = 0.9  # a verdict at least this probable: "looks like one digit" (benchmarks/ae_holes.py)
GRID_N = 15  # the decoded grid: GRID_N x GRID_N z's over the map's square
_MAPS = SmallCache(8).get  # (latent map picture, geometry, decoded grid) by (model folder, lim)
_LOCK = threading.Lock()


@functools.cache
def _classifier():
    from engines.metrics.features import load_classifier

    return load_classifier()


def confidence(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST classifier's verdict on uint8 digits (N, 28, 28, 1) -> (class (N,), probability (N,))."""
    from engines.metrics.features import as_float

    with _LOCK:
        net = _classifier()
    x = as_float(images, net.config.image_size)
    with runtime.compute():
        probs = net.head(net.features(x)).softmax(1)
    p, k = probs.max(1)
    return k.numpy(), p.numpy()


class AeCompareHandlers:
    """Each handler takes (lang, v) and returns its outputs by name (demo/forms.py)."""

    def __init__(self, models: Models):
        self.models = models

    def _engines(self) -> dict:
        return {side: self.models.engine(name, None) for side, name in MODELS.items()}

    def _maps(self, engines: dict) -> dict:
        """Per side: (map picture, geometry, decoded grid over the map's square). Each map spans
        its own codes and the prior's circles: an autoencoder's codes may lie far outside them."""
        out = {}
        for side, eng in engines.items():
            points, labels = eng.encoded_points()
            lim = ae_plots.map_limit(points)

            def make(eng=eng, side=side, points=points, labels=labels, lim=lim):
                picture, geom = ae_plots.latent_map(points, labels, lim, MODELS[side])
                span = lim * (GRID_N - 1) / GRID_N  # cells centred on linspace(-span, span): edges at +-lim
                grid, _ = eng.manifold(GRID_N, span)
                return picture, geom, display(grid, side=420)

            out[side] = _MAPS((str(eng.path), lim), make)
        return out

    def compare(self, lang, v):
        """16 draws of z ~ N(0, I) (seed v.seed) through both decoders, both maps with the draws."""
        seed = 0 if v.seed is None else int(v.seed)
        engines = self._engines()
        z = engines["variational"].prior_sample(N_SAMPLES, seed)  # (16, 2); the same draws for both
        maps = self._maps(engines)
        out = {}
        for side, eng in engines.items():
            images = eng.decode(z)
            k, p = confidence(images)
            picture, geom, grid = maps[side]
            out[f"{side}_samples"] = display(image_grid(images, nrow=4), side=300)
            out[f"{side}_score"] = t("ae.score", lang, classes=len(set(k.tolist())), mean=float(p.mean()),
                                     sure=int((p >= SURE).sum()), n=N_SAMPLES)
            out[f"{side}_map"] = ae_plots.mark_samples(picture, geom, z)
            out[f"{side}_grid"] = grid
        return out

    def resample(self, lang, v):
        """The next seed, and its draws."""
        seed = (0 if v.seed is None else int(v.seed)) + 1
        return {"seed": seed, **self.compare(lang, SimpleNamespace(seed=seed))}


_OUT = {"interactive": False, "format": "png", "elem_classes": ["out-image"], "buttons": []}  # pictures the models made


def _image(reg, key: str, elem_id: str, height: int):
    return widget(reg, gr.Image, label=key, elem_id=elem_id, height=height, min_width=280, **_OUT)


def _layout(reg) -> SimpleNamespace:
    """Three rows, the autoencoder on the left and the VAE on the right in each: the samples (and
    the classifier's score), the latent maps, the decoded grids."""
    widget(reg, gr.Markdown, text="ae.help", elem_id="vae-ae-help")
    ui = SimpleNamespace(sides={side: {} for side in MODELS})
    with gr.Row(equal_height=False):
        ui.seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="ae.seed",
                         elem_id="vae-ae-seed", scale=0, min_width=160)
        with gr.Column(scale=0, min_width=160):
            ui.resample = widget(reg, gr.Button, text="ae.resample", variant="primary", elem_id="vae-ae-resample")
    with gr.Row(equal_height=False):
        for side, parts in ui.sides.items():
            with gr.Column(min_width=280):
                widget(reg, gr.Markdown, text=(f"ae.{side}.title", "### {}"), elem_id=f"vae-ae-{side}-title")
                parts["samples"] = _image(reg, "ae.samples", f"vae-ae-{side}-samples", 280)
                parts["score"] = gr.Markdown(elem_id=f"vae-ae-{side}-score")
    for part, key, height in (("map", "ae.map", 470), ("grid", "ae.grid", 440)):
        with gr.Row(equal_height=False):
            for side, parts in ui.sides.items():
                parts[part] = _image(reg, key, f"vae-ae-{side}-{part}", height)
    with widget(reg, gr.Accordion, label="ae.how.title", open=False, elem_id="vae-ae-how-box"):
        widget(reg, gr.Markdown, text="ae.how", elem_id="vae-ae-how")
    return ui


def build(ctx: AppContext, models: Models) -> None:
    """Lay out and wire the part inside the VAE tab's gr.Tabs. It starts when first selected,
    whatever its parent's sub-tabs do; the parent's opening is the context's again afterwards."""
    h = AeCompareHandlers(models)
    parent = ctx.opening
    try:
        with widget(ctx.reg, gr.Tab, label="vae.sub.ae", id="vae-ae", elem_id="vae-tab-ae") as tab:
            ctx.opening = Opening.on_select(ctx.demo, tab)
            ui = _layout(ctx.reg)
        form = Form(ctx.lang, uploads=ctx.uploads)
        outputs = {f"{side}_{name}": comp for side, parts in ui.sides.items() for name, comp in parts.items()}
        compare = form(h.compare, {"seed": ui.seed}, outputs)
        ctx.opening.event(*compare, **QUIET, **PRIVATE)
        ctx.after_lang(tuple(compare))
        ui.seed.submit(*compare, api_name="vae_ae_compare", **LIVE)
        ui.resample.click(*form(h.resample, {"seed": ui.seed}, {"seed": ui.seed, **outputs}),
                          api_name="vae_ae_resample", **QUIET)
    finally:
        ctx.opening = parent

"""The GAN tab: style mixing, truncation, z-vs-w interpolation, noise, what each layer controls.

`build(ctx)` lays out one sub-tab per function, then wires each sub-tab's events; the handlers
live on `GanHandlers`, each taking the session language and the event's named values and
returning its outputs by name (demo/forms.py).
Style vectors w are cached per (model, seeds, psi) and header images per (model, seeds, psi,
noise), so a checkbox toggle only synthesises the mixed cells.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import gradio as gr
import numpy as np

from engines import latent_file, runtime
from engines.errors import UserError
from engines.stylegan import check_psi, mix_styles

from . import gan_plots, i18n_gan, i18n_teach  # noqa: F401  (they add the tab's strings to demo.i18n.STRINGS)
from .common import (
    COMPUTE,
    LIVE,
    PRIVATE,
    QUIET,
    AppContext,
    Models,
    Remembered,
    SmallCache,
    add_upload,
    card_table,
    display,
    model_row,
    warn,
)
from .fonts import plot_lang
from . import links
from .forms import Form, widget
from .i18n import LATEX_DELIMITERS, STRINGS, t

FAMILY = "stylegan"
DEFAULT_MODEL = "faces-stylegan"
GROUPS = ("coarse", "middle", "fine")
MAX_SEEDS = 6            # per side of the mixing grid, and in the truncation row
MAX_NOISE_LAYERS = 15    # per-layer noise sliders built (a 128x128 model has 13 convs)
NOISE_DRAWS = 8          # noise draws behind the per-pixel std heat map
PSI_SLIDER = (-1.0, 1.5)
SWEEP_PSI = (1.0, 0.7, 0.5, 0.0, -0.5, -1.0)  # the truncation figure of the StyleGAN paper
DEFAULT_SEEDS_A, DEFAULT_SEEDS_B = "1, 2, 3, 4", "11, 12, 13, 14"
EFFECTS_N = 64


_WS = SmallCache(256)      # w's by (model, seeds, psi)
_IMAGES = SmallCache(128)  # header images, the average image, the psi sweep


def parse_seeds(text, max_count: int = MAX_SEEDS) -> list[int]:
    """'1, 2, 3' (or a list of ints) -> [1, 2, 3]; anything else is a clear UserError."""
    items = text if isinstance(text, (list, tuple)) else re.split(r"[,\s，、]+", str(text or "").strip())
    items = [s for s in items if str(s).strip() != ""]
    err = UserError("gan_seeds", high=runtime.MAX_SEED, max=max_count, value=text)
    if not 1 <= len(items) <= max_count:
        raise err
    try:
        seeds = [int(str(s).strip()) for s in items]
    except ValueError:
        raise err from None
    if any(not 0 <= s <= runtime.MAX_SEED for s in seeds):
        raise err
    return seeds


def _seed(value) -> int:
    if value is None or isinstance(value, float) and not math.isfinite(value):
        raise UserError("value_out_of_range", what="seed", low=0, high=runtime.MAX_SEED, value=value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return runtime.check_seed(value)


def _format_card(eng, lang: str) -> str:
    card, c = eng.card, eng.config
    none = t("card.none", lang)
    return card_table(eng, lang, [
        ("gan.card.size", f"{c.image_size}×{c.image_size}×{c.channels}"),
        ("gan.card.latent", f"z ∈ ℝ^{c.z_dim}, w ∈ ℝ^{c.w_dim}, {c.mapping_layers}-layer mapping"),
        ("gan.card.layers", f"{eng.num_ws}"),
        ("gan.card.psi", card.get("default_psi", 1.0)),
        ("gan.card.quality", card.get("quality_note") or none),
    ])


def _quality(eng, lang: str):
    """A visible note for a model whose card says it is weak; hidden otherwise."""
    key = f"gan.quality.{eng.name}"
    if key in STRINGS and eng.card.get("quality_note"):
        return gr.update(value=t("gan.quality", lang, note=t(key, lang)), visible=True)
    return gr.update(value="", visible=False)


def _layer_label(index: int, resolution: int) -> str:
    return f"{index}: {resolution}×{resolution}"


def _ranges(eng) -> dict[str, str]:
    out = {}
    for g in GROUPS:
        idx = eng.layer_groups.get(g, [])
        if idx:
            lo, hi = eng.layer_resolutions[idx[0]], eng.layer_resolutions[idx[-1]]
            res = f"{lo}×{lo}" if lo == hi else f"{lo}×{lo}–{hi}×{hi}"
            out[g] = f"{idx[0]}–{idx[-1]} ({res})" if len(idx) > 1 else f"{idx[0]} ({res})"
        else:
            out[g] = "—"
    return out


class GanHandlers:
    """Event handlers. Each takes (lang, v): v holds the event's named values (v.uploads, v.model,
    ...), and returns display-ready values by output name (see demo/forms.py)."""

    def __init__(self, models: Models):
        self.models = models
        self.assets_dir = models.assets_dir  # where the attribute regressor is found

    def _engine(self, uploads, model):
        return self.models.engine(model, uploads)

    # --- cached w's and images -------------------------------------------------------------------

    @staticmethod
    def _w(eng, seeds: list[int], psi: float) -> np.ndarray:
        """(N, w_dim) truncated w's, cached per (model, seeds, psi)."""
        return _WS.get((str(eng.path), tuple(seeds), psi), lambda: eng.mapping(list(seeds), psi))

    def _images(self, eng, seeds: list[int], psi: float) -> np.ndarray:
        return _IMAGES.get(("gen", str(eng.path), tuple(seeds), psi),
                           lambda: eng.synthesize(self._w(eng, seeds, psi)))

    # --- model -----------------------------------------------------------------------------------

    def model_changed(self, lang, v):
        """Card, quality note, the layer checkboxes (coarse preset) and the per-layer noise sliders."""
        eng = self._engine(v.uploads, v.model)
        choices = [(_layer_label(i, r), i) for i, r in enumerate(eng.layer_resolutions)]
        layers = gr.update(choices=choices, value=eng.layer_groups["coarse"],
                           info=t("gan.layers.info", lang, **_ranges(eng)))
        n_noise = eng.num_ws - 1
        sliders = [gr.update(visible=i < n_noise, value=1.0,
                             label=t("gan.noise.layer", lang, i=i, res=eng.layer_resolutions[min(i, n_noise - 1)]))
                   for i in range(MAX_NOISE_LAYERS)]
        return {"card": _format_card(eng, lang), "quality": _quality(eng, lang), "layers": layers,
                "preset": "coarse", "per_layer": sliders}

    def texts(self, lang, v):
        """The model-dependent texts, re-rendered when the language changes."""
        eng = self._engine(v.uploads, v.model)
        n_noise = eng.num_ws - 1
        sliders = [gr.update(label=t("gan.noise.layer", lang, i=i, res=eng.layer_resolutions[min(i, n_noise - 1)]))
                   for i in range(MAX_NOISE_LAYERS)]
        return {"card": _format_card(eng, lang), "quality": _quality(eng, lang),
                "layers": gr.update(info=t("gan.layers.info", lang, **_ranges(eng))), "per_layer": sliders}

    def upload(self, lang, v):
        """A checkpoint upload; a refused one is explained next to the upload box."""
        try:
            name, eng, uploads = add_upload(v.files, v.uploads, FAMILY)
        except UserError as err:
            return {"status": warn(err, lang), "files": None}
        choices = self.models.choices(uploads, lang)
        status = t("gan.upload.done", lang, name=name, size=eng.config.image_size, layers=eng.num_ws)
        return {"uploads": uploads, "model": gr.update(choices=choices, value="upload:" + name), "status": status,
                "files": None}

    def relabel_models(self, lang, v):
        return {"model": gr.update(choices=self.models.choices(v.uploads, lang), value=v.model)}

    # --- style mixing ----------------------------------------------------------------------------

    def _grid(self, eng, seeds_a, seeds_b, layers, psi):
        """The composed mixing grid: A row, B column, cells A with `layers` from B."""
        a, b = parse_seeds(seeds_a), parse_seeds(seeds_b)
        psi = check_psi(psi)
        index = eng.layer_indices(list(layers or []))
        wa, wb = self._w(eng, a, psi), self._w(eng, b, psi)
        rows, cols = len(a), len(b)
        ws_a = eng.broadcast(np.repeat(wa, cols, axis=0))   # (rows * cols, num_ws, w_dim): A_i, every column
        ws_b = eng.broadcast(np.tile(wb, (rows, 1)))        # ... B_j, every row
        cells = eng.synthesize(mix_styles(ws_a, ws_b, index))
        grid = cells.reshape(rows, cols, *cells.shape[1:])
        return gan_plots.mixing_grid(grid, self._images(eng, a, psi), self._images(eng, b, psi), a, b)

    def mix(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        return {"grid": self._grid(eng, v.seeds_a, v.seeds_b, v.layers, v.psi)}

    def mix_layers(self, lang, v):
        """A checkbox toggle: the grid, and the preset that matches the selection (if any)."""
        eng = self._engine(v.uploads, v.model)
        chosen = sorted(int(i) for i in (v.layers or []))
        preset = next((g for g in GROUPS if eng.layer_groups.get(g) == chosen), None)
        return {**self.mix(lang, v), "preset": preset}

    def preset(self, lang, v):
        """A preset: check that group's layers and redraw the grid."""
        eng = self._engine(v.uploads, v.model)
        if v.group not in eng.layer_groups:
            raise UserError("stylegan_layer", value=v.group, high=eng.num_ws - 1)
        layers = eng.layer_groups[v.group]
        return {"layers": layers, "grid": self._grid(eng, v.seeds_a, v.seeds_b, layers, v.psi)}

    def random_seeds(self, lang, v):
        rng = np.random.default_rng()
        na = len(parse_seeds(v.seeds_a)) if v.seeds_a else 4
        nb = len(parse_seeds(v.seeds_b)) if v.seeds_b else 4
        new = rng.choice(10_000, size=na + nb, replace=False).tolist()
        a, b = ", ".join(map(str, new[:na])), ", ".join(map(str, new[na:]))
        eng = self._engine(v.uploads, v.model)
        return {"seeds_a": a, "seeds_b": b, "grid": self._grid(eng, a, b, v.layers, v.psi)}

    # --- truncation ------------------------------------------------------------------------------

    def truncation(self, lang, v):
        """(the seeds at psi, the average image, the first seed over the paper's psi sweep)."""
        eng = self._engine(v.uploads, v.model)
        seeds, psi = parse_seeds(v.seeds), check_psi(v.psi)
        images = gan_plots.row(self._images(eng, seeds, psi))
        avg = _IMAGES.get(("avg", str(eng.path)), lambda: eng.synthesize(eng.w_avg[None]))
        sweep = _IMAGES.get(("sweep", str(eng.path), seeds[0]), lambda: gan_plots.labelled_row(
            np.concatenate([eng.generate([seeds[0]], p) for p in SWEEP_PSI]), [f"ψ={p:g}" for p in SWEEP_PSI],
            side=96))
        return {"row": images, "avg": display(avg[0], side=192), "sweep": sweep}

    def truncation_row(self, lang, v):
        """Only the row at psi: what a psi slider move changes (the average and the sweep stay)."""
        eng = self._engine(v.uploads, v.model)
        return {"row": gan_plots.row(self._images(eng, parse_seeds(v.seeds), check_psi(v.psi)))}

    # --- interpolation ---------------------------------------------------------------------------

    @staticmethod
    def _paths(eng, a: int, b: int, ts, psi: float) -> np.ndarray:
        """The z path's images at ts, then the w path's: uint8 (2T, H, W, C), synthesised in one batch."""
        return eng.synthesize(np.concatenate([eng.interpolate_w(a, b, ts, space, psi) for space in ("z", "w")]))

    def interp_t(self, lang, v):
        """The images at t on the z path and on the w path."""
        eng = self._engine(v.uploads, v.model)
        a, b, psi = _seed(v.seed_a), _seed(v.seed_b), check_psi(v.psi)
        t_value = v.t_value
        if t_value is None or not math.isfinite(float(t_value)):
            raise UserError("value_not_finite", what="t", value=t_value)
        if not 0.0 <= float(t_value) <= 1.0:
            raise UserError("value_out_of_range", what="t", low=0, high=1, value=t_value)
        both = self._paths(eng, a, b, [float(t_value)], psi)
        return {"z_image": display(both[0], side=192), "w_image": display(both[1], side=192)}

    def interp_strips(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        a, b, psi = _seed(v.seed_a), _seed(v.seed_b), check_psi(v.psi)
        frames = int(v.frames or 8)
        if not 2 <= frames <= 16:
            raise UserError("value_out_of_range", what="frames", low=2, high=16, value=frames)
        images = self._paths(eng, a, b, np.linspace(0, 1, frames), psi)
        return {"z_strip": gan_plots.row(images[:frames], side=96), "w_strip": gan_plots.row(images[frames:], side=96)}

    def interp_all(self, lang, v):
        return {**self.interp_t(lang, v), **self.interp_strips(lang, v)}

    # --- noise -----------------------------------------------------------------------------------

    @staticmethod
    def _strengths(eng, where: str, strength, per_layer) -> list[float]:
        """Per-ws noise multipliers: global x per-layer x (1 inside the chosen groups, else 0)."""
        try:
            g = float(strength)
        except (TypeError, ValueError):
            g = math.nan
        if not (math.isfinite(g) and 0 <= g <= 10):
            raise UserError("value_out_of_range", what="noise strength", low=0, high=10, value=strength)
        if where not in ("all", "coarse", "fine", "none"):
            raise UserError("stylegan_noise_mode", value=where)
        inside = set(range(eng.num_ws)) if where == "all" else set(eng.layer_groups.get(where, []))
        values = [1.0 if x is None else float(x) for x in list(per_layer)[:eng.num_ws]]
        values += [1.0] * (eng.num_ws - len(values))
        return [g * x if i in inside else 0.0 for i, x in enumerate(values)]

    def _noise_image(self, lang, v, draw):
        """The image for one w with the chosen noise; draw None: the saved maps, k: random draw k."""
        eng = self._engine(v.uploads, v.model)
        w = self._w(eng, [_seed(v.seed)], check_psi(v.psi))
        s = self._strengths(eng, v.where, v.strength, v.per_layer)
        kw = {"noise_mode": "const"} if draw is None else {"noise_mode": "random", "noise_seed": int(draw)}
        caption = (t("gan.noise.draw.const", lang) if draw is None
                   else t("gan.noise.draw.random", lang, n=int(draw) + 1))
        return {"image": display(eng.synthesize(w, noise_strength=s, **kw)[0], side=256), "caption": caption}

    def noise_image(self, lang, v):
        return self._noise_image(lang, v, v.draw)

    def noise_std(self, lang, v):
        """Per-pixel standard deviation over NOISE_DRAWS noise draws for the same w (mean over channels)."""
        eng = self._engine(v.uploads, v.model)
        w = self._w(eng, [_seed(v.seed)], check_psi(v.psi))
        s = self._strengths(eng, v.where, v.strength, v.per_layer)
        draws = np.stack([eng.synthesize(w, noise_mode="random", noise_seed=k, noise_strength=s)[0]
                          for k in range(NOISE_DRAWS)]).astype(np.float32) / 255.0  # (K, H, W, C)
        std = draws.std(axis=0).mean(axis=-1) * 255.0  # grey levels
        picture = gan_plots.std_heatmap(std, t("gan.noise.std", plot_lang(lang), k=NOISE_DRAWS), plot_lang(lang))
        if float(std.max()) < 1.0:
            return {"std": picture, "note": "ℹ️ " + t("gan.noise.tiny", lang, max=float(std.max()))}
        return {"std": picture, "note": ""}

    def noise_compare(self, lang, v):
        """The paper's figure: the same w with noise in all / no / fine / coarse layers."""
        eng = self._engine(v.uploads, v.model)
        w = self._w(eng, [_seed(v.seed)], check_psi(v.psi))
        out = []
        for where in ("all", "none", "fine", "coarse"):
            s = self._strengths(eng, where, v.strength, [])
            out.append(display(eng.synthesize(w, noise_strength=s)[0], side=160))
        return {"compare": out}

    def noise_all(self, lang, v):
        return {**self.noise_image(lang, v), **self.noise_std(lang, v), **self.noise_compare(lang, v)}

    def resample(self, lang, v):
        draw = 0 if v.draw is None else int(v.draw) + 1
        return {"draw": draw, **self._noise_image(lang, v, draw)}

    def saved_noise(self, lang, v):
        return {"draw": None, **self._noise_image(lang, v, None)}

    # --- what each layer controls ----------------------------------------------------------------

    def effects(self, lang, v):
        """(chart or None, message) for the layer-effect measurement of this model (kept by
        attributes.layer_effects per model and regressor, so a second look is immediate)."""
        from engines.stylegan import attributes

        eng = self._engine(v.uploads, v.model)
        if eng.config.channels != 3 or eng.card.get("dataset") != "faces":
            return {"chart": None, "message": "⚠️ " + t("gan.layers.none", lang, name=eng.name)}
        regressor = attributes.load_default(self.assets_dir)
        if regressor is None:
            return {"chart": None, "message": "⚠️ " + t("gan.layers.missing", lang)}
        result = attributes.layer_effects(eng, regressor, n=EFFECTS_N, seed=0)
        names = list(result["attributes"])
        pl = plot_lang(lang)  # the chart's labels: English where no CJK font can draw Chinese
        labels = [_attr_label(attributes, n, pl) for n in names]
        groups = [t("gan.group." + g, lang) if g in GROUPS else str(g) for g in result["groups"]]
        per_layer = result.get("per_layer")
        if per_layer is None:
            per_layer = np.full((0, len(names)), np.nan)
        layer_labels = [_layer_label(i, r) for i, r in enumerate(eng.layer_resolutions[:len(per_layer)])]
        chart = gan_plots.effects_chart(np.asarray(result["effect"], np.float64), np.asarray(per_layer, np.float64),
                                        [t("gan.group." + g, pl) if g in GROUPS else str(g) for g in result["groups"]],
                                        layer_labels, labels,
                                        (t("gan.layers.groups", pl), t("gan.layers.single", pl)), pl)
        effect = np.nan_to_num(np.asarray(result["effect"], np.float64), nan=-1.0)
        truth = result.get("attribute_groups") or [None] * len(names)
        rows = [t("gan.layers.table", lang), "|---|---|---|"]
        for j, n in enumerate(names):
            moved = groups[int(effect[:, j].argmax())] if effect[:, j].max() >= 0 else "—"
            scale = t("gan.group." + truth[j], lang) if truth[j] in GROUPS else "—"
            rows.append(f"| {_describe(attributes, n, lang)} | {scale} | {moved} |")
        note = t("gan.layers.measured", lang, n=result.get("n", EFFECTS_N), seed=result.get("seed", 0))
        return {"chart": chart, "message": note + "\n\n" + "\n".join(rows)}

    # --- save / load w -----------------------------------------------------------------------------

    def latent_seed(self, lang, v):
        """The w of a seed at psi (kept in the session's state) and its picture."""
        eng = self._engine(v.uploads, v.model)
        seed, psi = _seed(v.seed), check_psi(v.psi)
        w = self._w(eng, [seed], psi)[0]
        return {"w": w.tolist(), "image": display(eng.synthesize(w[None])[0], side=256),
                "note": t("gan.latent.from_seed", lang, seed=seed, psi=psi)}

    def _held_w(self, eng, v) -> np.ndarray:
        """The session's w: (w_dim,) or per layer (num_ws, w_dim); the seed's when none is held or it
        belongs to a model of another shape."""
        w = None if v.w is None else np.asarray(v.w, np.float32)
        if w is None or w.shape not in ((eng.w_dim,), (eng.num_ws, eng.w_dim)):
            w = self._w(eng, [_seed(v.seed)], check_psi(v.psi))[0]
        return w

    def latent_save(self, lang, v):
        eng = self._engine(v.uploads, v.model)
        w = self._held_w(eng, v)
        path = latent_file.write(latent_file.fresh_path(f"w-{eng.name}"), w)
        return {"file": gr.update(value=path, visible=True),
                "note": t("gan.latent.saved", lang, shape=str(tuple(w.shape)))}

    def latent_load(self, lang, v):
        """A .npy file's w (one, or one per layer): refused unless finite and of this model's shape."""
        eng = self._engine(v.uploads, v.model)
        path = v.file if isinstance(v.file, str) or v.file is None else getattr(v.file, "name", None)
        w = latent_file.read(path, [(eng.w_dim,), (1, eng.w_dim), (eng.num_ws, eng.w_dim)])
        w = w.reshape(eng.w_dim) if w.size == eng.w_dim else w
        ws = w[None] if w.ndim == 2 else eng.broadcast(w[None])  # (1, num_ws, w_dim)
        return {"w": w.tolist(), "image": display(eng.synthesize(ws)[0], side=256),
                "note": t("gan.latent.loaded", lang, name=_basename(path), shape=str(tuple(w.shape)))}

    def effects_again(self, lang, v):
        """After a model or language change: measure again only if the sub-tab was opened."""
        if not v.shown:
            return {}
        return self.effects(lang, v)


def _basename(path) -> str:
    import os

    return os.path.basename(str(path))[:80]


def _describe(attributes, name: str, lang: str) -> str:
    try:
        return str(attributes.describe(name, lang)).replace("|", "/")
    except (KeyError, TypeError, ValueError):  # an attribute without a description keeps its name
        return name


def _attr_label(attributes, name: str, lang: str) -> str:
    """A short axis label: the description when it is short, else the attribute's own name."""
    text = _describe(attributes, name, lang)
    short = text.split("(")[0].split("：")[0].split(":")[0].strip()
    limit = 8 if lang == "zh" else 16
    return short if 0 < len(short) <= limit else name.replace("_", " ")


def _initial_layers(models: Models, default: str | None):
    """(choices, coarse) for the layer checkboxes, from the default model's config.json alone:
    the build stays light, and the choices are right before the first model event has run."""
    import json

    from engines.stylegan import layer_groups, layers

    try:
        config = json.loads((models.shipped[default] / "config.json").read_text())
        size = int(config.get("config", config).get("image_size"))
        table = layers(size)
    except (KeyError, TypeError, ValueError, OSError):
        return [], []
    return [(_layer_label(x.index, x.resolution), x.index) for x in table], layer_groups(size)["coarse"]


# --- layout: one function per sub-tab, each returning the components its events need ---------------

_IMG = {"interactive": False, "format": "png", "buttons": [], "elem_classes": ["out-image", "pixelated"]}


def _image(reg, key, elem_id, **kwargs):
    return widget(reg, gr.Image, label=key, elem_id=elem_id, **{**_IMG, **kwargs})


def _psi(reg, value, elem_id):
    return widget(reg, gr.Slider, minimum=PSI_SLIDER[0], maximum=PSI_SLIDER[1], step=0.05, value=value,
                  label="gan.psi", info="gan.psi.info", elem_id=elem_id)


def _seed_box(reg, value, key, elem_id):
    return widget(reg, gr.Number, value=value, precision=0, minimum=0, maximum=runtime.MAX_SEED, label=key,
                  elem_id=elem_id)


def _mix_tab(reg, models, default):
    with widget(reg, gr.Tab, label="gan.sub.mix", id="gan-mix", elem_id="gan-tab-mix"):
        widget(reg, gr.Markdown, text="gan.mix.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                ui.seeds_a = widget(reg, gr.Textbox, value=DEFAULT_SEEDS_A, label="gan.seeds_a", info="gan.seeds.info",
                                    elem_id="gan-seeds-a")
                ui.seeds_b = widget(reg, gr.Textbox, value=DEFAULT_SEEDS_B, label="gan.seeds_b", elem_id="gan-seeds-b")
                ui.random = widget(reg, gr.Button, text="gan.random_seeds", elem_id="gan-random-seeds", size="md")
                ui.preset = widget(reg, gr.Radio, choice_keys=[(f"gan.preset.{g}", g) for g in GROUPS],
                                   value="coarse", label="gan.preset", elem_id="gan-preset")
                layer_choices, coarse = _initial_layers(models, default)
                ui.layers = widget(reg, gr.CheckboxGroup, choices=layer_choices, value=coarse, label="gan.layers",
                                   elem_id="gan-layers")
                ui.psi = _psi(reg, 1.0, "gan-mix-psi")
            with gr.Column(scale=3, min_width=420):
                ui.grid = _image(reg, "gan.mix.grid", "gan-grid", height=620, buttons=["download"])
    return ui


def _trunc_tab(reg):
    with widget(reg, gr.Tab, label="gan.sub.trunc", id="gan-trunc", elem_id="gan-tab-trunc"):
        widget(reg, gr.Markdown, text="gan.trunc.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                ui.psi = _psi(reg, 0.7, "gan-trunc-psi")
                ui.seeds = widget(reg, gr.Textbox, value="1, 2, 3, 4, 5, 6", label="gan.trunc.seeds",
                                  info="gan.seeds.info", elem_id="gan-trunc-seeds")
            ui.avg = _image(reg, "gan.trunc.avg", "gan-trunc-avg", height=240, scale=1, min_width=200)
        ui.row = _image(reg, "gan.trunc.row", "gan-trunc-row", height=190)
        ui.sweep = _image(reg, "gan.trunc.sweep", "gan-trunc-sweep", height=160)
    return ui


def _interp_tab(reg):
    with widget(reg, gr.Tab, label="gan.sub.interp", id="gan-interp", elem_id="gan-tab-interp"):
        widget(reg, gr.Markdown, text="gan.interp.help")
        ui = SimpleNamespace()
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                with gr.Row():
                    ui.seed_a = _seed_box(reg, 2, "gan.interp.a", "gan-interp-a")
                    ui.seed_b = _seed_box(reg, 4, "gan.interp.b", "gan-interp-b")
                ui.t = widget(reg, gr.Slider, minimum=0, maximum=1, value=0.5, step=0.01, label="gan.interp.t",
                              info="gan.interp.t.info", elem_id="gan-interp-t")
                ui.frames = widget(reg, gr.Slider, minimum=3, maximum=12, value=8, step=1, label="gan.interp.frames",
                                   elem_id="gan-interp-frames")
                ui.psi = _psi(reg, 1.0, "gan-interp-psi")
            ui.z_image = _image(reg, "gan.interp.z", "gan-interp-z-image", height=250, scale=1, min_width=200)
            ui.w_image = _image(reg, "gan.interp.w", "gan-interp-w-image", height=250, scale=1, min_width=200)
        ui.z_strip = _image(reg, "gan.interp.z.strip", "gan-interp-z-strip", height=150)
        ui.w_strip = _image(reg, "gan.interp.w.strip", "gan-interp-w-strip", height=150)
    return ui


def _noise_controls(reg, ui):
    ui.seed = _seed_box(reg, 4, "gan.noise.seed", "gan-noise-seed")
    ui.where = widget(reg, gr.Radio, choice_keys=[(f"gan.noise.{w}", w) for w in ("all", "coarse", "fine", "none")],
                      value="all", label="gan.noise.where", elem_id="gan-noise-where")
    ui.strength = widget(reg, gr.Slider, minimum=0, maximum=10, value=1.0, step=0.05, label="gan.noise.strength",
                         info="gan.noise.strength.info", elem_id="gan-noise-strength")
    with gr.Row():
        ui.resample = widget(reg, gr.Button, text="gan.noise.resample", variant="primary",
                             elem_id="gan-noise-resample")
        ui.saved = widget(reg, gr.Button, text="gan.noise.saved", elem_id="gan-noise-saved")
    with widget(reg, gr.Accordion, label="gan.noise.per_layer", open=False, elem_id="gan-noise-layers-box"):
        ui.per_layer = [gr.Slider(0, 10, value=1.0, step=0.05, label=f"{i}", elem_id=f"gan-noise-layer-{i}",
                                  visible=False) for i in range(MAX_NOISE_LAYERS)]
    ui.psi = _psi(reg, 1.0, "gan-noise-psi")


def _noise_tab(reg):
    with widget(reg, gr.Tab, label="gan.sub.noise", id="gan-noise", elem_id="gan-tab-noise"):
        widget(reg, gr.Markdown, text="gan.noise.help")
        ui = SimpleNamespace(draw=gr.State(None), mem=Remembered())  # mem: the live sliders' other inputs
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                _noise_controls(reg, ui)
            with gr.Column(scale=2, min_width=260):
                ui.image = _image(reg, "gan.noise.image", "gan-noise-image", height=300)
                ui.caption = gr.Markdown(elem_id="gan-noise-caption", elem_classes=["small-note"])
            with gr.Column(scale=2, min_width=260):
                ui.std = gr.Image(show_label=False, elem_id="gan-noise-std", height=300, interactive=False,
                                  format="png", buttons=[], container=False)
                ui.note = gr.Markdown(elem_id="gan-noise-note", elem_classes=["small-note"])
        widget(reg, gr.Markdown, text=("gan.noise.compare", "#### {}"))
        with gr.Row(equal_height=False):
            ui.compare = [_image(reg, f"gan.noise.cmp.{key}", f"gan-noise-cmp-{key}", height=200, min_width=150)
                          for key in ("all", "none", "fine", "coarse")]
    return ui


def _layers_tab(reg):
    with widget(reg, gr.Tab, label="gan.sub.layers", id="gan-layers-tab", elem_id="gan-tab-layers") as tab:
        widget(reg, gr.Markdown, text="gan.layers.help")
        ui = SimpleNamespace(tab=tab)
        ui.chart = widget(reg, gr.Image, label="gan.layers.chart", elem_id="gan-effects-chart", interactive=False,
                          format="png", buttons=["download"])
        ui.message = gr.Markdown(elem_id="gan-effects-message")
    return ui


def _latent_tab(reg):
    """A seed's w, or one loaded from a .npy file, its picture, and Save."""
    with widget(reg, gr.Tab, label="gan.sub.latent", id="gan-latent", elem_id="gan-tab-latent") as tab:
        widget(reg, gr.Markdown, text="gan.latent.help")
        ui = SimpleNamespace(w=gr.State(None), tab=tab)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=280):
                ui.seed = _seed_box(reg, 7, "gan.latent.seed", "gan-latent-seed")
                ui.psi = _psi(reg, 0.7, "gan-latent-psi")
                with gr.Row():
                    ui.save = widget(reg, gr.Button, text="gan.latent.save", elem_id="gan-latent-save", min_width=140)
                    ui.upload = widget(reg, gr.UploadButton, label="gan.latent.load", file_types=[".npy"],
                                       file_count="single", elem_id="gan-latent-load", min_width=140)
                ui.file = widget(reg, gr.File, label="gan.latent.file", elem_id="gan-latent-file", interactive=False,
                                 visible=False)
                ui.note = gr.Markdown(elem_id="gan-latent-note", elem_classes=["small-note"])
            ui.image = _image(reg, "gan.latent.image", "gan-latent-image", height=300, scale=2, min_width=220)
    return ui


def _wire_latent(form, h, lt, model):
    """A seed or psi makes the held w; Save writes it; a loaded file replaces it."""
    shown = {"w": lt.w, "image": lt.image, "note": lt.note}
    seed = form(h.latent_seed, {"model": model, "seed": lt.seed, "psi": lt.psi}, shown)
    gr.on([lt.tab.select, lt.seed.submit, lt.seed.blur, lt.psi.release, model.change], *seed,
          api_name="gan_latent_seed", **LIVE)
    lt.save.click(*form(h.latent_save, {"model": model, "w": lt.w, "seed": lt.seed, "psi": lt.psi},
                        {"file": lt.file, "note": lt.note}), api_name="gan_latent_save", **QUIET)
    lt.upload.upload(*form(h.latent_load, {"model": model, "file": lt.upload}, shown), api_name="gan_latent_load",
                     **QUIET)


def _explain_tab(reg):
    with widget(reg, gr.Tab, label="gan.sub.explain", id="gan-explain", elem_id="gan-tab-explain"):
        widget(reg, gr.Markdown, text="gan.explain.body", latex_delimiters=LATEX_DELIMITERS, elem_id="gan-explain")


# --- wiring: one function per sub-tab --------------------------------------------------------------


class _Events:
    """The events several sub-tabs chain: named once, from the laid-out components."""

    def __init__(self, form, h, top, mx, tr, ip, nz, ly):
        model = top.model
        self.mix_in = {"model": model, "seeds_a": mx.seeds_a, "seeds_b": mx.seeds_b, "layers": mx.layers,
                       "psi": mx.psi}
        self.mix = form(h.mix, self.mix_in, {"grid": mx.grid})
        self.trunc_in = {"model": model, "seeds": tr.seeds, "psi": tr.psi}
        self.truncation = form(h.truncation, self.trunc_in, {"row": tr.row, "avg": tr.avg, "sweep": tr.sweep})
        self.interp_all = form(h.interp_all, {"model": model, "seed_a": ip.seed_a, "seed_b": ip.seed_b,
                                              "t_value": ip.t, "frames": ip.frames, "psi": ip.psi},
                               {"z_image": ip.z_image, "w_image": ip.w_image, "z_strip": ip.z_strip,
                                "w_strip": ip.w_strip})
        self.noise_in = {"model": model, "seed": nz.seed, "psi": nz.psi, "where": nz.where, "strength": nz.strength,
                         "draw": nz.draw, "per_layer": nz.per_layer}
        self.noise_all = form(h.noise_all, self.noise_in, {"image": nz.image, "caption": nz.caption, "std": nz.std,
                                                           "note": nz.note, "compare": nz.compare})
        self.noise_std = form(h.noise_std, {k: c for k, c in self.noise_in.items() if k != "draw"},
                              {"std": nz.std, "note": nz.note})
        self.model = form(h.model_changed, {"model": model}, {
            "card": top.card, "quality": top.quality, "layers": mx.layers, "preset": mx.preset,
            "per_layer": nz.per_layer})
        self.texts = form(h.texts, {"model": model}, {"card": top.card, "quality": top.quality, "layers": mx.layers,
                                                      "per_layer": nz.per_layer})
        self.relabel = form(h.relabel_models, {"model": model}, {"model": model})
        self.effects_again = form(h.effects_again, {"model": model, "shown": ly.message},
                                  {"chart": ly.chart, "message": ly.message})


def _wire_model(ctx, form, h, ev, top, mem):
    """A model change (or the first load) refreshes every sub-tab in order; uploads join the list."""
    model_changed = mem.record(*ev.model)
    truncation, interp_all, noise_all = (mem.record(*e) for e in (ev.truncation, ev.interp_all, ev.noise_all))

    def refresh(dep):
        return (dep.then(*ev.mix, **QUIET, **PRIVATE)
                .then(*truncation, ev.truncation.outputs, **QUIET, **PRIVATE)
                .then(*interp_all, ev.interp_all.outputs, **QUIET, **PRIVATE)
                .then(*noise_all, ev.noise_all.outputs, **QUIET, **PRIVATE))

    refresh(top.model.change(*model_changed, ev.model.outputs, api_name="gan_model", **QUIET))
    refresh(ctx.opening.event(*model_changed, ev.model.outputs, **QUIET, **PRIVATE))
    top.model.change(*ev.effects_again, **QUIET, **PRIVATE)
    top.upload_files.upload(*form(h.upload, {"files": top.upload_files}, {
        "uploads": ctx.uploads, "model": top.model, "status": top.upload_status, "files": top.upload_files}),
        api_name="gan_upload", **QUIET)


def _wire_mix(form, h, ev, mx):
    """Every toggle, preset, seed list or psi release redraws the grid."""
    mx.layers.input(*form(h.mix_layers, ev.mix_in, {"grid": mx.grid, "preset": mx.preset}),
                    api_name="gan_mix_layers", **LIVE)
    preset_in = {"model": ev.mix_in["model"], "group": mx.preset, "seeds_a": mx.seeds_a, "seeds_b": mx.seeds_b,
                 "psi": mx.psi}
    mx.preset.input(*form(h.preset, preset_in, {"layers": mx.layers, "grid": mx.grid}), api_name="gan_preset",
                    **LIVE)
    gr.on([mx.seeds_a.submit, mx.seeds_b.submit, mx.seeds_a.blur, mx.seeds_b.blur, mx.psi.release], *ev.mix,
          api_name="gan_mix", **LIVE)
    mx.random.click(*form(h.random_seeds, ev.mix_in, {"seeds_a": mx.seeds_a, "seeds_b": mx.seeds_b,
                                                      "grid": mx.grid}), api_name="gan_random_seeds", **QUIET)


def _wire_trunc(form, h, ev, tr, mem):
    """The row follows psi live."""
    row = form(h.truncation_row, ev.trunc_in, {"row": tr.row})
    mem.fast(row.fn, row.inputs, tr.psi, row.outputs)
    gr.on([], *row, api_name="gan_truncation_psi", **LIVE)
    gr.on([tr.seeds.submit, tr.seeds.blur], *mem.record(*ev.truncation), ev.truncation.outputs,
          api_name="gan_truncation", **LIVE)


def _wire_interp(form, h, ev, ip, model, mem):
    """t is live; frames, the seeds and psi redraw the strips."""
    at_t = form(h.interp_t, {"model": model, "seed_a": ip.seed_a, "seed_b": ip.seed_b, "t_value": ip.t,
                             "psi": ip.psi}, {"z_image": ip.z_image, "w_image": ip.w_image})
    mem.fast(at_t.fn, at_t.inputs, ip.t, at_t.outputs)
    gr.on([], *at_t, api_name="gan_interp_t", **LIVE)
    gr.on([ip.frames.release, ip.seed_a.submit, ip.seed_b.submit, ip.seed_a.blur, ip.seed_b.blur, ip.psi.release],
          *mem.record(*ev.interp_all), ev.interp_all.outputs, api_name="gan_interpolate", **LIVE)


def _wire_noise(form, h, ev, nz, mem):
    """The image follows the sliders live; the heat map and the comparison on release."""
    image = form(h.noise_image, ev.noise_in, {"image": nz.image, "caption": nz.caption})
    nz.where.input(*mem.record(image.fn, image.inputs), image.outputs, **LIVE, **PRIVATE)
    gr.on([], *image, api_name="gan_noise_image", **LIVE)
    std = ev.noise_std
    compare = form(h.noise_compare, {k: ev.noise_in[k] for k in ("model", "seed", "psi", "strength")},
                   {"compare": nz.compare})
    for s in (nz.strength, *nz.per_layer):
        mem.fast(image.fn, image.inputs, s, image.outputs)
        s.release(*mem.live(std.fn, std.inputs, s), std.outputs, **LIVE, **PRIVATE)
    nz.where.input(*std, **LIVE, **PRIVATE)
    gr.on([], *std, api_name="gan_noise_std", **LIVE)
    nz.strength.release(*mem.live(compare.fn, compare.inputs, nz.strength), compare.outputs, **LIVE, **PRIVATE)
    gr.on([nz.seed.submit, nz.seed.blur, nz.psi.release], *mem.record(*ev.noise_all), ev.noise_all.outputs,
          api_name="gan_noise", **LIVE)
    drawn = {"draw": nz.draw, "image": nz.image, "caption": nz.caption}
    for button, fn, name in ((nz.resample, h.resample, "gan_noise_resample"), (nz.saved, h.saved_noise,
                                                                                "gan_noise_saved")):
        button.click(*mem.record(*form(fn, ev.noise_in, drawn)), list(drawn.values()), api_name=name, **QUIET)


def _wire_session(ctx, form, h, ev, ly, model, mem):
    """The layer effects (measured when their sub-tab opens), trained models, language switches."""
    ly.tab.select(*form(h.effects, {"model": model}, {"chart": ly.chart, "message": ly.message}),
                  api_name="gan_effects", **COMPUTE, show_progress="minimal")
    ctx.uploads.change(*ev.relabel, **QUIET, **PRIVATE)  # a model trained in the training tab
    ctx.after_lang((*mem.record(*ev.texts), ev.texts.outputs), tuple(ev.noise_std), tuple(ev.effects_again))
    ctx.after_lang(tuple(ev.relabel), always=True)


def build(ctx: AppContext) -> None:
    """Lay out the GAN tab inside the current gr.Tabs and wire every event."""
    reg = ctx.reg
    models = Models(FAMILY, ctx.assets_dir)
    h = GanHandlers(models)
    default = models.default(DEFAULT_MODEL)
    with widget(reg, gr.Tab, label="gan.tab", id="gan", elem_id="gan-tab") as tab:
        ctx.open_tab(tab)
        widget(reg, gr.Markdown, text="gan.intro", elem_id="gan-intro")
        top = SimpleNamespace(**dict(zip(("model", "card", "upload_files", "upload_status"),
                                         model_row(reg, "gan", models.choices({}, reg.lang), default))))
        top.quality = gr.Markdown(visible=False, elem_id="gan-quality")
        links.copy_row(reg, "gan")  # a link that opens this view (demo/links.py)
        with gr.Tabs(elem_id="gan-subtabs"):
            mx, tr, ip = _mix_tab(reg, models, default), _trunc_tab(reg), _interp_tab(reg)
            nz, ly = _noise_tab(reg), _layers_tab(reg)
            lt = _latent_tab(reg)
            _explain_tab(reg)
    form = Form(ctx.lang, uploads=ctx.uploads)
    ev = _Events(form, h, top, mx, tr, ip, nz, ly)
    mem = nz.mem  # live sliders send only themselves: their other inputs are remembered per session
    _wire_model(ctx, form, h, ev, top, mem)
    _wire_mix(form, h, ev, mx)
    _wire_trunc(form, h, ev, tr, mem)
    _wire_interp(form, h, ev, ip, top.model, mem)
    _wire_noise(form, h, ev, nz, mem)
    _wire_session(ctx, form, h, ev, ly, top.model, mem)
    _wire_latent(form, h, lt, top.model)

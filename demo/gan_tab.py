"""The GAN tab: style mixing, truncation, z-vs-w interpolation, noise, what each layer controls.

`build(ctx)` lays the widgets out and wires them; the handlers live on `GanHandlers`, each
taking the session language and uploads first, then widget values, and returning pictures.
Style vectors w are cached per (model, seeds, psi) and header images per (model, seeds, psi,
noise), so a checkbox toggle only synthesises the mixed cells.
"""

from __future__ import annotations

import math
import re

import gradio as gr
import numpy as np

from engines import runtime
from engines.errors import UserError
from engines.stylegan import check_psi, mix_styles

from . import gan_plots, i18n_gan  # noqa: F401  (i18n_gan adds the tab's strings to demo.i18n.STRINGS)
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
    handler,
    model_row,
    warn,
)
from .fonts import plot_lang
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
    """Event handlers. Each takes (lang, uploads, model, ...) and returns display-ready values."""

    def __init__(self, models: Models):
        self.models = models

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

    def model_changed(self, lang, uploads, model):
        """Card, quality note, the layer checkboxes (coarse preset) and the per-layer noise sliders."""
        eng = self._engine(uploads, model)
        choices = [(_layer_label(i, r), i) for i, r in enumerate(eng.layer_resolutions)]
        layers = gr.update(choices=choices, value=eng.layer_groups["coarse"],
                           info=t("gan.layers.info", lang, **_ranges(eng)))
        n_noise = eng.num_ws - 1
        sliders = [gr.update(visible=i < n_noise, value=1.0,
                             label=t("gan.noise.layer", lang, i=i, res=eng.layer_resolutions[min(i, n_noise - 1)]))
                   for i in range(MAX_NOISE_LAYERS)]
        return (_format_card(eng, lang), _quality(eng, lang), layers, "coarse", *sliders)

    def texts(self, lang, uploads, model):
        """The model-dependent texts, re-rendered when the language changes."""
        eng = self._engine(uploads, model)
        n_noise = eng.num_ws - 1
        sliders = [gr.update(label=t("gan.noise.layer", lang, i=i, res=eng.layer_resolutions[min(i, n_noise - 1)]))
                   for i in range(MAX_NOISE_LAYERS)]
        return (_format_card(eng, lang), _quality(eng, lang),
                gr.update(info=t("gan.layers.info", lang, **_ranges(eng))), *sliders)

    def upload(self, lang, uploads, files):
        """A checkpoint upload; a refused one is explained next to the upload box."""
        try:
            name, eng, uploads = add_upload(files, uploads, FAMILY)
        except UserError as err:
            return gr.skip(), gr.skip(), warn(err, lang), None
        choices = self.models.choices(uploads, lang)
        status = t("gan.upload.done", lang, name=name, size=eng.config.image_size, layers=eng.num_ws)
        return uploads, gr.update(choices=choices, value="upload:" + name), status, None

    def relabel_models(self, lang, uploads, model):
        return gr.update(choices=self.models.choices(uploads, lang), value=model)

    # --- style mixing ----------------------------------------------------------------------------

    def mix(self, lang, uploads, model, seeds_a, seeds_b, layers, psi):
        """The composed mixing grid: A row, B column, cells A with `layers` from B."""
        eng = self._engine(uploads, model)
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

    def mix_layers(self, lang, uploads, model, seeds_a, seeds_b, layers, psi):
        """A checkbox toggle: the grid, and the preset that matches the selection (if any)."""
        eng = self._engine(uploads, model)
        chosen = sorted(int(i) for i in (layers or []))
        preset = next((g for g in GROUPS if eng.layer_groups.get(g) == chosen), None)
        return self.mix(lang, uploads, model, seeds_a, seeds_b, layers, psi), preset

    def preset(self, lang, uploads, model, group, seeds_a, seeds_b, psi):
        """A preset: check that group's layers and redraw the grid."""
        eng = self._engine(uploads, model)
        if group not in eng.layer_groups:
            raise UserError("stylegan_layer", value=group, high=eng.num_ws - 1)
        layers = eng.layer_groups[group]
        return layers, self.mix(lang, uploads, model, seeds_a, seeds_b, layers, psi)

    def random_seeds(self, lang, uploads, model, seeds_a, seeds_b, layers, psi):
        rng = np.random.default_rng()
        na = len(parse_seeds(seeds_a)) if seeds_a else 4
        nb = len(parse_seeds(seeds_b)) if seeds_b else 4
        new = rng.choice(10_000, size=na + nb, replace=False).tolist()
        a, b = ", ".join(map(str, new[:na])), ", ".join(map(str, new[na:]))
        return a, b, self.mix(lang, uploads, model, a, b, layers, psi)

    # --- truncation ------------------------------------------------------------------------------

    def truncation(self, lang, uploads, model, seeds, psi):
        """(the seeds at psi, the average image, the first seed over the paper's psi sweep)."""
        eng = self._engine(uploads, model)
        seeds, psi = parse_seeds(seeds), check_psi(psi)
        images = gan_plots.row(self._images(eng, seeds, psi))
        avg = _IMAGES.get(("avg", str(eng.path)), lambda: eng.synthesize(eng.w_avg[None]))
        sweep = _IMAGES.get(("sweep", str(eng.path), seeds[0]), lambda: gan_plots.labelled_row(
            np.concatenate([eng.generate([seeds[0]], p) for p in SWEEP_PSI]), [f"ψ={p:g}" for p in SWEEP_PSI],
            side=96))
        return images, display(avg[0], side=192), sweep

    def truncation_row(self, lang, uploads, model, seeds, psi):
        """Only the row at psi: what a psi slider move changes (the average and the sweep stay)."""
        eng = self._engine(uploads, model)
        return gan_plots.row(self._images(eng, parse_seeds(seeds), check_psi(psi)))

    # --- interpolation ---------------------------------------------------------------------------

    @staticmethod
    def _paths(eng, a: int, b: int, ts, psi: float) -> np.ndarray:
        """The z path's images at ts, then the w path's: uint8 (2T, H, W, C), synthesised in one batch."""
        return eng.synthesize(np.concatenate([eng.interpolate_w(a, b, ts, space, psi) for space in ("z", "w")]))

    def interp_t(self, lang, uploads, model, seed_a, seed_b, t_value, psi):
        """The images at t on the z path and on the w path."""
        eng = self._engine(uploads, model)
        a, b, psi = _seed(seed_a), _seed(seed_b), check_psi(psi)
        if t_value is None or not math.isfinite(float(t_value)):
            raise UserError("value_not_finite", what="t", value=t_value)
        if not 0.0 <= float(t_value) <= 1.0:
            raise UserError("value_out_of_range", what="t", low=0, high=1, value=t_value)
        both = self._paths(eng, a, b, [float(t_value)], psi)
        return display(both[0], side=192), display(both[1], side=192)

    def interp_strips(self, lang, uploads, model, seed_a, seed_b, frames, psi):
        eng = self._engine(uploads, model)
        a, b, psi = _seed(seed_a), _seed(seed_b), check_psi(psi)
        frames = int(frames or 8)
        if not 2 <= frames <= 16:
            raise UserError("value_out_of_range", what="frames", low=2, high=16, value=frames)
        images = self._paths(eng, a, b, np.linspace(0, 1, frames), psi)
        return gan_plots.row(images[:frames], side=96), gan_plots.row(images[frames:], side=96)

    def interp_all(self, lang, uploads, model, seed_a, seed_b, t_value, frames, psi):
        return (*self.interp_t(lang, uploads, model, seed_a, seed_b, t_value, psi),
                *self.interp_strips(lang, uploads, model, seed_a, seed_b, frames, psi))

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
        values = [1.0 if v is None else float(v) for v in list(per_layer)[:eng.num_ws]]
        values += [1.0] * (eng.num_ws - len(values))
        return [g * v if i in inside else 0.0 for i, v in enumerate(values)]

    def noise_image(self, lang, uploads, model, seed, psi, where, strength, draw, *per_layer):
        """The image for one w with the chosen noise; draw None: the saved maps, k: random draw k."""
        eng = self._engine(uploads, model)
        w = self._w(eng, [_seed(seed)], check_psi(psi))
        s = self._strengths(eng, where, strength, per_layer)
        kw = {"noise_mode": "const"} if draw is None else {"noise_mode": "random", "noise_seed": int(draw)}
        caption = (t("gan.noise.draw.const", lang) if draw is None
                   else t("gan.noise.draw.random", lang, n=int(draw) + 1))
        return display(eng.synthesize(w, noise_strength=s, **kw)[0], side=256), caption

    def noise_std(self, lang, uploads, model, seed, psi, where, strength, *per_layer):
        """Per-pixel standard deviation over NOISE_DRAWS noise draws for the same w (mean over channels)."""
        eng = self._engine(uploads, model)
        w = self._w(eng, [_seed(seed)], check_psi(psi))
        s = self._strengths(eng, where, strength, per_layer)
        draws = np.stack([eng.synthesize(w, noise_mode="random", noise_seed=k, noise_strength=s)[0]
                          for k in range(NOISE_DRAWS)]).astype(np.float32) / 255.0  # (K, H, W, C)
        std = draws.std(axis=0).mean(axis=-1) * 255.0  # grey levels
        picture = gan_plots.std_heatmap(std, t("gan.noise.std", plot_lang(lang), k=NOISE_DRAWS), plot_lang(lang))
        if float(std.max()) < 1.0:
            return picture, "ℹ️ " + t("gan.noise.tiny", lang, max=float(std.max()))
        return picture, ""

    def noise_compare(self, lang, uploads, model, seed, psi, strength):
        """The paper's figure: the same w with noise in all / no / fine / coarse layers."""
        eng = self._engine(uploads, model)
        w = self._w(eng, [_seed(seed)], check_psi(psi))
        out = []
        for where in ("all", "none", "fine", "coarse"):
            s = self._strengths(eng, where, strength, [])
            out.append(display(eng.synthesize(w, noise_strength=s)[0], side=160))
        return tuple(out)

    def noise_all(self, lang, uploads, model, seed, psi, where, strength, draw, *per_layer):
        return (*self.noise_image(lang, uploads, model, seed, psi, where, strength, draw, *per_layer),
                *self.noise_std(lang, uploads, model, seed, psi, where, strength, *per_layer),
                *self.noise_compare(lang, uploads, model, seed, psi, strength))

    def resample(self, lang, uploads, model, seed, psi, where, strength, draw, *per_layer):
        draw = 0 if draw is None else int(draw) + 1
        return (draw, *self.noise_image(lang, uploads, model, seed, psi, where, strength, draw, *per_layer))

    def saved_noise(self, lang, uploads, model, seed, psi, where, strength, draw, *per_layer):
        return (None, *self.noise_image(lang, uploads, model, seed, psi, where, strength, None, *per_layer))

    # --- what each layer controls ----------------------------------------------------------------

    def effects(self, lang, uploads, model):
        """(chart or None, message) for the layer-effect measurement of this model (kept by
        attributes.layer_effects per model and regressor, so a second look is immediate)."""
        from engines.stylegan import attributes

        eng = self._engine(uploads, model)
        if eng.config.channels != 3 or eng.card.get("dataset") != "faces":
            return None, "⚠️ " + t("gan.layers.none", lang, name=eng.name)
        regressor = attributes.load_default()
        if regressor is None:
            return None, "⚠️ " + t("gan.layers.missing", lang)
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
        return chart, note + "\n\n" + "\n".join(rows)

    def effects_again(self, lang, uploads, model, shown):
        """After a model or language change: measure again only if the sub-tab was opened."""
        if not shown:
            return gr.skip(), gr.skip()
        return self.effects(lang, uploads, model)


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


def build(ctx: AppContext) -> None:
    """Lay out the GAN tab inside the current gr.Tabs and wire every event."""
    reg, lang_state, uploads = ctx.reg, ctx.lang, ctx.uploads
    models = Models(FAMILY, ctx.assets_dir)
    h = GanHandlers(models)
    lang = reg.lang
    default = models.default(DEFAULT_MODEL)
    choices = models.choices({}, lang)
    S = [lang_state, uploads]
    img = {"interactive": False, "format": "png", "buttons": [], "elem_classes": ["out-image", "pixelated"]}
    psi_kw = {"minimum": PSI_SLIDER[0], "maximum": PSI_SLIDER[1], "step": 0.05, "label": reg.text("gan.psi"),
              "info": reg.text("gan.psi.info")}

    with reg(gr.Tab(reg.text("gan.tab"), id="gan", elem_id="gan-tab"), label="gan.tab"):
        reg(gr.Markdown(reg.text("gan.intro"), elem_id="gan-intro"), value="gan.intro")
        model, card, upload_files, upload_status = model_row(reg, "gan", choices, default)
        quality = gr.Markdown(visible=False, elem_id="gan-quality")

        with gr.Tabs(elem_id="gan-subtabs"):
            # --- 1. style mixing ---------------------------------------------------------------------
            with reg(gr.Tab(reg.text("gan.sub.mix"), id="gan-mix", elem_id="gan-tab-mix"), label="gan.sub.mix"):
                reg(gr.Markdown(reg.text("gan.mix.help")), value="gan.mix.help")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        seeds_a = reg(gr.Textbox(DEFAULT_SEEDS_A, label=reg.text("gan.seeds_a"),
                                                 info=reg.text("gan.seeds.info"), elem_id="gan-seeds-a"),
                                      label="gan.seeds_a", info="gan.seeds.info")
                        seeds_b = reg(gr.Textbox(DEFAULT_SEEDS_B, label=reg.text("gan.seeds_b"),
                                                 elem_id="gan-seeds-b"), label="gan.seeds_b")
                        random_btn = reg(gr.Button(reg.text("gan.random_seeds"), elem_id="gan-random-seeds", size="md"),
                                         value="gan.random_seeds")
                        presets = [("gan.preset.coarse", "coarse"), ("gan.preset.middle", "middle"),
                                   ("gan.preset.fine", "fine")]
                        preset = reg(gr.Radio(reg.choices(presets), value="coarse", label=reg.text("gan.preset"),
                                              elem_id="gan-preset"), label="gan.preset", choices=presets)
                        layer_choices, coarse = _initial_layers(models, default)
                        layers = reg(gr.CheckboxGroup(layer_choices, value=coarse, label=reg.text("gan.layers"), elem_id="gan-layers"),
                                     label="gan.layers")
                        mix_psi = reg(gr.Slider(value=1.0, elem_id="gan-mix-psi", **psi_kw), label="gan.psi",
                                      info="gan.psi.info")
                    with gr.Column(scale=3, min_width=420):
                        grid = reg(gr.Image(label=reg.text("gan.mix.grid"), elem_id="gan-grid", height=620,
                                            **{**img, "buttons": ["download"]}), label="gan.mix.grid")

            # --- 2. truncation -----------------------------------------------------------------------
            with reg(gr.Tab(reg.text("gan.sub.trunc"), id="gan-trunc", elem_id="gan-tab-trunc"),
                     label="gan.sub.trunc"):
                reg(gr.Markdown(reg.text("gan.trunc.help")), value="gan.trunc.help")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=360):
                        trunc_psi = reg(gr.Slider(value=0.7, elem_id="gan-trunc-psi", **psi_kw), label="gan.psi",
                                        info="gan.psi.info")
                        trunc_seeds = reg(gr.Textbox("1, 2, 3, 4, 5, 6", label=reg.text("gan.trunc.seeds"),
                                                     info=reg.text("gan.seeds.info"),
                                                     elem_id="gan-trunc-seeds"), label="gan.trunc.seeds", info="gan.seeds.info")
                    avg_img = reg(gr.Image(label=reg.text("gan.trunc.avg"), elem_id="gan-trunc-avg", height=240,
                                           scale=1, min_width=200, **img), label="gan.trunc.avg")
                trunc_row = reg(gr.Image(label=reg.text("gan.trunc.row"), elem_id="gan-trunc-row", height=190, **img),
                                label="gan.trunc.row")
                trunc_sweep = reg(gr.Image(label=reg.text("gan.trunc.sweep"), elem_id="gan-trunc-sweep", height=160,
                                           **img), label="gan.trunc.sweep")

            # --- 3. interpolation in z and in w ------------------------------------------------------
            with reg(gr.Tab(reg.text("gan.sub.interp"), id="gan-interp", elem_id="gan-tab-interp"),
                     label="gan.sub.interp"):
                reg(gr.Markdown(reg.text("gan.interp.help")), value="gan.interp.help")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        with gr.Row():
                            seed_a = reg(gr.Number(2, precision=0, minimum=0, maximum=runtime.MAX_SEED,
                                                   label=reg.text("gan.interp.a"), elem_id="gan-interp-a"),
                                         label="gan.interp.a")
                            seed_b = reg(gr.Number(4, precision=0, minimum=0, maximum=runtime.MAX_SEED,
                                                   label=reg.text("gan.interp.b"), elem_id="gan-interp-b"),
                                         label="gan.interp.b")
                        t_slider = reg(gr.Slider(0, 1, value=0.5, step=0.01, label=reg.text("gan.interp.t"),
                                                 info=reg.text("gan.interp.t.info"), elem_id="gan-interp-t"),
                                       label="gan.interp.t", info="gan.interp.t.info")
                        frames = reg(gr.Slider(3, 12, value=8, step=1, label=reg.text("gan.interp.frames"),
                                               elem_id="gan-interp-frames"), label="gan.interp.frames")
                        interp_psi = reg(gr.Slider(value=1.0, elem_id="gan-interp-psi", **psi_kw), label="gan.psi",
                                         info="gan.psi.info")
                    z_img = reg(gr.Image(label=reg.text("gan.interp.z"), elem_id="gan-interp-z-image", height=250,
                                         scale=1, min_width=200, **img), label="gan.interp.z")
                    w_img = reg(gr.Image(label=reg.text("gan.interp.w"), elem_id="gan-interp-w-image", height=250,
                                         scale=1, min_width=200, **img), label="gan.interp.w")
                z_strip = reg(gr.Image(label=reg.text("gan.interp.z.strip"), elem_id="gan-interp-z-strip", height=150,
                                       **img), label="gan.interp.z.strip")
                w_strip = reg(gr.Image(label=reg.text("gan.interp.w.strip"), elem_id="gan-interp-w-strip", height=150,
                                       **img), label="gan.interp.w.strip")

            # --- 4. noise ----------------------------------------------------------------------------
            with reg(gr.Tab(reg.text("gan.sub.noise"), id="gan-noise", elem_id="gan-tab-noise"),
                     label="gan.sub.noise"):
                reg(gr.Markdown(reg.text("gan.noise.help")), value="gan.noise.help")
                draw = gr.State(None)
                mem = Remembered()  # the live sliders' other inputs, per session
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        noise_seed = reg(gr.Number(4, precision=0, minimum=0, maximum=runtime.MAX_SEED,
                                                   label=reg.text("gan.noise.seed"), elem_id="gan-noise-seed"),
                                         label="gan.noise.seed")
                        wheres = [("gan.noise.all", "all"), ("gan.noise.coarse", "coarse"),
                                  ("gan.noise.fine", "fine"), ("gan.noise.none", "none")]
                        where = reg(gr.Radio(reg.choices(wheres), value="all", label=reg.text("gan.noise.where"),
                                             elem_id="gan-noise-where"), label="gan.noise.where", choices=wheres)
                        strength = reg(gr.Slider(0, 10, value=1.0, step=0.05, label=reg.text("gan.noise.strength"),
                                                 info=reg.text("gan.noise.strength.info"), elem_id="gan-noise-strength"),
                                       label="gan.noise.strength", info="gan.noise.strength.info")
                        with gr.Row():
                            resample_btn = reg(gr.Button(reg.text("gan.noise.resample"), variant="primary",
                                                         elem_id="gan-noise-resample"), value="gan.noise.resample")
                            saved_btn = reg(gr.Button(reg.text("gan.noise.saved"), elem_id="gan-noise-saved"),
                                            value="gan.noise.saved")
                        with reg(gr.Accordion(reg.text("gan.noise.per_layer"), open=False,
                                              elem_id="gan-noise-layers-box"), label="gan.noise.per_layer"):
                            per_layer = [gr.Slider(0, 10, value=1.0, step=0.05, label=f"{i}", elem_id=f"gan-noise-layer-{i}",
                                                   visible=False) for i in range(MAX_NOISE_LAYERS)]
                        noise_psi = reg(gr.Slider(value=1.0, elem_id="gan-noise-psi", **psi_kw), label="gan.psi",
                                        info="gan.psi.info")
                    with gr.Column(scale=2, min_width=260):
                        noise_img = reg(gr.Image(label=reg.text("gan.noise.image"), elem_id="gan-noise-image",
                                                 height=300, **img), label="gan.noise.image")
                        noise_caption = gr.Markdown(elem_id="gan-noise-caption", elem_classes=["small-note"])
                    with gr.Column(scale=2, min_width=260):
                        noise_std = gr.Image(show_label=False, elem_id="gan-noise-std", height=300, interactive=False,
                                             format="png", buttons=[], container=False)
                        noise_note = gr.Markdown(elem_id="gan-noise-note", elem_classes=["small-note"])
                reg(gr.Markdown(f"#### {reg.text('gan.noise.compare')}"), value=("gan.noise.compare", "#### {}"))
                compare = []
                with gr.Row(equal_height=False):
                    for key in ("all", "none", "fine", "coarse"):
                        compare.append(reg(gr.Image(label=reg.text(f"gan.noise.cmp.{key}"),
                                                    elem_id=f"gan-noise-cmp-{key}", height=200, min_width=150, **img),
                                           label=f"gan.noise.cmp.{key}"))

            # --- 5. what each layer controls ---------------------------------------------------------
            with reg(gr.Tab(reg.text("gan.sub.layers"), id="gan-layers-tab", elem_id="gan-tab-layers"),
                     label="gan.sub.layers") as layers_tab:
                reg(gr.Markdown(reg.text("gan.layers.help")), value="gan.layers.help")
                effects_chart = reg(gr.Image(label=reg.text("gan.layers.chart"), elem_id="gan-effects-chart",
                                             interactive=False, format="png", buttons=["download"]),
                                    label="gan.layers.chart")
                effects_msg = gr.Markdown(elem_id="gan-effects-message")

            # --- 6. explanation ----------------------------------------------------------------------
            with reg(gr.Tab(reg.text("gan.sub.explain"), id="gan-explain", elem_id="gan-tab-explain"),
                     label="gan.sub.explain"):
                reg(gr.Markdown(reg.text("gan.explain.body"), latex_delimiters=LATEX_DELIMITERS,
                                elem_id="gan-explain"), value="gan.explain.body")

    # --- wiring -------------------------------------------------------------------------------------
    M = [*S, model]
    mix_in = [*M, seeds_a, seeds_b, layers, mix_psi]
    trunc_in = [*M, trunc_seeds, trunc_psi]
    interp_in = [*M, seed_a, seed_b, t_slider, frames, interp_psi]
    noise_in = [*M, noise_seed, noise_psi, where, strength, draw, *per_layer]
    noise_out = [noise_img, noise_caption, noise_std, noise_note, *compare]
    effects_out = [effects_chart, effects_msg]
    model_out = [card, quality, layers, preset, *per_layer]

    # Live sliders send only themselves: the other inputs of their events are remembered per session
    # from the events that take them (see common.Remembered).
    trunc_out, interp_out = [trunc_row, avg_img, trunc_sweep], [z_img, w_img, z_strip, w_strip]
    truncation = mem.record(handler(h.truncation), trunc_in, trunc_out)
    interp_all = mem.record(handler(h.interp_all), interp_in, interp_out)
    noise_all = mem.record(handler(h.noise_all), noise_in, noise_out)
    model_changed = mem.record(handler(h.model_changed), [*M], model_out)

    def refresh(dep):
        """Everything that depends on the model, in order after `dep`."""
        return (dep.then(handler(h.mix), mix_in, grid, **QUIET, **PRIVATE)
                .then(*truncation, trunc_out, **QUIET, **PRIVATE)
                .then(*interp_all, interp_out, **QUIET, **PRIVATE)
                .then(*noise_all, noise_out, **QUIET, **PRIVATE))

    refresh(model.change(*model_changed, model_out, api_name="gan_model", **QUIET))
    refresh(ctx.demo.load(*model_changed, model_out, **QUIET, **PRIVATE))
    model.change(handler(h.effects_again), [*M, effects_msg], effects_out, **QUIET, **PRIVATE)
    upload_files.upload(handler(h.upload), [*S, upload_files], [uploads, model, upload_status, upload_files],
                        api_name="gan_upload", **QUIET)

    # Style mixing: every toggle, preset, seed list or psi release redraws the grid.
    layers.input(handler(h.mix_layers), mix_in, [grid, preset], api_name="gan_mix_layers", **LIVE)
    preset.input(handler(h.preset), [*M, preset, seeds_a, seeds_b, mix_psi], [layers, grid],
                 api_name="gan_preset", **LIVE)
    gr.on([seeds_a.submit, seeds_b.submit, seeds_a.blur, seeds_b.blur, mix_psi.release], handler(h.mix), mix_in,
          grid, api_name="gan_mix", **LIVE)
    random_btn.click(handler(h.random_seeds), mix_in, [seeds_a, seeds_b, grid], api_name="gan_random_seeds", **QUIET)

    # Truncation: the row follows psi live.
    mem.fast(handler(h.truncation_row), trunc_in, trunc_psi, [trunc_row])
    gr.on([], handler(h.truncation_row), trunc_in, trunc_row, api_name="gan_truncation_psi", **LIVE)
    gr.on([trunc_seeds.submit, trunc_seeds.blur], *truncation, trunc_out, api_name="gan_truncation", **LIVE)

    # Interpolation: t is live; frames and psi redraw the strips.
    interp_t_in = [*M, seed_a, seed_b, t_slider, interp_psi]
    mem.fast(handler(h.interp_t), interp_t_in, t_slider, [z_img, w_img])
    gr.on([], handler(h.interp_t), interp_t_in, [z_img, w_img], api_name="gan_interp_t", **LIVE)
    gr.on([frames.release, seed_a.submit, seed_b.submit, seed_a.blur, seed_b.blur, interp_psi.release],
          *interp_all, interp_out, api_name="gan_interpolate", **LIVE)

    # Noise: the image follows the sliders live; the heat map and the comparison on release.
    noise_live_out = [noise_img, noise_caption]
    where.input(*mem.record(handler(h.noise_image), noise_in), noise_live_out, **LIVE, **PRIVATE)
    gr.on([], handler(h.noise_image), noise_in, noise_live_out, api_name="gan_noise_image", **LIVE)
    noise_std_in = [*M, noise_seed, noise_psi, where, strength, *per_layer]
    std_out = [noise_std, noise_note]
    compare_in = [*M, noise_seed, noise_psi, strength]
    for s in (strength, *per_layer):
        mem.fast(handler(h.noise_image), noise_in, s, noise_live_out)
        s.release(*mem.live(handler(h.noise_std), noise_std_in, s), std_out, **LIVE, **PRIVATE)
    where.input(handler(h.noise_std), noise_std_in, std_out, **LIVE, **PRIVATE)
    gr.on([], handler(h.noise_std), noise_std_in, std_out, api_name="gan_noise_std", **LIVE)
    strength.release(*mem.live(handler(h.noise_compare), compare_in, strength), compare, **LIVE, **PRIVATE)
    gr.on([noise_seed.submit, noise_seed.blur, noise_psi.release], *noise_all, noise_out, api_name="gan_noise",
          **LIVE)
    draw_out = [draw, noise_img, noise_caption]
    resample_btn.click(*mem.record(handler(h.resample), noise_in, draw_out), draw_out, api_name="gan_noise_resample",
                       **QUIET)
    saved_btn.click(*mem.record(handler(h.saved_noise), noise_in, draw_out), draw_out, api_name="gan_noise_saved",
                    **QUIET)

    # What each layer controls: measured (and cached) when the sub-tab is opened.
    layers_tab.select(handler(h.effects), M, effects_out, api_name="gan_effects", **COMPUTE,
                      show_progress="minimal")

    # A model trained in the training tab joins this session's dropdown.
    uploads.change(handler(h.relabel_models), [*M], [model], **QUIET, **PRIVATE)

    ctx.on_lang += [
        (*mem.record(handler(h.texts), [*M]), [card, quality, layers, *per_layer]),
        (handler(h.relabel_models), [*M], [model]),
        (handler(h.noise_std), noise_std_in, [noise_std, noise_note]),
        (handler(h.effects_again), [*M, effects_msg], effects_out),
    ]

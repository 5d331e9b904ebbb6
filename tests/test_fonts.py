"""Chinese plot text: the CJK face matplotlib uses draws every Chinese character GenLab writes, every
server-drawn plot of every tab renders in Chinese without a missing glyph, and without a CJK font a
plot falls back to English labels instead of boxes.

matplotlib reports a missing glyph as a UserWarning ("Glyph ... missing from font(s) ...") and
mathtext as a log record ("... does not have a glyph for ..."); both are caught here.
"""

from __future__ import annotations

import glob
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from demo import clip_plots, diffusion_plots, fonts, gan_plots, i18n_gan, playground_plots, plots_common, vae_plots  # noqa: F401,E501

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
CJK_NAME = re.compile(r"CJK|WenQuanYi|Han Sans|PingFang|YaHei|SimHei|Hiragino|Heiti")
MISSING = re.compile(r"Glyph \d+ .*missing from font|does not have a glyph|substituting with a dummy symbol")
needs_cjk = pytest.mark.skipif(fonts.cjk_font() is None, reason="no CJK font here (./scripts/test.sh installs "
                                                                   "fonts-noto-cjk)")


class Glyphs:
    """Collects missing-glyph reports from warnings and from matplotlib's log while active."""

    def __init__(self):
        self.reports: list[str] = []

    def __enter__(self):
        self._warnings = warnings.catch_warnings(record=True)
        self._caught = self._warnings.__enter__()
        warnings.simplefilter("always")
        self._handler = logging.Handler(logging.DEBUG)
        self._handler.emit = lambda record: self.reports.append(record.getMessage())
        self._logger = logging.getLogger("matplotlib")
        self._level = self._logger.level
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._level)
        self._warnings.__exit__(*exc)
        self.reports += [str(w.message) for w in self._caught]

    @property
    def missing(self) -> list[str]:
        return [r for r in self.reports if MISSING.search(r)]


def chinese_in_sources() -> str:
    """Every CJK character in the UI strings and the engine's Chinese (captions, error messages)."""
    chars: set[str] = set()
    for path in glob.glob(str(ROOT / "demo" / "i18n*.py")) + glob.glob(str(ROOT / "engines" / "**" / "*.py"),
                                                                        recursive=True):
        chars |= set(CJK.findall(Path(path).read_text(encoding="utf-8")))
    return "".join(sorted(chars))


# --- the face -------------------------------------------------------------------------------------


@needs_cjk
def test_the_face_covers_every_chinese_character_genlab_writes():
    font = fonts.cjk_font()
    text = chinese_in_sources()
    assert len(text) > 500  # the UI strings really were read
    from matplotlib import ft2font

    face = ft2font.FT2Font(font.path, face_index=font.index)
    missing = [c for c in text if not face.get_char_index(ord(c))]
    assert not missing, f"{font.family} lacks {''.join(missing)}"


@needs_cjk
def test_a_font_installed_after_matplotlibs_cached_list_is_still_found(monkeypatch):
    """matplotlib caches its font list on disk; a font apt installed later is not in it (this very
    machine's cache predated fonts-noto-cjk). The finder adds the files itself."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    monkeypatch.setattr(manager, "ttflist", [e for e in manager.ttflist if not CJK_NAME.search(e.name)])
    fonts.cjk_font.cache_clear()
    try:
        found = fonts.cjk_font()
        assert found is not None and found == fonts._lookup(manager)
        assert any(e.name == found.family for e in manager.ttflist)
    finally:
        fonts.cjk_font.cache_clear()


@needs_cjk
def test_matplotlib_draws_with_the_simplified_chinese_face_of_a_collection():
    """Noto Sans CJK is one .ttc with JP, KR, SC, TC, HK faces; asked for SC by name, matplotlib must
    draw SC's glyph shapes, not the first face's (some characters differ between JP and SC)."""
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    font = fonts.cjk_font()
    if not font.family.startswith("Noto Sans CJK"):
        pytest.skip(f"not a Noto Sans CJK collection: {font.family}")
    assert font.family == "Noto Sans CJK SC" and font.index > 0
    found = font_manager.fontManager.findfont(font_manager.FontProperties(family=font.family))
    assert getattr(found, "face_index", 0) == font.index

    def draw(family):
        fig = Figure(figsize=(3, 1), dpi=100)
        fig.text(0.05, 0.3, "说骨直", family=family, fontsize=30)
        return plots_common.render(fig)

    with Glyphs() as g:
        sc, jp, sc2 = draw("Noto Sans CJK SC"), draw("Noto Sans CJK JP"), draw("Noto Sans CJK SC")
    assert not g.missing
    np.testing.assert_array_equal(sc, sc2)          # the same face draws the same pixels
    assert (np.abs(sc.astype(int) - jp).max(axis=2) > 64).sum() > 50  # ...and SC is not JP's face


@needs_cjk
def test_rendered_chinese_has_ink_where_english_has_none():
    """A label in Chinese really draws characters (not empty boxes of equal width)."""
    with Glyphs() as g:
        zh = diffusion_plots.histogram(np.linspace(-1, 1, 500), 10, "zh")
        en = diffusion_plots.histogram(np.linspace(-1, 1, 500), 10, "en")
    assert not g.missing, g.missing
    assert zh.shape == en.shape and (zh != en).any()


# --- every plot of every tab, in Chinese ----------------------------------------------------------


def _playground_frames():
    from engines.toy2d.playground import Playground, Settings

    frames = []
    for model in ("gan", "diffusion", "vae"):
        pg = Playground(Settings(model=model, batch=64, hidden=16, timesteps=10))
        pg.train(2)
        frames.append(pg.frame())
    return frames


def _every_plot(lang: str) -> list[np.ndarray]:
    """Each server-drawn picture of every tab, with tiny real inputs, labels in `lang`."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    out = []
    # VAE tab
    out.append(vae_plots.prior_plot(rng.normal(size=8)))
    picture, geom = vae_plots.scatter(rng.normal(size=(50, 2)), rng.integers(0, 10, 50), 3.0)
    out += [picture, vae_plots.mark(picture, geom, 0.5, -0.5)]
    out.append(vae_plots.mark_grid(diffusion_plots.grid(images, 96), 2, 2.0, 0.5, 0.5))
    out.append(vae_plots.sigma_bars(np.abs(rng.normal(size=8))))
    # diffusion tab
    from engines.diffusion.process import GaussianDiffusion, make_schedule

    schedules = {}
    for name in ("linear", "cosine"):
        d = GaussianDiffusion(make_schedule(name, 50))
        abar = d.alphas_cumprod.numpy()
        schedules[name] = {"beta": d.betas.numpy(), "abar": abar, "snr": abar / (1 - abar)}
    out.append(diffusion_plots.mark_schedules(diffusion_plots.schedule_picture(schedules, "cosine", lang), 20))
    out.append(diffusion_plots.histogram(rng.normal(size=784), 20, lang, start=rng.uniform(-1, 1, 784)))
    out.append(diffusion_plots.labelled_strip([("t = 10", images[:3]), ("t = 0", images[1:])], rows=["xₜ", "ε̂", "x̂₀"]))
    # GAN tab (the tab writes the labels; gan_tab.plot_lang decides their language)
    from demo.i18n import t

    lab = fonts.plot_lang(lang)
    out.append(gan_plots.mixing_grid(np.stack([np.stack([images[0]] * 2)] * 2), images[:2], images[2:], [1, 2], [3, 4]))
    out.append(gan_plots.labelled_row(images[:3], ["ψ = 0.5", "1.0", "1.5"]))
    out.append(gan_plots.std_heatmap(rng.uniform(0, 9, (16, 16)), t("gan.noise.std", lab, k=8), lab))
    groups = [t("gan.group." + g, lab) for g in ("coarse", "middle", "fine")]
    out.append(gan_plots.effects_chart(rng.uniform(0, 1, (3, 4)), rng.uniform(0, 1, (5, 4)), groups,
                                       [f"{i}: {4 * 2 ** (i // 2)}²" for i in range(5)],
                                       ["亮度", "微笑", "头发", "brightness"] if lab == "zh" else list("abcd"),
                                       (t("gan.layers.groups", lab), t("gan.layers.single", lab)), lab))
    # CLIP tab (captions are the user's: Chinese ones are drawn in the English UI too)
    out.append(clip_plots.similarity_bars(["一个红色的圆在左上角", "a blue square", "潜在空间 去噪 生成对抗网络"],
                                          np.array([0.7, 0.2, 0.1]), np.array([0.31, 0.22, 0.1]), lang))
    # playground tab (Pillow)
    for frame in _playground_frames():
        out.append(playground_plots.render(frame, lang))
    out.append(playground_plots.render_canvas(rng.uniform(-2, 2, (10, 2)), "gan", lang))
    return out


@needs_cjk
def test_every_plot_of_every_tab_renders_in_chinese_without_missing_glyphs():
    torch.manual_seed(0)
    with Glyphs() as g:
        pictures = _every_plot("zh")
    assert not g.missing, g.missing
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in pictures)


@needs_cjk
def test_the_gan_tabs_chinese_plots_through_its_handlers(tmp_path, monkeypatch):
    """The GAN tab translates its chart labels itself: through the wired handlers, in Chinese."""
    import app
    from engines.stylegan import attributes
    from tests.tab_fixtures import api_lookup
    from tests.test_gan_tab import FACES, PL, FakeRegressor, tiny_stylegan

    from demo import gan_tab

    tiny_stylegan(tmp_path / FACES, card={"dataset": "faces"})
    api = api_lookup(app.build_app(assets_dir=tmp_path))
    monkeypatch.setattr(attributes, "load_default", lambda assets_dir=None: FakeRegressor())
    monkeypatch.setattr(gan_tab, "EFFECTS_N", 4)
    attributes._EFFECTS_CACHE.clear()
    with Glyphs() as g:
        std, _ = api("gan_noise_std")("zh", {}, FACES, 4, 1.0, "all", 1.0, *PL)
        chart, table = api("gan_effects")("zh", {}, FACES)
    attributes._EFFECTS_CACHE.clear()
    assert not g.missing, g.missing
    assert std.ndim == 3 and chart.ndim == 3 and CJK.search(table)


# --- no CJK font: English labels, no boxes --------------------------------------------------------


@pytest.fixture
def no_cjk_font(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    monkeypatch.setattr(fonts, "_warned", [])


def test_without_a_cjk_font_plots_draw_english_and_say_so_once(no_cjk_font, caplog):
    values = np.linspace(-1, 1, 500)
    with caplog.at_level(logging.WARNING, logger="demo.fonts"), Glyphs() as g:
        zh = diffusion_plots.histogram(values, 10, "zh")
        zh_again = diffusion_plots.histogram(values, 11, "zh")
        bars = clip_plots.similarity_bars(["a red circle"], np.array([1.0]), np.array([0.3]), "zh")
    assert not g.missing, g.missing
    assert fonts.plot_lang("zh") == "en" and fonts.plot_lang("en") == "en"
    en = diffusion_plots.histogram(values, 10, "en")
    np.testing.assert_array_equal(zh, en)  # the same code draws the same figure: exact
    assert zh_again.shape == en.shape
    np.testing.assert_array_equal(bars, clip_plots.similarity_bars(["a red circle"], np.array([1.0]),
                                                                   np.array([0.3]), "en"))
    said = [r for r in caplog.records if r.name == "demo.fonts"]
    assert len(said) == 1 and "CJK" in said[0].getMessage()


def test_without_a_cjk_font_the_playground_frame_is_english(no_cjk_font):
    torch.manual_seed(0)
    frame = _playground_frames()[0]
    np.testing.assert_array_equal(playground_plots.render(frame, "zh"), playground_plots.render(frame, "en"))
    assert fonts.plot_lang("zh") == "en"


def test_mixed_chinese_and_math_labels_avoid_mathtext():
    assert fonts.mixed_text("$x_t$ 的像素值") == "xₜ 的像素值"
    assert fonts.mixed_text("pixel value of $x_t$") == "pixel value of $x_t$"  # English keeps mathtext
    assert fonts.mixed_text("均值 {mean}") == "均值 {mean}"

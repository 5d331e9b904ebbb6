"""Fonts for the text GenLab draws on the server: matplotlib figures and Pillow pictures.

DejaVu Sans (matplotlib's own) draws Latin text and math; Chinese needs a CJK font from the
system (a Space installs Debian's fonts-noto-cjk from packages.txt). matplotlib lists every face
of a .ttc collection, so the Simplified Chinese face of Noto Sans CJK is asked for by name; its
font list is cached on disk and misses a font installed after the cache was made, so the files
are added by hand when the name is not found. Without any CJK font a plot draws its English
labels (`plot_lang`) rather than a row of boxes, and says so once in the log.

Nothing happens at import; the first plot configures matplotlib once.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import re
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Faces that draw Simplified Chinese, best first (an SC face gives mainland glyph shapes): Debian's,
# then a teacher's laptop's (macOS, Windows), then faces of other regions that still cover Chinese.
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Micro Hei",
                "WenQuanYi Zen Hei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "STHeiti",
                "Microsoft YaHei", "SimHei", "Noto Sans CJK JP", "Source Han Sans", "Noto Sans CJK TC",
                "Arial Unicode MS")
# Where Debian puts them, when fontconfig's fc-list is not there to ask.
CJK_GLOBS = ("/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc", "/usr/share/fonts/truetype/noto/NotoSansCJK*.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-*.ttc", "/usr/share/fonts/opentype/source-han-sans/*.ttc")
PROBE = "潜在空间去噪生成对抗网络"  # a face must map every one of these to count as Chinese


@dataclass(frozen=True)
class CJKFont:
    family: str   # the name matplotlib knows the face by
    path: str     # the font file (.ttc / .ttf / .otf)
    index: int    # the face within a .ttc collection (0 for a single font)


def _covers(path: str, index: int, text: str = PROBE) -> bool:
    from matplotlib import ft2font

    try:
        face = ft2font.FT2Font(path, face_index=index)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(face.get_char_index(ord(c)) for c in text)


def _lookup(manager) -> CJKFont | None:
    """The best regular-weight CJK face in matplotlib's font list, or None."""
    by_name: dict[str, list] = {}
    for entry in manager.ttflist:
        by_name.setdefault(entry.name, []).append(entry)
    for family in CJK_FAMILIES:
        entries = sorted(by_name.get(family, []), key=lambda e: (e.style != "normal", abs(_weight(e.weight) - 400)))
        for e in entries:
            if os.path.isfile(e.fname) and _covers(e.fname, e.index):
                return CJKFont(family, e.fname, e.index)
    return None


def _weight(w) -> int:
    try:
        return int(w)
    except (TypeError, ValueError):
        return 400 if w in ("normal", "regular", "book") else 700


def _font_files() -> list[str]:
    """CJK font files on this machine: fontconfig's answer, else Debian's usual places."""
    paths = []
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5,
                             check=False).stdout
        paths = [line.split(":")[0].strip() for line in out.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    for pattern in CJK_GLOBS:
        paths += sorted(glob.glob(pattern))
    return list(dict.fromkeys(p for p in paths if os.path.isfile(p)))


@functools.lru_cache(maxsize=1)
def cjk_font() -> CJKFont | None:
    """The face GenLab draws Chinese with, or None when the machine has none (found once)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    found = _lookup(manager)
    if found is None:  # a font installed after matplotlib cached its list: add the files ourselves
        known = {e.fname for e in manager.ttflist}
        for path in _font_files():
            if path not in known:
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = _lookup(manager)
    if found is not None:
        log.info("Chinese plot text uses %s (%s, face %d)", found.family, found.path, found.index)
    return found


_configured: set[str] = set()
_warned: list[bool] = []


def configure() -> CJKFont | None:
    """Set matplotlib's default families once: DejaVu Sans first (Latin and math look as they always
    did), then the CJK face, which matplotlib falls back to glyph by glyph. Returns the face."""
    font = cjk_font()
    if font is not None and font.family not in _configured:
        import matplotlib

        matplotlib.rcParams["font.family"] = ["sans-serif", font.family]
        _configured.add(font.family)
    return font


def has_cjk() -> bool:
    return configure() is not None


def plot_lang(lang: str) -> str:
    """The language a plot draws its labels in: Chinese only where a CJK font exists, else English."""
    if lang == "zh" and not has_cjk():
        if not _warned:
            _warned.append(True)
            log.warning("No CJK font found (install fonts-noto-cjk): plots draw English labels in the Chinese UI.")
        return "en"
    return lang


_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_SUBSCRIPTS = dict(zip("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_SIMPLE_MATH = re.compile(r"\$([A-Za-z])_\{?([0-9aehijklmnoprstuvx])\}?\$")


def mixed_text(text: str) -> str:
    """A label with Chinese and math: mathtext has no CJK fallback (each character becomes a box), so
    simple math such as $x_t$ is written as Unicode (xₜ) there. Other labels come back unchanged."""
    if "$" not in text or not _CJK.search(text):
        return text
    return _SIMPLE_MATH.sub(lambda m: m.group(1) + _SUBSCRIPTS[m.group(2)], text)


@functools.lru_cache(maxsize=16)
def pil_font(size: int, cjk: bool = True):
    """A Pillow font: the CJK face (which has Latin letters too) when asked for and present, else DejaVu
    Sans, else Pillow's own. Pillow has no per-glyph fallback, so text with Chinese needs cjk=True."""
    from PIL import ImageFont

    font = cjk_font() if cjk else None
    if font is not None:
        try:
            return ImageFont.truetype(font.path, size, index=font.index)
        except OSError:
            pass
    candidates = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"]
    try:
        import matplotlib

        candidates.append(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"))
    except ImportError:
        pass
    for path in candidates:
        if os.path.isfile(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)

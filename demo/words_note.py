"""What a text-to-image tab says about a prompt before generating: the words its text encoder never saw.

    ldm_note(engine_or_None, prompt, lang)        the LDM tab: words outside the model's vocabulary
    clip_note(prompt, backend, generator, lang)   the CLIP tab: words outside the GenLab CLIP's captions,
                                                  and, for raw pixels, that a high score is no picture
Both are cheap (no model runs), so they follow the prompt box as it is typed.
"""

from __future__ import annotations

from engines.scenes.clip_words import clip_never_seen
from engines.scenes.text import never_seen

from . import i18n_ldm  # noqa: F401  (adds the strings to demo.i18n.STRINGS)
from .i18n import t

MAX_SHOWN = 12   # never-seen words listed; the rest as "+k"


def _words(words: list[str], lang: str) -> str:
    shown = ("、" if lang == "zh" else ", ").join(words[:MAX_SHOWN])
    return shown + (f" (+{len(words) - MAX_SHOWN})" if len(words) > MAX_SHOWN else "")


def ldm_note(engine, prompt, lang: str) -> str:
    """"never seen: cat, sofa" for the words the LDM's vocabulary lacks; "" for an empty prompt."""
    text = str(prompt or "")[:2000]
    if not text.strip():
        return ""
    words = engine.never_seen(text) if engine is not None else never_seen(text)
    return t("words.never_seen", lang, words=_words(words, lang)) if words else t("words.all_known", lang)


def clip_note(prompt, backend, generator, lang: str) -> str:
    """The CLIP tab's note: never-seen words (for the GenLab CLIP only: a pretrained CLIP read the web),
    and for raw pixels that a high score there is not a picture of the prompt."""
    parts = []
    text = str(prompt or "")[:2000]
    if text.strip() and str(backend or "genlab") == "genlab":
        words = clip_never_seen(text)
        if words:
            parts.append(t("words.clip_never_seen", lang, words=_words(words, lang)))
    if str(generator or "pixels") == "pixels":
        parts.append(t("words.clip_pixels", lang))
    return "\n\n".join(parts)

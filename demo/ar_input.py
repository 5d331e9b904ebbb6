"""What the autoregressive tab tells a user whose upload did not have the model's size or channels.

An upload of any size or colour is fitted to the model's input (demo.image_inputs.fit), so nothing
breaks; `fitted_note` says that it happened, so a 100×60 colour photo turning into a 28×28 grey
digit is no surprise. The engines themselves refuse a wrong shape with a message (vq_image,
pixelcnn_image).
"""

from __future__ import annotations

from engines import data

from .i18n import STRINGS, t

STRINGS.update({
    "ar.fitted": ("Your {w}×{h} upload was fitted to the model's {s}×{s} {kind} input.",
                  "你上传的 {w}×{h} 图像已调整为模型所需的 {s}×{s} {kind}输入。"),
    "ar.fitted.grey": ("grey", "灰度"),
    "ar.fitted.colour": ("colour", "彩色"),
})


def fitted_note(lang: str, engine, choice) -> str:
    """'' unless the chosen image is an upload whose size or colour differs from the model's input."""
    if choice.source != "upload" or not choice.upload:
        return ""
    raw = data.decode_image(choice.upload)           # uint8 (H, W, 3) RGB, checked as model_input does
    c = engine.config
    colour = bool((raw != raw[..., :1]).any())
    if raw.shape[:2] == (c.image_size, c.image_size) and (c.channels == 3 or not colour):
        return ""
    kind = t("ar.fitted.grey" if c.channels == 1 else "ar.fitted.colour", lang)
    return t("ar.fitted", lang, w=raw.shape[1], h=raw.shape[0], s=c.image_size, kind=kind)


def same_note(note: str, text: str) -> str:
    """`text` with the note in front of it, if there is one."""
    return f"{note} {text}" if note else text


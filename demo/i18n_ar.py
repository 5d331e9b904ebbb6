"""The autoregressive tab's shared strings (English, Chinese), added to demo.i18n.STRINGS at import.

Each sub-tab (PixelCNN, VQ-VAE and its prior) keeps its own strings in its own module; these are
the tab's title and the introduction above its sub-tabs. Terms follow ../shared/GLOSSARY.md
(自回归模型, 矢量量化, 码本).
"""

from __future__ import annotations

from .i18n import STRINGS

AR_STRINGS: dict[str, tuple[str, str]] = {
    "ar.tab": ("Autoregressive", "自回归模型"),
    "ar.intro": (
        "An **autoregressive model** writes p(x) = ∏ᵢ p(xᵢ | x₁ … xᵢ₋₁): it generates an image one "
        "piece at a time, each piece drawn from a distribution that depends on everything drawn before. "
        "PixelCNN's pieces are pixels; a VQ-VAE first turns the image into a grid of codebook tokens and "
        "a transformer prior generates the tokens.",
        "**自回归模型**把 p(x) 写成 ∏ᵢ p(xᵢ | x₁ … xᵢ₋₁)：它一次生成图像的一小部分，每一部分都从一个"
        "依赖于之前所有已生成部分的分布中采样。PixelCNN 逐个像素生成；VQ-VAE 先把图像变成一格格"
        "码本中的 token，再由一个 Transformer 先验逐个生成这些 token。",
    ),
}

STRINGS.update(AR_STRINGS)

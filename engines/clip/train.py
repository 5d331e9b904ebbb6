"""Captioned training data for the GenLab CLIP, its loss for the shared trainer, zero-shot tests.

Every training image carries a bank of true captions (`CAPTION_VARIANTS` of them, English and
Chinese); each step draws one per image. Each caption also says which attributes it asserts
(`ATTRS`, -1 = not mentioned), so the loss knows which other images in the batch it is true
of: "the digit 7" is true of every 7, "a red circle" of every red circle wherever it sits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import tokenizer
from .model import Config, contrastive_loss, encode_images, encode_texts, to_tower_input

# Attribute slots of an image / of a caption's requirements.
ATTRS = ("source", "digit", "shape", "color", "position", "size", "background")
SOURCE_MNIST, SOURCE_SHAPES = 0, 1
CAPTION_VARIANTS = 18

DIGIT_WORDS_EN = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_WORDS_ZH = ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九")

# Digit captions: {w} the English word, {aw} with its article, {n} the numeral, {z} the Chinese numeral.
DIGIT_TEMPLATES_EN = ("a handwritten {w}", "the digit {n}", "the number {w}", "{aw}", "handwritten digit {w}",
                      "{n}", "an image of the digit {n}", "a handwritten {n}")
DIGIT_TEMPLATES_ZH = ("数字{z}", "手写的 {n}", "手写数字{z}", "一个手写的{z}", "数字 {n}", "{z}", "写着{z}的图片",
                      "手写的数字 {n}")


def digit_caption(digit: int, template: str) -> str:
    w = DIGIT_WORDS_EN[digit]
    aw = ("an " if w[0] in "aeiou" else "a ") + w
    return template.format(w=w, aw=aw, n=digit, z=DIGIT_WORDS_ZH[digit])


# Other ways to say each position, after the data set's own wording (engines.data.shapes): a CLIP
# that only ever read "in the top left corner" did not know "in the top left" (guiding the shapes
# DDPM with "a blue square in the top left" drew no square in 6 seeds out of 6; with "... corner",
# 3 of 4). `caption_bank(reword=)` and `hard_negatives` say a caption's position one of these ways.
def _corner_en(v: str, h: str) -> tuple[str, ...]:
    u = {"top": "upper", "bottom": "lower"}[v]
    return (f"in the {v} {h} corner", f"in the {v} {h}", f"at the {v} {h}", f"{v} {h}", f"in the {u} {h} corner",
            f"at the {u} {h}", f"{v} {h} corner")


def _side_en(side: str) -> tuple[str, ...]:
    if side in ("top", "bottom"):
        return (f"at the {side}", f"at the {side} centre", f"on the {side}", side, f"at the {side} center",
                f"in the {side} middle", f"{side} centre")
    return (f"on the {side}", f"at the {side}", side, f"on the {side} side", f"in the middle {side}",
            f"at the {side} edge", f"{side} side")


POSITION_WORDINGS = {
    "en": {"top left": _corner_en("top", "left"), "top": _side_en("top"), "top right": _corner_en("top", "right"),
           "left": _side_en("left"),
           "centre": ("in the centre", "in the center", "in the middle", "centre", "center", "middle",
                      "at the centre"),
           "right": _side_en("right"), "bottom left": _corner_en("bottom", "left"), "bottom": _side_en("bottom"),
           "bottom right": _corner_en("bottom", "right")},
    "zh": {"top left": ("左上角", "左上方", "左上", "左上部", "左上边"),
           "top": ("上方", "上面", "上边", "顶部", "正上方", "上部"),
           "top right": ("右上角", "右上方", "右上", "右上部", "右上边"),
           "left": ("左侧", "左边", "左面", "左方", "左部"),
           "centre": ("中央", "中间", "正中", "中心", "正中间"),
           "right": ("右侧", "右边", "右面", "右方", "右部"),
           "bottom left": ("左下角", "左下方", "左下", "左下部", "左下边"),
           "bottom": ("下方", "下面", "下边", "底部", "正下方", "下部"),
           "bottom right": ("右下角", "右下方", "右下", "右下部", "右下边")},
}
REWORD = 0.5  # the share of shapes captions that say their position another way


def reword_position(text: str, position: str, lang: str, r: int) -> str:
    """`text` with its position said in wording 1 + r % (n - 1) of POSITION_WORDINGS (never the
    data set's own, wording 0)."""
    words = POSITION_WORDINGS[lang][position]
    assert words[0] in text, (text, words[0])
    return text.replace(words[0], words[1 + r % (len(words) - 1)], 1)


def _lang_of(text: str) -> str:
    return "en" if text.isascii() else "zh"


def _shape_partials(attrs: dict) -> list[tuple[str, tuple[str, ...]]]:
    """Short captions naming two of shape / colour / position: (text, factors it asserts)."""
    from ..data import FACTOR_ZH
    from ..data.shapes import _POSITION_EN, _a

    s, c, p = attrs["shape"], attrs["color"], attrs["position"]
    zs, zc, zp = FACTOR_ZH["shape"][s], FACTOR_ZH["color"][c], FACTOR_ZH["position"][p]
    return [
        (_a(f"{c} {s}"), ("shape", "color")), (f"{zc}{zs}", ("shape", "color")),
        (f"a {s} {_POSITION_EN[p]}", ("shape", "position")), (f"{zp}的{zs}", ("shape", "position")),
        (f"something {c} {_POSITION_EN[p]}", ("color", "position")), (f"{zp}有{zc}的东西", ("color", "position")),
    ]


def _shape_bank(attrs: dict, rng, reword: float) -> list[tuple[str, list[str]]]:
    """An image's 18 true captions: (text, the factors it asserts). Each caption that names the
    position says it another way (`reword_position`) with chance `reword`, drawn from `rng` (numpy)."""
    from ..data import shape_caption
    from ..data.shapes import _CAPTIONS_EN

    out = []
    for t, template in enumerate(_CAPTIONS_EN):
        asserted = ["shape", "color", "position"]
        if "a_full" in template:
            asserted.append("size")
        if "bg" in template:
            asserted.append("background")
        caption = shape_caption(attrs, t)
        out += [(caption["en"], asserted), (caption["zh"], asserted)]
    out += [(text, list(factors)) for text, factors in _shape_partials(attrs)]
    if reword > 0:
        out = [(reword_position(text, attrs["position"], _lang_of(text), int(rng.integers(1 << 20)))
                if "position" in asserted and rng.random() < reword else text, asserted) for text, asserted in out]
    return out


def image_attrs(source: int, attrs: dict | None = None, digit: int = -1) -> list[int]:
    if source == SOURCE_MNIST:
        return [SOURCE_MNIST, digit, -1, -1, -1, -1, -1]
    return [SOURCE_SHAPES, -1] + [attrs[f"{f}_id"] for f in ATTRS[2:]]


def caption_bank(mnist=None, shapes=None, *, reword: float = REWORD,
                 seed: int = 0) -> tuple[list[list[str]], torch.Tensor, torch.Tensor]:
    """-> (captions (N lists of CAPTION_VARIANTS texts), requirements long (N, V, 7), attrs long (N, 7)).

    Images are ordered MNIST first, then shapes. A shapes caption says its position another way
    than the data set does (`POSITION_WORDINGS`) with chance `reword`, drawn from `seed`."""
    import numpy as np

    rng = np.random.default_rng([seed, 7])
    texts, reqs, attrs = [], [], []
    if mnist is not None:
        for digit in mnist.labels.tolist():
            bank = [digit_caption(digit, t) for t in DIGIT_TEMPLATES_EN + DIGIT_TEMPLATES_ZH]
            bank = (bank * 2)[:CAPTION_VARIANTS]
            texts.append(bank)
            req = image_attrs(SOURCE_MNIST, digit=digit)
            reqs.append([req] * CAPTION_VARIANTS)
            attrs.append(req)
    if shapes is not None:
        for a in shapes.attrs:
            bank = _shape_bank(a, rng, reword)
            assert len(bank) == CAPTION_VARIANTS
            full = image_attrs(SOURCE_SHAPES, a)
            texts.append([t for t, _ in bank])
            reqs.append([[SOURCE_SHAPES, -1] + [full[2 + k] if f in asserted else -1 for k, f in enumerate(ATTRS[2:])]
                         for _, asserted in bank])
            attrs.append(full)
    return texts, torch.tensor(reqs, dtype=torch.long), torch.tensor(attrs, dtype=torch.long)


def training_images(mnist=None, shapes=None, size: int = 32) -> torch.Tensor:
    """uint8 (N, 3, size, size): MNIST (grey repeated to RGB) then shapes, in `caption_bank` order."""
    from ..data import resize_batch

    parts = []
    for s in (mnist, shapes):
        if s is None:
            continue
        x = s.images if s.images.shape[-1] == size else resize_batch(s.images, size)
        parts.append(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)
    return torch.cat(parts).contiguous()


# Hard negatives: per shapes image and step, captions that are false of it in exactly one factor
# ("a red square in the centre" for a red circle there). Without them a batch is told apart by
# colour and position alone (8 x 9 combinations for 128 images) and the image tower never has to
# learn the shape; with them it must (NegCLIP, Yuksekgonul et al. 2023, does the same for word order).
HARD_NEGATIVE_FACTORS = ("shape", "shape", "shape|color|position")


def _template_asserts() -> list[list[str]]:
    from ..data.shapes import _CAPTIONS_EN

    return [["shape", "color", "position"] + (["size"] if "a_full" in t else []) + (["background"] if "bg" in t else [])
            for t in _CAPTIONS_EN]


def hard_negatives(have: torch.Tensor, draws: torch.Tensor, reword: float = REWORD) -> tuple[list[str], torch.Tensor]:
    """Captions false of shapes images in one factor each, their position said another way with
    chance `reword` (as the true captions are, so the wording never tells a false one).

    have: long (B, 7) image attributes (`ATTRS`); draws: long (B, len(HARD_NEGATIVE_FACTORS), 4)
    non-negative random integers. -> (texts, requirements long (K, 7)); MNIST rows give none."""
    from ..data import FACTORS, shape_caption

    asserts = _template_asserts()
    names = ATTRS[2:]  # shape, color, position, size, background
    texts, reqs = [], []
    for row, draw in zip(have.tolist(), draws.tolist()):
        if row[0] != SOURCE_SHAPES:
            continue
        for spec, (r_factor, r_value, r_template, r_lang) in zip(HARD_NEGATIVE_FACTORS, draw):
            options = spec.split("|")
            factor = options[r_factor % len(options)]
            k = 2 + names.index(factor)
            value = (row[k] + 1 + r_value % (len(FACTORS[factor]) - 1)) % len(FACTORS[factor])  # never its own
            ids = list(row)
            ids[k] = value
            attrs = {f: FACTORS[f][ids[2 + i]] for i, f in enumerate(names)}
            template = r_template % len(asserts)
            lang = "en" if r_lang % 2 == 0 else "zh"
            text = shape_caption(attrs, template)[lang]
            if (r_lang >> 1) % 1000 < reword * 1000:
                text = reword_position(text, attrs["position"], lang, r_lang >> 11)
            texts.append(text)
            reqs.append([SOURCE_SHAPES, -1] + [ids[2 + i] if f in asserts[template] else -1 for i, f in enumerate(names)])
    return texts, torch.tensor(reqs, dtype=torch.long).view(-1, len(ATTRS))


def make_loss(config: Config, texts: list[list[str]], reqs: torch.Tensor, attrs: torch.Tensor, *,
              noise: float = 0.08, negatives: bool = False, reword: float = REWORD, blur: float = 0.0, x0_from=None,
              x0_share: float = 0.5, x0_tmax: float = 0.7):
    """The trainer's loss: batch["y"] indexes the caption bank; one caption per image per step,
    plus (negatives=True) `HARD_NEGATIVE_FACTORS` hard-negative captions per shapes image.
    Off by default. When its random draws came from `gen` (after the caption pick, before the
    pixel noise), a short studio run on MNIST alone (no shapes image, so no extra caption) stayed
    at chance (loss ln B for 3 seeds out of 3, against ln B - 0.4 without), and a CLIP continued
    with it lost digit accuracy through the VAE (93% -> 83%). Why is not understood yet; the
    draws now come from their own generator, with which those runs learn as without negatives.

    noise: half the images get Gaussian pixel noise of a random sigma up to this, so the image
    tower does not hang on exact pixel values (which also makes its gradient a better guide).
    blur: half the images are blurred by a Gaussian of a random sigma up to this (pixels at
    32x32), so the tower also reads the blurry predicted clean image x0 of a diffusion model's
    early steps, which is what CLIP guidance of the DDPM shows it. 0: off.
    x0_from: a diffusion engine for `shapes` (the one guidance steers), or None. Then x0_share
    of the shapes images are replaced by what that model predicts them to be from a noised copy:
    x_t = q(x_t | x), t uniform below x0_tmax T, and x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar)
    with the model's eps, under the image's own captions. This is exactly the kind of image
    CLIP guidance of that DDPM shows the tower (a "noise-aware" CLIP, as GLIDE trained one on
    noised images), so it learns to read the shape in them, not only in clean renders.
    No crops or flips: they would change what "in the top left corner" means.
    """
    v = len(texts[0])
    flat = [t for bank in texts for t in bank]
    ids = tokenizer.tokenize(flat, config.context_length, pad_to=config.context_length)
    bank = ids.view(len(texts), v, -1).to(torch.int16)  # (N, V, L), 2 bytes a token

    def loss_fn(model, batch: dict, gen: torch.Generator, step: int):
        x, idx = batch["x"], batch["y"]  # (B, 3, H, W) in [0, 1], (B,) indices into the bank
        dev = x.device
        b = len(idx)
        pick = torch.randint(v, (b,), generator=gen, device=dev)
        cpu_idx, cpu_pick = idx.cpu(), pick.cpu()
        text = bank[cpu_idx, cpu_pick].long()  # (B, L)
        req = reqs[cpu_idx, cpu_pick]  # (B, 7) what each caption asserts
        have = attrs[cpu_idx]  # (B, 7) what each image is
        if negatives:
            text, req = _add_negatives(config, text, req, have, step * 1_000_003 + int(cpu_idx.sum()), reword)
        req, have = req.to(dev), have.to(dev)
        positives = ((req[:, None] == -1) | (req[:, None] == have[None])).all(-1)  # [text i, image j]
        if x0_from is not None:
            x = _x0_views(x0_from, x, have[:, 0].to(dev) == SOURCE_SHAPES, gen, x0_share, x0_tmax)
        x = _blur_and_noise(x, gen, blur, noise)
        image_emb = model.encode_image(to_tower_input(x, config.image_size), normalize=True)
        text_emb = encode_bucketed(model, text).to(dev)
        loss = contrastive_loss(image_emb, text_emb, model.logit_scale, positives)
        with torch.no_grad():
            logits = image_emb @ text_emb.t()  # (B, T)
            hit = positives.t()[torch.arange(b, device=dev), logits.argmax(1)].float().mean()
        return loss, {"i2t_acc": hit, "temperature": (-model.logit_scale.detach()).exp()}

    return loss_fn


def _add_negatives(config: Config, text: torch.Tensor, req: torch.Tensor, have: torch.Tensor, seed: int,
                   reword: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch's captions (B, L) and what they assert (B, 7), with each shapes image's hard
    negatives appended. Their draws come from their own generator, seeded by the step and the
    batch: drawn from the trainer's, the run did not learn (see make_loss)."""
    side = torch.Generator().manual_seed(seed)
    draws = torch.randint(1 << 20, (len(have), len(HARD_NEGATIVE_FACTORS), 4), generator=side)
    neg_texts, neg_req = hard_negatives(have, draws, reword)
    if not neg_texts:
        return text, req
    ids = tokenizer.tokenize(neg_texts, config.context_length, pad_to=config.context_length)
    return torch.cat([text, ids]), torch.cat([req, neg_req])


def _blur_and_noise(x: torch.Tensor, gen: torch.Generator, blur: float, noise: float) -> torch.Tensor:
    """x (B, 3, H, W) in [0, 1]: about half the images blurred (sigma uniform up to `blur` px), then
    about half given Gaussian pixel noise (sigma uniform up to `noise`); 0 turns either off."""
    b, dev = len(x), x.device
    if blur:
        sigma = torch.rand(b, generator=gen, device=dev) * blur
        x = blur_each(x, sigma * (torch.rand(b, generator=gen, device=dev) < 0.5), blur)
    if noise:
        sigma = torch.rand(b, 1, 1, 1, generator=gen, device=dev) * noise
        sigma = sigma * (torch.rand(b, 1, 1, 1, generator=gen, device=dev) < 0.5)
        x = (x + sigma * torch.randn(x.shape, generator=gen, device=dev)).clamp(0, 1)
    return x


@torch.no_grad()
def _x0_views(engine, x: torch.Tensor, eligible: torch.Tensor, gen: torch.Generator, share: float,
              tmax: float) -> torch.Tensor:
    """x (B, 3, H, W) in [0, 1] -> the same with a random `share` of the `eligible` images replaced
    by the engine's predicted x_0 from a noised copy at a random t < tmax T (see make_loss)."""
    from ..diffusion.process import to_unit

    dev = x.device
    pick = eligible & (torch.rand(len(x), generator=gen, device=dev) < share)
    if not bool(pick.any()):
        return x
    process, model = engine.process, engine.model
    x0 = x[pick].to(engine.device) * 2 - 1
    t = (torch.rand(len(x0), generator=gen, device=dev) * tmax * process.T).long().to(engine.device)
    noise = torch.randn(x0.shape, generator=gen, device=dev).to(engine.device)
    xt = process.q_sample(x0, t, noise)
    pred = process.predict_x0(xt, t, process.eps(model, xt, t)).clamp(-1, 1)
    x = x.clone()
    x[pick] = to_unit(pred).to(dev, x.dtype)
    return x


def blur_each(x: torch.Tensor, sigma: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Blur each image of x (B, C, H, W) by its own Gaussian, sigma (B,) in pixels (0: unchanged),
    separably, reflecting at the edges. Kernels reach 3 * max_sigma pixels (at most side / 2 - 1)."""
    r = max(1, min(math.ceil(3 * max_sigma), x.shape[-1] // 2 - 1, x.shape[-2] // 2 - 1))
    d = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    w = torch.exp(-0.5 * (d[None] / sigma.to(x.dtype).clamp_min(1e-3)[:, None]) ** 2)  # (B, 2r + 1)
    w = (w / w.sum(1, keepdim=True))[:, None, None, None, :]
    x = (F.pad(x, (r, r, 0, 0), mode="reflect").unfold(3, 2 * r + 1, 1) * w).sum(-1)  # along W
    return (F.pad(x, (0, 0, r, r), mode="reflect").unfold(2, 2 * r + 1, 1) * w).sum(-1)  # along H


def encode_bucketed(model, text: torch.Tensor, buckets: int = 2) -> torch.Tensor:
    """Texts (K, L) padded ids -> (K, D) normalised embeddings, run in `buckets` groups of similar
    length, each cut to its own longest text: short digit captions do not pay for long shape ones.
    The same numbers as one padded batch (padding never reaches a real token)."""
    lengths = (text != tokenizer.PAD).sum(1)
    order = lengths.argsort()
    parts = []
    for chunk in order.chunk(buckets):
        t = text[chunk]
        parts.append(model.encode_text(t[:, :int(lengths[chunk].max())].to(next(model.parameters()).device),
                                       normalize=True))
    out = torch.cat(parts)
    return out[order.argsort().to(out.device)]


# ------------------------------------------------------------------------------------------------
# Zero-shot accuracy on held-out images
# ------------------------------------------------------------------------------------------------

SHAPE_PROMPT_EN = "{a_color} {shape} {pos}"
SHAPE_PROMPT_ZH = "{pos}的{color}{shape}"


def shape_prompt(shape: str, color: str, position: str, lang: str = "en") -> str:
    from ..data import FACTOR_ZH
    from ..data.shapes import _POSITION_EN, _a

    if lang == "zh":
        return SHAPE_PROMPT_ZH.format(pos=FACTOR_ZH["position"][position], color=FACTOR_ZH["color"][color],
                                      shape=FACTOR_ZH["shape"][shape])
    return SHAPE_PROMPT_EN.format(a_color=_a(color), shape=shape, pos=_POSITION_EN[position])


def contrast_captions(mnist: bool = True, shapes: bool = True) -> list[str]:
    """The captions a GenLab CLIP's world has: every digit in every template, every colour x shape x
    position in the zero-shot prompt form; English and Chinese."""
    from ..data import COLORS, POSITIONS, SHAPES

    out = []
    if mnist:
        out += [digit_caption(d, t) for t in DIGIT_TEMPLATES_EN + DIGIT_TEMPLATES_ZH for d in range(10)]
    if shapes:
        out += [shape_prompt(s, c, p, lang) for lang in ("en", "zh") for s in SHAPES for c in COLORS
                for p in POSITIONS]
    return list(dict.fromkeys(out))


@torch.no_grad()
def _embed_images(model, config: Config, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, D), `batch` images at a time."""
    dev = next(model.parameters()).device
    return torch.cat([encode_images(model, images[i:i + batch].to(dev).float() / 255, config)
                      for i in range(0, len(images), batch)])


@torch.no_grad()
def zero_shot_digits(model, config: Config, mnist, lang: str) -> float:
    """10-way accuracy: each class's embedding is the mean over the language's caption templates."""
    templates = DIGIT_TEMPLATES_EN if lang == "en" else DIGIT_TEMPLATES_ZH
    classes = []
    for d in range(10):
        e = encode_texts(model, [digit_caption(d, t) for t in templates], config).mean(0)
        classes.append(e / e.norm())
    img = _embed_images(model, config, training_images(mnist, None, config.image_size))
    pred = (img @ torch.stack(classes).t()).argmax(1).cpu()
    return float((pred == mnist.labels).float().mean())


@torch.no_grad()
def zero_shot_shapes(model, config: Config, shapes, lang: str, reworded: bool = False, *,
                     img: torch.Tensor | None = None) -> dict[str, float]:
    """Colour, shape and position, each a k-way choice among prompts that keep the other two
    factors at their true values ("a red circle in the top left corner" vs "a blue circle ...").
    reworded: every prompt for image i says the position in wording i of the others
    (`reword_position`: "a red circle in the top left", "a red circle upper left", ...).
    img: the images' embeddings (N, D) when the caller has them already."""
    from ..data import COLORS, POSITIONS, SHAPES

    if img is None:
        img = _embed_images(model, config, shapes.images)
    choices = {"color": tuple(COLORS), "shape": SHAPES, "position": POSITIONS}
    cache: dict[str, torch.Tensor] = {}

    def emb(texts):
        missing = [t for t in texts if t not in cache]
        if missing:
            for t, e in zip(missing, encode_texts(model, missing, config)):
                cache[t] = e
        return torch.stack([cache[t] for t in texts])

    result = {}
    for factor, options in choices.items():
        hits = 0
        for i, a in enumerate(shapes.attrs):
            asked = [{"shape": a["shape"], "color": a["color"], "position": a["position"], factor: o} for o in options]
            prompts = [shape_prompt(**q, lang=lang) for q in asked]
            if reworded:
                prompts = [reword_position(t, q["position"], lang, i) for t, q in zip(prompts, asked)]
            hits += int(options[int((emb(prompts) @ img[i]).argmax())] == a[factor])
        result[factor] = hits / len(shapes.attrs)
    return result


@torch.no_grad()
def zero_shot(model, config: Config, mnist=None, shapes=None) -> dict:
    model.eval()
    out = {}
    if mnist is not None:
        out["digits"] = {lang: round(zero_shot_digits(model, config, mnist, lang), 4) for lang in ("en", "zh")}
    if shapes is not None:
        img = _embed_images(model, config, shapes.images)  # (N, D), once for both languages and wordings
        for key, reworded in (("shapes", False), ("shapes_reworded", True)):
            out[key] = {lang: {k: round(v, 4) for k, v in
                               zero_shot_shapes(model, config, shapes, lang, reworded, img=img).items()}
                        for lang in ("en", "zh")}
    return out


TOKENIZER_NOTE = ("UTF-8 bytes: ids 1-256 = byte + 1, 257 start, 258 end (pooled), 0 padding; text NFKC-normalised, "
                  "lower-cased, whitespace collapsed; at most context_length - 2 bytes (a Chinese character is 3), "
                  "longer text cut at a character boundary")
CAPTIONS_NOTE = ("each step draws one of 18 true captions per image. Digits: 8 English templates ('a handwritten "
                 "seven', 'the digit 7', ...) and 8 Chinese ('数字七', '手写的 7', ...). Shapes: the data set's 6 "
                 "caption templates in English and Chinese plus 6 short ones naming two of shape, colour, position "
                 "('a red circle', '左上角的圆形'); half of those naming the position say it another way ('in the top left', "
                 "'upper left', '左上方'), and so do half the hard negatives. A caption counts as matching every image in "
                 "the batch it is true of")
ZERO_SHOT_NOTE = ("zero-shot accuracy on held-out images. Digits: 10-way, each class the mean embedding of its "
                  "language's 8 templates. Shapes: colour (8-way), shape (8-way) and position (9-way), each a choice "
                  "among prompts 'a red circle in the top left corner' / '左上角的红色圆形' that keep the other two "
                  "factors true; chance is 0.125 / 0.125 / 0.111. shapes_reworded: the same with the position said "
                  "another way, a different one image by image ('in the top left', 'upper left', '左上方', ...)")

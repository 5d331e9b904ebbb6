"""The Overview tab's strings (English, Chinese), added to demo.i18n.STRINGS at import, and the
cells made from committed benchmark results (`measured`, called when the tab is built). Terms
follow ../shared/GLOSSARY.md (生成模型, 判别模型, 自编码器, 变分自编码器, 生成对抗网络, 扩散模型,
自回归模型, 潜在空间, 先验分布, 证据下界, 模式崩溃, 训练不稳定, 采样质量 / 多样性 / 采样速度)."""

from __future__ import annotations

from .i18n import STRINGS

# The families' rows, in the order of the course; each names the tab (and sub-tab) it opens.
ROWS = ("ae", "vae", "gan", "diffusion", "pixelcnn", "vq", "ldm")
# Row -> the tab buttons its button clicks, outermost first (each gr.Tab's elem_id; its button is "<id>-button").
TARGETS = {"ae": ("vae-tab", "vae-tab-ae"), "vae": ("vae-tab",), "gan": ("gan-tab",),
           "diffusion": ("diffusion-tab",), "pixelcnn": ("ar-tab", "pixelcnn-part"), "vq": ("ar-tab", "vq-part"),
           "ldm": ("ldm-tab",), "metrics": ("metrics-tab",)}

OVERVIEW_STRINGS: dict[str, tuple[str, str]] = {
    "overview.tab": ("Overview", "总览"),
    "overview.intro": (
        "## Start here\n"
        "GenLab lets you take apart small image **generative models** trained on handwritten digits: move their "
        "latent vectors, watch them denoise, sample them pixel by pixel, steer them with text. This page is the "
        "map: what the families have in common, where they differ, and which tab shows each one.",
        "## 从这里开始\n"
        "GenLab 让你拆开一些在手写数字上训练的小型图像**生成模型**来看：拖动它们的潜在向量、观察去噪过程、"
        "逐像素采样、用文字引导生成。本页是一张地图：这些模型族有什么共同点、区别在哪里、每一种在哪个标签页里。",
    ),
    "overview.kinds.title": ("Generative or discriminative?", "生成模型还是判别模型？"),
    "overview.kinds": (
        "A **discriminative model** learns p(y | x): given an image x, which label y? The MNIST classifier "
        "that the Metrics tab uses is one; it can tell digits apart but cannot draw one. A **generative model** "
        "learns p(x) (or p(x | y) for a chosen label): a distribution over images themselves, so it can "
        "**sample** new images that look like the training data, and some can also say how likely an image is.",
        "**判别模型**学习 p(y | x)：给定图像 x，标签 y 是什么？“评估指标”标签页使用的 MNIST 分类器就是一个判别模型："
        "它能区分数字，却画不出数字。**生成模型**学习 p(x)（或指定标签时的 p(x | y)）：图像本身的分布，"
        "因此可以**采样**出与训练数据相似的新图像，其中一些还能给出某张图像的可能性有多大。",
    ),
    "overview.density.title": ("Explicit or implicit density?", "显式密度还是隐式密度？"),
    "overview.density": (
        "An **explicit** model writes p(x) down: exactly, as a product of one conditional per pixel "
        "(autoregressive models), or as a lower bound, the ELBO (VAEs; diffusion models' variational bound). "
        "You can then score any image, compare models by log-likelihood and train by maximising it. An "
        "**implicit** model only gives a sampler: a GAN's generator maps noise to images, and its density is "
        "never written down; it is trained against a discriminator instead, and judged by its samples (FID, "
        "precision / recall in the Metrics tab).",
        "**显式**模型把 p(x) 写出来：要么精确地写成逐像素条件分布的乘积（自回归模型），要么写成一个下界，"
        "即证据下界 ELBO（VAE；扩散模型的变分下界）。这样就能给任意图像打分、按对数似然比较模型，"
        "并通过最大化它来训练。**隐式**模型只提供一个采样器：GAN 的生成器把噪声映射成图像，"
        "其密度从不写出；它通过与判别器对抗来训练，并以样本来评判（“评估指标”标签页中的 FID、精确率 / 召回率）。",
    ),
    "overview.table.title": ("The families side by side", "模型族对照"),
    "overview.table.note": (
        "Speeds are measured: sampling only, ms per MNIST image on the shared 2-core CPU, from the committed "
        "result `{file}`. Everything else is qualitative.",
        "速度是实测值：仅采样，在共享的 2 核 CPU 上每张 MNIST 图像的毫秒数，来自已提交的结果文件 `{file}`。"
        "其余各列为定性描述。",
    ),
    "overview.table.none": ("No committed speed result: speeds are qualitative.",
                            "没有已提交的速度结果：速度为定性描述。"),
    "overview.col.family": ("Family", "模型族"),
    "overview.col.likelihood": ("Likelihood p(x)", "似然 p(x)"),
    "overview.col.speed": ("Sampling speed", "采样速度"),
    "overview.col.latent": ("Latent space", "潜在空间"),
    "overview.col.stability": ("Training", "训练"),
    "overview.open": ("Open →", "打开 →"),
    # autoencoder
    "overview.ae.name": ("**Autoencoder** (not generative)", "**自编码器**（不是生成模型）"),
    "overview.ae.likelihood": ("None: reconstruction loss only", "无：只有重构损失"),
    "overview.ae.speed": ("One decoder pass, but no prior to draw z from: N(0, I) misses most of its codes",
                          "一次解码器前向，但没有可采样 z 的先验：N(0, I) 覆盖不到它的大部分编码"),
    "overview.ae.latent": ("Low-dim codes, unstructured", "低维编码，无结构约束"),
    "overview.ae.stability": ("Stable", "稳定"),
    # VAE
    "overview.vae.name": ("**VAE**", "**变分自编码器（VAE）**"),
    "overview.vae.likelihood": ("Explicit, a lower bound (ELBO)", "显式，下界（证据下界 ELBO）"),
    "overview.vae.speed": ("Fast: one decoder pass", "快：一次解码器前向"),
    "overview.vae.latent": ("Low-dim z with prior N(0, I)", "低维 z，先验分布 N(0, I)"),
    "overview.vae.stability": ("Stable (one loss); samples blurry", "稳定（单一损失）；样本偏模糊"),
    # GAN
    "overview.gan.name": ("**GAN** (StyleGAN)", "**生成对抗网络**（StyleGAN）"),
    "overview.gan.likelihood": ("Implicit: none", "隐式：无"),
    "overview.gan.speed": ("Fast: one generator pass", "快：一次生成器前向"),
    "overview.gan.latent": ("z, and StyleGAN's w per layer", "z，以及 StyleGAN 每层的 w"),
    "overview.gan.stability": ("Adversarial: unstable, mode collapse", "对抗训练：训练不稳定，模式崩溃"),
    # diffusion
    "overview.diffusion.name": ("**Diffusion** (DDPM)", "**扩散模型**（DDPM）"),
    "overview.diffusion.likelihood": ("Explicit, a variational bound", "显式，变分下界"),
    "overview.diffusion.speed": ("Slow: one network pass per denoising step", "慢：每个去噪步一次网络前向"),
    "overview.diffusion.latent": ("x_T, as large as the image (DDIM: deterministic)",
                                  "x_T，与图像同样大小（DDIM：确定性）"),
    "overview.diffusion.stability": ("Stable (regression on the noise)", "稳定（对噪声做回归）"),
    # PixelCNN
    "overview.pixelcnn.name": ("**Autoregressive** (PixelCNN)", "**自回归模型**（PixelCNN）"),
    "overview.pixelcnn.likelihood": ("Explicit, exact", "显式，精确"),
    "overview.pixelcnn.speed": ("Slow: one pass per pixel", "慢：每个像素一次前向"),
    "overview.pixelcnn.latent": ("None", "无"),
    "overview.pixelcnn.stability": ("Stable (cross-entropy)", "稳定（交叉熵）"),
    # VQ-VAE
    "overview.vq.name": ("**VQ-VAE + prior**", "**VQ-VAE + 先验**"),
    "overview.vq.likelihood": ("Explicit, exact over the tokens", "显式，在 token 上精确"),
    "overview.vq.speed": ("Medium: one pass per token (7×7), then a decoder pass",
                          "中等：每个 token（7×7）一次前向，再一次解码"),
    "overview.vq.latent": ("A grid of discrete codes (codebook)", "离散编码网格（码本）"),
    "overview.vq.stability": ("Stable (two stages)", "稳定（两阶段）"),
    # latent diffusion
    "overview.ldm.name": ("**Latent diffusion** (text to image)", "**潜在扩散模型**（文生图）"),
    "overview.ldm.likelihood": ("Explicit, a variational bound on the latent", "显式，潜在变量上的变分下界"),
    "overview.ldm.speed": ("Diffusion steps on a small latent: each costs a fraction of a pixel UNet's step",
                           "在小的潜在变量上做扩散：每一步只需像素空间 U-Net 一步的一小部分计算"),
    "overview.ldm.latent": ("An autoencoder's 4×16×16 latent; the text steers it through cross-attention",
                            "自编码器的 4×16×16 潜在变量；文字通过交叉注意力引导它"),
    "overview.ldm.stability": ("Stable (two stages: autoencoder, then UNet and text encoder)",
                               "稳定（两阶段：先自编码器，再 U-Net 与文本编码器）"),
    "overview.measured": ("{what} · **{ms}** ms / image", "{what} · **{ms}** 毫秒 / 张"),
    # the trilemma
    "overview.trilemma.title": ("The trilemma", "生成模型的“三难困境”"),
    "overview.trilemma": (
        "Every family trades three things: **sample quality**, **diversity** (covering all the data, "
        "not a few modes) and **sampling speed**. Xiao et al. (2022) called it the generative learning "
        "trilemma: GANs are fast and sharp but tend to drop modes; VAEs are fast and cover the data but are "
        "blurry; diffusion models are sharp and diverse but need many network passes per sample.",
        "每个模型族都要在三件事之间取舍：**采样质量**、**多样性**（覆盖整个数据分布，而不只是几个模式）"
        "和**采样速度**。Xiao 等人（2022）称之为生成学习的三难困境：GAN 又快又清晰，却容易丢掉模式；"
        "VAE 快且覆盖数据，但样本模糊；扩散模型清晰又多样，但每个样本需要多次网络前向。",
    ),
    "overview.trilemma.head": ("| model | FID ↓ (quality) | recall ↑ (diversity) | ms / image ↓ (speed) |",
                               "| 模型 | FID ↓（质量） | 召回率 ↑（多样性） | 毫秒 / 张 ↓（速度） |"),
    "overview.trilemma.source": (
        "Measured on our MNIST models (`{file}`, N = {n} samples each, FID and recall in the MNIST "
        "classifier's feature space, {hardware}). The StyleGAN has the best FID and the least recall; the "
        "DDPM the most recall at by far the most time. With models this small the corners are not sharp: "
        "the VAE's FID is close to the DDPM's at a small fraction of its time. The Metrics tab lists every "
        "model and recomputes them.",
        "在我们的 MNIST 模型上测得（`{file}`，每个模型 N = {n} 个样本，FID 与召回率在 MNIST 分类器的特征空间中计算，"
        "{hardware}）。StyleGAN 的 FID 最好、召回率最低；DDPM 召回率最高，用时也远远最长。"
        "模型这么小时，三个角并不分明：VAE 的 FID 与 DDPM 相近，用时却只是它的零头。"
        "“评估指标”标签页列出全部模型并可重新计算。",
    ),
    "overview.trilemma.none": ("No committed trilemma result yet (run `python -m benchmarks.trilemma`).",
                               "尚无已提交的三难困境结果（运行 `python -m benchmarks.trilemma`）。"),
    "overview.holes": (
        "Sampling z ~ N(0, I) through the autoencoder and the VAE (`{file}`, {n} draws each): the MNIST "
        "classifier is at least 90% sure of **{ae:.0%}** of the autoencoder's samples and **{vae:.0%}** of "
        "the VAE's; it calls {ae_top:.0%} of the autoencoder's samples a {ae_digit}, while no digit gets more "
        "than {vae_top:.0%} of the VAE's.",
        "通过自编码器和 VAE 解码 z ~ N(0, I)（`{file}`，各 {n} 次采样）：MNIST 分类器对自编码器样本中的 "
        "**{ae:.0%}**、VAE 样本中的 **{vae:.0%}** 有至少 90% 的把握；它把自编码器样本的 {ae_top:.0%} 判为 "
        "{ae_digit}，而 VAE 的样本中没有哪个数字超过 {vae_top:.0%}。",
    ),
    "overview.open.metrics": ("Open the Metrics tab →", "打开“评估指标”标签页 →"),
    "overview.next.title": ("A path through the course", "学习路线"),
    "overview.next": (
        "1. **2-D playground**: GAN, VAE and diffusion on 2-D points you draw, where every step can be seen.\n"
        "2. **Autoencoder vs VAE** (in the VAE tab): why a generative model needs a prior.\n"
        "3. **VAE**: interpolation, latent sliders, the 2-D map, reconstructions and β.\n"
        "4. **GAN**: StyleGAN's style mixing, truncation, noise and layers.\n"
        "5. **Diffusion**: the forward process, denoising step by step, DDIM.\n"
        "6. **Autoregressive**: PixelCNN pixel by pixel; VQ-VAE tokens and their prior.\n"
        "7. **CLIP**: steering the generators with text.\n"
        "8. **Text to image (LDM)**: latent diffusion, a text encoder and cross-attention.\n"
        "9. **Metrics**: FID, precision / recall and the trilemma, measured.\n"
        "10. **Train**: train a small model of any family yourself.",
        "1. **二维演练场**：在你画的二维点上训练 GAN、VAE 和扩散模型，每一步都看得见。\n"
        "2. **自编码器 vs VAE**（在 VAE 标签页中）：为什么生成模型需要先验分布。\n"
        "3. **VAE**：插值、潜在变量滑块、二维潜在空间、重构与 β。\n"
        "4. **GAN**：StyleGAN 的风格混合、截断技巧、噪声与各层。\n"
        "5. **扩散模型**：前向过程、逐步去噪、DDIM。\n"
        "6. **自回归模型**：PixelCNN 逐像素生成；VQ-VAE 的 token 及其先验。\n"
        "7. **CLIP**：用文字引导生成器。\n"
        "8. **文生图（潜在扩散）**：潜在扩散、文本编码器与交叉注意力。\n"
        "9. **评估指标**：FID、精确率 / 召回率与三难困境的实测。\n"
        "10. **训练工作室**：自己训练任一模型族的小模型。",
    ),
}

STRINGS.update(OVERVIEW_STRINGS)

# Which committed trilemma row gives each family's measured speed (labels as in the result file).
SPEED_ROWS = {"vae": ("mnist-vae-z16",), "gan": ("mnist-stylegan",),
              "diffusion": ("mnist-ddpm DDIM-10", "mnist-ddpm DDIM-25"), "pixelcnn": ("mnist-pixelcnn",),
              "vq": ("mnist-vqvae prior",)}
TRILEMMA_ROWS = ("mnist-vae-z16", "mnist-stylegan", "mnist-ddpm DDIM-25")


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def measured(trilemma: tuple[str, dict] | None, holes: tuple[str, dict] | None) -> dict[str, tuple[str, str]]:
    """The cells made from committed results: (file name, its JSON) of the newest trilemma and
    ae_holes results, either None -> string keys with both languages (qualitative where missing)."""
    out = {}
    rows = {r["label"]: r for r in trilemma[1]["rows"]} if trilemma else {}
    for family, labels in SPEED_ROWS.items():
        en, zh = OVERVIEW_STRINGS[f"overview.{family}.speed"]
        found = [(label.split()[-1] if "DDIM" in label else "", rows[label]["ms_per_image"])
                 for label in labels if label in rows]
        if found:
            ms = " / ".join(_ms(v) for _, v in found)
            steps = " / ".join(k for k, _ in found if k)
            ms_en, ms_zh = OVERVIEW_STRINGS["overview.measured"]
            what_en = en + (f" ({steps})" if steps else "")
            what_zh = zh + (f"（{steps}）" if steps else "")
            en, zh = ms_en.format(what=what_en, ms=ms), ms_zh.format(what=what_zh, ms=ms)
        out[f"overview.{family}.speed.shown"] = (en, zh)
    out["overview.ae.speed.shown"] = OVERVIEW_STRINGS["overview.ae.speed"]
    out["overview.ldm.speed.shown"] = OVERVIEW_STRINGS["overview.ldm.speed"]
    out["overview.table.shown"] = _source("overview.table.note", "overview.table.none", trilemma)
    out["overview.trilemma.shown"] = _trilemma_table(trilemma, rows)
    out["overview.holes.shown"] = _holes(holes)
    return out


def _source(key: str, none_key: str, result) -> tuple[str, str]:
    if result is None:
        return OVERVIEW_STRINGS[none_key]
    en, zh = OVERVIEW_STRINGS[key]
    return en.format(file=f"benchmarks/results/{result[0]}"), zh.format(file=f"benchmarks/results/{result[0]}")


def _trilemma_table(trilemma, rows: dict) -> tuple[str, str]:
    if trilemma is None or not all(label in rows for label in TRILEMMA_ROWS):
        return OVERVIEW_STRINGS["overview.trilemma.none"]
    body = [f"| {label} | {rows[label]['fid']:.0f} | {rows[label]['recall']:.2f} | "
            f"{_ms(rows[label]['ms_per_image'])} |" for label in TRILEMMA_ROWS]
    name, data = trilemma
    params = {"file": f"benchmarks/results/{name}", "n": data.get("n", "?"), "hardware": data.get("hardware", "")}
    head_en, head_zh = OVERVIEW_STRINGS["overview.trilemma.head"]
    src_en, src_zh = OVERVIEW_STRINGS["overview.trilemma.source"]
    return ("\n".join([head_en, "|---|---|---|---|", *body, "", src_en.format(**params)]),
            "\n".join([head_zh, "|---|---|---|---|", *body, "", src_zh.format(**params)]))


def _holes(holes) -> tuple[str, str]:
    if holes is None:
        return "", ""
    name, data = holes
    en, zh = OVERVIEW_STRINGS["overview.holes"]
    counts = {side: data[side]["prior_samples"]["class_counts"] for side in ("ae", "vae")}
    params = {"file": f"benchmarks/results/{name}", "n": data["n"], "ae": data["ae"]["sure_fraction"],
              "vae": data["vae"]["sure_fraction"], "ae_digit": max(range(10), key=counts["ae"].__getitem__),
              "ae_top": max(counts["ae"]) / sum(counts["ae"]), "vae_top": max(counts["vae"]) / sum(counts["vae"])}
    return en.format(**params), zh.format(**params)

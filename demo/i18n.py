"""Every string the UI shows, in English and Chinese, and the live language switch.

`t(key, lang, **params)` looks a string up. A `Registry` remembers, at build time, which
component property shows which key (`reg(gr.Slider(...), label="vae.t", info="vae.t.info")`),
so that switching the language is one event whose outputs are all registered components.
Chinese terms follow ../shared/GLOSSARY.md.
"""

from __future__ import annotations

import gradio as gr

LANGS = ("en", "zh")
LANG_CHOICES = [("English", "en"), ("中文", "zh")]

# key -> (English, Chinese)
STRINGS: dict[str, tuple[str, str]] = {
    # --- app shell ------------------------------------------------------------------------------
    "app.tagline": (
        "See how image generative models work: move through their latent spaces, one model family per tab.",
        "看看图像生成模型如何工作：在它们的潜在空间中漫游，每个标签页介绍一类模型。",
    ),
    "app.lang": ("Language", "语言"),
    "error.title": ("Error", "出错了"),
    "error.unexpected": (
        "Something went wrong on the server (it has been logged). Please try again or change the input.",
        "服务器出错了（已记录日志）。请重试或更换输入。",
    ),
    # --- shared: models and uploads --------------------------------------------------------------
    "model.label": ("Model", "模型"),
    "model.info": ("Shipped checkpoints and the ones you uploaded in this session.",
                   "内置检查点，以及你在本会话中上传的检查点。"),
    "model.card": ("Model card", "模型卡片"),
    "model.upload": ("Upload a checkpoint", "上传检查点"),
    "model.upload.file": ("Checkpoint: a .zip of the folder, or config.json + model.safetensors + card.json",
                          "检查点：文件夹的 .zip，或 config.json + model.safetensors + card.json"),
    "model.upload.note": (
        "Only safetensors checkpoints are read; pickles (.pt, .pth, .ckpt) are refused. "
        "Your upload is visible only in this browser session and deleted when it ends.",
        "只读取 safetensors 检查点；pickle 文件（.pt、.pth、.ckpt）会被拒绝。"
        "上传的模型仅在当前浏览器会话中可见，会话结束后即被删除。",
    ),
    "model.upload.done": ("Loaded **{name}** ({family}, latent dimension {latent}). It is now selected.",
                          "已加载 **{name}**（{family}，潜在维度 {latent}），并已选中。"),
    "model.uploaded_suffix": (" (uploaded)", "（已上传）"),
    "card.dataset": ("Data set", "数据集"),
    "card.split": ("Split", "数据划分"),
    "card.steps": ("Training steps", "训练步数"),
    "card.wall": ("Wall time", "训练用时"),
    "card.hardware": ("Hardware", "硬件"),
    "card.elbo": ("Held-out negative ELBO", "留出集上的负 ELBO"),
    "card.config": ("Architecture", "结构"),
    "card.nats": ("nats per image (recon {recon}, KL {kl})", "奈特/图像（重构 {recon}，KL {kl}）"),
    "card.none": ("not given", "未提供"),
    # --- shared: image input pickers -------------------------------------------------------------
    "src.label": ("Source", "来源"),
    "src.example": ("Example", "示例"),
    "src.seed": ("Random z", "随机 z"),
    "src.upload": ("Upload", "上传"),
    "src.sketch": ("Draw", "手绘"),
    "src.example.label": ("Held-out example (class · index)", "留出集示例（类别 · 序号）"),
    "src.seed.label": ("Seed: z ~ N(0, I)", "随机种子：z ~ N(0, I)"),
    "src.upload.label": ("Your image", "你的图像"),
    "src.sketch.label": ("Draw a digit (pick the brush ✎ first)", "画一个数字（先选画笔 ✎）"),
    # --- VAE tab ---------------------------------------------------------------------------------
    "vae.tab": ("VAE", "变分自编码器 VAE"),
    "vae.intro": (
        "A **variational autoencoder** compresses an image into a small latent vector **z** (the "
        "encoder) and turns any **z** back into an image (the decoder). Pick a model, then explore.",
        "**变分自编码器**把图像压缩成一个很短的潜在向量 **z**（编码器），"
        "又能把任意 **z** 还原成图像（解码器）。选择一个模型，开始探索。",
    ),
    "vae.sub.interp": ("Interpolation", "潜在空间插值"),
    "vae.sub.sliders": ("Latent sliders", "潜在变量滑块"),
    "vae.sub.map": ("2-D latent map", "二维潜在空间图"),
    "vae.sub.recon": ("Reconstruction & β", "重构与 β"),
    "vae.sub.explain": ("How it works", "原理"),
    # interpolation
    "interp.help": (
        "Encode two endpoints A and B to latent vectors, then walk from one to the other: "
        "every point on the way is decoded into an image.",
        "把两个端点 A、B 编码为潜在向量，再从一个走到另一个：路上的每一点都被解码成一张图像。",
    ),
    "interp.a": ("Endpoint A", "端点 A"),
    "interp.b": ("Endpoint B", "端点 B"),
    "interp.a.image": ("A, decoded from its z", "A：由其 z 解码"),
    "interp.b.image": ("B, decoded from its z", "B：由其 z 解码"),
    "interp.t": ("t (0 = A, 1 = B)", "t（0 = A，1 = B）"),
    "interp.t.info": ("Drag: the image is decoded live.", "拖动滑块：图像实时解码。"),
    "interp.image": ("Decoded at t", "t 处的解码结果"),
    "interp.mode": ("Path", "路径"),
    "interp.mode.info": ("Spherical keeps |z| typical for N(0, I) along the way.",
                         "球面插值让路径上 |z| 保持在 N(0, I) 的典型范围。"),
    "interp.linear": ("Linear", "线性"),
    "interp.spherical": ("Spherical", "球面"),
    "interp.frames": ("Frames in the strip", "帧数"),
    "interp.strip": ("The whole path, A → B", "完整路径 A → B"),
    "interp.gif": ("Export GIF", "导出 GIF"),
    "interp.gif.file": ("GIF (A → B → A)", "GIF（A → B → A）"),
    # sliders
    "sliders.help.axes": (
        "One slider per latent dimension. The decoder turns the vector into the image on the right "
        "as you drag. 0 everywhere is the prior mean.",
        "每个潜在维度一个滑块。拖动时，解码器会把这个向量实时变成右边的图像。全部为 0 即先验分布的均值。",
    ),
    "sliders.help.pca": (
        "This model has {latent} latent dimensions, more than sliders fit, so the sliders move along the "
        "16 principal directions of the encoded data (PC1 spreads the most), in standard deviations, "
        "starting from the data mean.",
        "该模型有 {latent} 个潜在维度，滑块放不下，因此滑块沿编码数据的 16 个主方向移动"
        "（PC1 方差最大），单位为标准差，起点为数据均值。",
    ),
    "sliders.image": ("Decoded image", "解码图像"),
    "sliders.reset": ("Reset (prior mean)", "重置（先验均值）"),
    "sliders.random": ("Random z", "随机 z"),
    "sliders.seed": ("Seed", "随机种子"),
    "sliders.from_input": ("Start from this input", "从该输入开始"),
    "sliders.from_input.help": ("Encode an image and put the sliders at its posterior mean μ.",
                                "编码一张图像，把滑块设到它的后验均值 μ。"),
    "sliders.plot": ("Where z sits under the prior N(0, I)", "z 在先验分布 N(0, I) 下的位置"),
    "sliders.plot.note": (
        "Each dot is one coordinate of z; the bands are ±1, 2, 3 standard deviations of the prior. "
        "log p(z) is the log prior density of the whole vector (updated when you release a slider).",
        "每个点是 z 的一个坐标；色带为先验分布的 ±1、2、3 个标准差。"
        "log p(z) 是整个向量的对数先验密度（松开滑块时更新）。",
    ),
    # map
    "map.help": (
        "For a model with a **2-D** latent space the whole space fits on screen. Left: the decoder's "
        "output over a grid of z. Right: where the encoder puts held-out digits (μ, coloured by "
        "label), on the same axes. Click either picture to decode that z.",
        "对于**二维**潜在空间的模型，整个空间可以画在屏幕上。左：解码器在 z 网格上的输出。"
        "右：编码器把留出集数字放在哪里（μ，按类别着色），坐标轴相同。点击任一图片即可解码该处的 z。",
    ),
    "map.model": ("Model (needs a 2-D latent space)", "模型（需要二维潜在空间）"),
    "map.n": ("Grid size (n × n)", "网格大小（n × n）"),
    "map.span": ("Span: z from −span to +span", "范围：z 取 −span 到 +span"),
    "map.grid": ("Decoded grid", "解码网格"),
    "map.scatter": ("Encoded held-out digits (click me)", "留出集数字的编码（可点击）"),
    "map.decoded": ("Decoded at the clicked z", "点击处 z 的解码结果"),
    "map.z1": ("z₁", "z₁"),
    "map.z2": ("z₂", "z₂"),
    "map.z.info": ("Type a value and press Enter, or click a picture.", "输入数值后按回车，或点击图片。"),
    "map.no_points": ("This model ships no encoded points.", "该模型没有附带编码点。"),
    # reconstruction
    "recon.help": (
        "Encode an image, decode its posterior mean, and read this input's ELBO terms (one z sample).",
        "编码一张图像，解码其后验均值，并查看该输入的 ELBO 各项（单个 z 样本）。",
    ),
    "recon.input": ("Model input", "模型输入"),
    "recon.output": ("Reconstruction", "重构"),
    "recon.metrics": ("This input's ELBO terms", "该输入的 ELBO 各项"),
    "recon.sigma": ("Posterior standard deviation σ per dimension", "每个维度的后验标准差 σ"),
    "recon.table": (
        "| term | nats |\n|---|---:|\n"
        "| reconstruction −log p(x∣z) | {recon:.1f} |\n"
        "| KL(q(z∣x) ‖ p(z)) | {kl:.1f} |\n"
        "| **negative ELBO** (sum) | **{neg_elbo:.1f}** |",
        "| 项 | 奈特 |\n|---|---:|\n"
        "| 重构损失 −log p(x∣z) | {recon:.1f} |\n"
        "| KL 散度 KL(q(z∣x) ‖ p(z)) | {kl:.1f} |\n"
        "| **负 ELBO**（二者之和） | **{neg_elbo:.1f}** |",
    ),
    "recon.sigma.note": (
        "σ near 1 means the encoder leaves that dimension at the prior: the dimension is unused for this input.",
        "σ 接近 1 表示编码器让该维度保持先验分布：对这个输入，该维度没有被使用。",
    ),
    "beta.title": ("β comparison: the same input through two models", "β 对比：同一输入经过两个模型"),
    "beta.left": ("Model 1", "模型 1"),
    "beta.right": ("Model 2", "模型 2"),
    "beta.seed": ("Seed for the prior samples", "先验采样的随机种子"),
    "beta.recon": ("Reconstruction", "重构"),
    "beta.samples": ("8 samples from the prior (same seed)", "8 个先验采样（相同随机种子）"),
    "beta.row": ("**{name}** (β = {beta:g}): reconstruction {recon:.1f} nats, KL {kl:.1f} nats",
                 "**{name}**（β = {beta:g}）：重构损失 {recon:.1f} 奈特，KL 散度 {kl:.1f} 奈特"),
    "beta.explain": (
        "Training minimises reconstruction + β·KL. A larger β pays more for every nat of information z "
        "carries about x, so the encoder keeps less: KL falls, reconstructions get blurrier and lose "
        "detail, but the posteriors stay close to the prior, so samples drawn from N(0, I) land where the "
        "decoder has been trained and the latent space is smoother.",
        "训练最小化“重构损失 + β·KL 散度”。β 越大，z 携带的关于 x 的每一奈特信息都更“昂贵”，"
        "编码器保留的信息就更少：KL 散度下降，重构更模糊、细节更少；但后验分布更接近先验分布，"
        "从 N(0, I) 采样的点落在解码器训练过的区域，潜在空间也更平滑。",
    ),
    "beta.mismatch": ("The two models take different images; the input was prepared for each.",
                      "两个模型的输入尺寸不同；已分别为它们准备输入。"),
    # explanation
    "explain.body": (
        r"""
### What a VAE is
A **variational autoencoder** (Kingma & Welling, 2014) is a generative model with a latent vector
$z \in \mathbb{R}^D$. The **prior** is $p(z) = \mathcal{N}(0, I)$; the **decoder** defines
$p_\theta(x \mid z)$ (here a Bernoulli per pixel for grey digits, a Gaussian for colour images).
To generate, draw $z \sim \mathcal{N}(0, I)$ and decode it.

The **encoder** approximates the posterior with a Gaussian,
$q_\phi(z \mid x) = \mathcal{N}\big(\mu_\phi(x), \operatorname{diag} \sigma_\phi^2(x)\big)$.

### The ELBO
$\log p(x)$ cannot be computed, but it has a lower bound, the **evidence lower bound**:

$$\log p_\theta(x) \;\ge\; \mathbb{E}_{q_\phi(z\mid x)}\big[\log p_\theta(x \mid z)\big] \;-\; \beta\, \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big)$$

with $\beta = 1$ for the true bound. Training maximises it: the first term asks for good
**reconstructions**, the KL term keeps every posterior close to the prior. A **β-VAE** uses
$\beta > 1$ to trade reconstruction for a smoother, more prior-like latent space.

### The reparameterisation trick
To back-propagate through the sample, write it as a deterministic function of noise:

$$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)$$

### The KL in closed form
For two Gaussians the KL needs no sampling:

$$\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, I)\big) = \tfrac12 \sum_{j=1}^{D} \big(\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1\big)$$

### What the tabs show
- **Interpolation**: decode points on the path between two codes. Linear paths through the middle
  of a high-dimensional Gaussian pass where $|z|$ is unusually small; spherical paths keep $|z|$ typical.
- **Latent sliders**: set $z$ by hand; the plot shows each coordinate against $\mathcal{N}(0, 1)$ and
  $\log p(z) = -\tfrac{D}{2}\log 2\pi - \tfrac12 \lVert z \rVert^2$.
- **2-D latent map**: with $D = 2$ the decoder's whole output fits on one grid, beside the encoded data.
- **Reconstruction**: the two ELBO terms of one input in nats, and $\sigma_j$ per dimension.
""",
        r"""
### 什么是变分自编码器
**变分自编码器**（VAE，Kingma & Welling，2014）是一种带有潜在向量 $z \in \mathbb{R}^D$ 的生成模型。
**先验分布**为 $p(z) = \mathcal{N}(0, I)$；**解码器**给出 $p_\theta(x \mid z)$（灰度数字用逐像素伯努利分布，
彩色图像用高斯分布）。生成时，采样 $z \sim \mathcal{N}(0, I)$ 并解码。

**编码器**用高斯分布近似后验分布：
$q_\phi(z \mid x) = \mathcal{N}\big(\mu_\phi(x), \operatorname{diag} \sigma_\phi^2(x)\big)$。

### 证据下界（ELBO）
$\log p(x)$ 无法直接计算，但它有一个下界，即**证据下界**：

$$\log p_\theta(x) \;\ge\; \mathbb{E}_{q_\phi(z\mid x)}\big[\log p_\theta(x \mid z)\big] \;-\; \beta\, \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big)$$

其中 $\beta = 1$ 时为真正的下界。训练即最大化它：第一项要求**重构**得好，KL 散度项让每个后验分布接近先验分布。
**β-VAE** 取 $\beta > 1$，以牺牲重构为代价换取更平滑、更接近先验的潜在空间。

### 重参数化技巧
为了让梯度穿过采样，把采样写成噪声的确定性函数：

$$z = \mu + \sigma \odot \varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)$$

### KL 散度的闭式解
两个高斯分布之间的 KL 散度无需采样：

$$\mathrm{KL}\big(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, I)\big) = \tfrac12 \sum_{j=1}^{D} \big(\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1\big)$$

### 各标签页展示了什么
- **潜在空间插值**：解码两个编码之间路径上的点。在高维高斯分布中，线性路径的中段 $|z|$ 异常小；球面插值让 $|z|$ 保持典型值。
- **潜在变量滑块**：手动设置 $z$；图中把每个坐标与 $\mathcal{N}(0, 1)$ 对比，并给出
  $\log p(z) = -\tfrac{D}{2}\log 2\pi - \tfrac12 \lVert z \rVert^2$。
- **二维潜在空间图**：当 $D = 2$ 时，解码器的全部输出可以画在一张网格上，旁边是编码后的数据。
- **重构**：单个输入的两项 ELBO（单位：奈特），以及每个维度的 $\sigma_j$。
""",
    ),
}

LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "$", "right": "$", "display": False},
]


def t(key: str, lang: str = "en", **params) -> str:
    """The string `key` in `lang` (English if unknown), formatted with `params`."""
    en, zh = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**params) if params else text


class Registry:
    """Which component property shows which string, so the language switch can update them all.

    `reg(component, label="key", info="key2")` registers and returns the component. Plain keys
    name a string; `("key", "### {}")` puts it into a template; `choices=[("key", value), ...]`
    translates a Radio's or Dropdown's labels.
    """

    def __init__(self, lang: str = "en"):
        self.lang = lang  # the language the components are built in
        self.entries: list[tuple[gr.components.Component | gr.blocks.BlockContext, dict]] = []

    def __call__(self, component, **keys):
        self.entries.append((component, keys))
        return component

    def text(self, key: str, **params) -> str:
        """A string in the build language, for a constructor argument."""
        return t(key, self.lang, **params)

    def choices(self, pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
        return [(t(key, self.lang), value) for key, value in pairs]

    @property
    def components(self) -> list:
        return [c for c, _ in self.entries]

    def updates(self, lang: str) -> list:
        """One gr.update per registered component, in registration order."""
        out = []
        for _, keys in self.entries:
            kwargs = {}
            for prop, key in keys.items():
                if prop == "choices":
                    kwargs[prop] = [(t(k, lang), v) for k, v in key]
                elif isinstance(key, tuple):
                    kwargs[prop] = key[1].format(t(key[0], lang))
                else:
                    kwargs[prop] = t(key, lang)
            out.append(gr.update(**kwargs))
        return out

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
    # --- live sliders (demo/live.py) -------------------------------------------------------------
    "live.bad_request": ("A live slider sent a request this app cannot read.",
                         "实时滑块发送了本应用无法读取的请求。"),
    "live.unknown_slider": ("This app has no such live slider.", "本应用没有这个实时滑块。"),
    "live.no_session": ("This page's session has ended (it was idle too long). Reload the page to go on.",
                        "此页面的会话已结束（空闲时间过长）。请刷新页面后继续。"),
    "live.busy": ("The app is busy with other students' sliders. Move the slider again in a moment.",
                  "应用正忙于处理其他同学的滑块。请稍后再移动滑块。"),
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
    "model.trained_suffix": (" (trained here)", "（在此训练）"),
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
    "map.scatter": ("Encoded held-out digits (hover or click)", "留出集数字的编码（悬停或点击）"),
    "map.decoded": ("Decoded at the pointed z", "指针处 z 的解码结果"),
    "map.z1": ("z₁", "z₁"),
    "map.z2": ("z₂", "z₂"),
    "map.z.info": ("Type a value and press Enter, or point at a picture.", "输入数值后按回车，或把指针移到图片上。"),
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
    # --- diffusion tab ---------------------------------------------------------------------------
    "diffusion.tab": ("Diffusion", "扩散模型"),
    "diffusion.intro": (
        "A **diffusion model** learns to undo noise. The **forward process** adds a little Gaussian noise at "
        "each of T steps until the image is pure noise; a U-Net learns to predict that noise, and the "
        "**reverse process** starts from pure noise and removes it step by step until an image appears.",
        "**扩散模型**学习的是“去掉噪声”。**前向（加噪）过程**在 T 个时间步中每步加入一点高斯噪声，直到图像变成纯噪声；"
        "U-Net 学习预测这些噪声，**反向（去噪）过程**则从纯噪声出发，一步步去噪，直到生成一张图像。",
    ),
    "diffusion.no_models": (
        "⚠️ No diffusion model is installed yet. Upload a `ddpm` checkpoint below to use this tab.",
        "⚠️ 尚未安装扩散模型。请在下方上传一个 `ddpm` 检查点后使用本页面。",
    ),
    "diffusion.sub.forward": ("Forward process", "前向（加噪）过程"),
    "diffusion.sub.reverse": ("Reverse process", "反向（去噪）过程"),
    "diffusion.sub.fork": ("Fork: two settings", "分叉对比：两种设置"),
    "diffusion.sub.explain": ("How it works", "原理"),
    "diffusion.card.loss": ("Held-out L_simple (noise MSE)", "留出集 L_simple（噪声均方误差）"),
    "diffusion.card.guidance": ("Default guidance scale", "默认引导系数"),
    "diffusion.card.classes": ("class-conditional, {k} classes", "类别条件模型，{k} 个类别"),
    "diffusion.card.uncond": ("unconditional", "无条件模型"),
    "diffusion.upload.done": ("Loaded **{name}** ({kind}, T = {T}). It is now selected.",
                              "已加载 **{name}**（{kind}，T = {T}），并已选中。"),
    "diffusion.mode.1": ("grey", "灰度"),
    "diffusion.mode.3": ("colour", "彩色"),
    # forward process
    "diffusion.fwd.help": (
        "Pick an image and drag **t**. The forward process jumps straight to any step: "
        "x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε, with one fixed noise image ε (change the seed for another).",
        "选择一张图像并拖动 **t**。前向过程可以直接跳到任意时间步："
        "x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε，其中噪声图像 ε 固定不变（换一个随机种子可得到另一个 ε）。",
    ),
    "diffusion.fwd.seed": ("Noise seed (ε)", "噪声随机种子（ε）"),
    "diffusion.fwd.schedule": ("Noise schedule for xₜ", "xₜ 使用的噪声调度"),
    "diffusion.fwd.schedule.info": ("The model was trained with the one selected at first.",
                                    "初始选中的是该模型训练时使用的调度。"),
    "diffusion.fwd.x0": ("x₀: the image", "x₀：原图"),
    "diffusion.fwd.noise": ("ε ~ N(0, I): the noise", "ε ~ N(0, I)：噪声"),
    "diffusion.fwd.xt": ("xₜ: the noised image", "xₜ：加噪后的图像"),
    "diffusion.fwd.t": ("Timestep t (0 = the image, T = pure noise)", "时间步 t（0 = 原图，T = 纯噪声）"),
    "diffusion.fwd.t.info": ("Drag: x_t, its histogram and the schedule marks follow live.",
                             "拖动滑块：x_t、其直方图和调度曲线上的标记实时更新。"),
    "diffusion.fwd.caption": (
        r"At **t = {t}**: $\bar\alpha_t$ = {abar:.4f}, so $x_t$ = **{signal:.3f}** · $x_0$ + **{noise:.3f}** · $\varepsilon$ "
        r"(signal-to-noise ratio {snr}).",
        r"在 **t = {t}** 时：$\bar\alpha_t$ = {abar:.4f}，因此 $x_t$ = **{signal:.3f}** · $x_0$ + **{noise:.3f}** · $\varepsilon$"
        r"（信噪比 {snr}）。",
    ),
    "diffusion.fwd.converted": (
        "Note: your {w}×{h} {mode} image was converted to the model's {size}×{size} {target} input.",
        "注意：你的 {w}×{h} {mode}图像已转换为模型所需的 {size}×{size} {target}输入。",
    ),
    "diffusion.fwd.hist": ("Pixel values of xₜ against N(0, 1)", "xₜ 的像素值分布与 N(0, 1) 对比"),
    "diffusion.fwd.schedules": ("Noise schedules: β_t, ᾱ_t and the signal-to-noise ratio (t marked in red)",
                                "噪声调度：β_t、ᾱ_t 与信噪比（红线为当前 t）"),
    "diffusion.fwd.note": (
        "Pixels are on the model's scale, −1 (black) to +1 (white). As t grows the histogram of x_t loses the "
        "image's shape and becomes the standard normal density: by t = T nothing of x_0 is left. The cosine "
        "schedule destroys information more slowly in the early steps than the linear one.",
        "像素取值在模型的尺度上：−1（黑）到 +1（白）。随着 t 增大，x_t 的直方图逐渐失去原图的形状，变成标准正态分布的密度："
        "到 t = T 时 x_0 的信息已所剩无几。余弦调度在前期破坏信息的速度比线性调度更慢。",
    ),
    "diffusion.plot.linear": ("linear", "线性"),
    "diffusion.plot.cosine": ("cosine", "余弦"),
    "diffusion.plot.this_model": ("(this model)", "（本模型）"),
    "diffusion.plot.pixel": ("pixel value of $x_t$ (−1 black, +1 white)", "$x_t$ 的像素值（−1 黑，+1 白）"),
    "diffusion.plot.hist_title": ("t = {t}:  mean {mean:+.2f},  std {std:.2f}", "t = {t}：均值 {mean:+.2f}，标准差 {std:.2f}"),
    # reverse process
    "diffusion.rev.help": (
        "Press **Generate**: the sampler starts from pure noise x_T and denoises step by step, showing each step "
        "as it is computed. Afterwards drag the step slider to look at any stored step: the current x_t, the "
        "noise the network predicts in it, and the clean image x̂_0 that prediction implies.",
        "点击**生成**：采样器从纯噪声 x_T 出发逐步去噪，每算完一步就显示出来。完成后拖动步数滑块查看任意已保存的步："
        "当前的 x_t、网络在其中预测的噪声，以及该预测所对应的干净图像 x̂_0。",
    ),
    "diffusion.batch": ("Batch size (images)", "批大小（图像数）"),
    "diffusion.seed": ("Seed", "随机种子"),
    "diffusion.sampler": ("Sampler", "采样器"),
    "diffusion.sampler.ddpm": ("DDPM (all T steps)", "DDPM（全部 T 步）"),
    "diffusion.sampler.ddim": ("DDIM (N steps)", "DDIM（N 步）"),
    "diffusion.steps": ("DDIM steps N", "DDIM 采样步数 N"),
    "diffusion.steps.info": ("DDPM always takes all T steps.", "DDPM 总是走完全部 T 步。"),
    "diffusion.eta": ("DDIM η (eta)", "DDIM η（eta）"),
    "diffusion.eta.info": ("0: deterministic; 1: as much fresh noise as DDPM.", "0：确定性采样；1：与 DDPM 加入同样多的新噪声。"),
    "diffusion.label": ("Class", "类别"),
    "diffusion.label.all": ("All classes, evenly", "所有类别（均匀分配）"),
    "diffusion.label.none": ("Unconditional (null label)", "无条件（空标签）"),
    "diffusion.label.one": ("class {label}", "类别 {label}"),
    "diffusion.guidance": ("Guidance scale s", "引导系数 s"),
    "diffusion.guidance.info": ("Classifier-free guidance: 0 = unconditional, 1 = plain conditional, more = stronger.",
                                "无分类器指导：0 = 无条件，1 = 普通条件生成，更大 = 更强的引导。"),
    "diffusion.guidance.short": ("guidance {g:g}", "引导系数 {g:g}"),
    "diffusion.generate": ("Generate", "生成"),
    "diffusion.stop": ("Stop", "停止"),
    "diffusion.progress": ("Sampling", "采样中"),
    "diffusion.status.idle": ("Press **Generate** to sample.", "点击**生成**开始采样。"),
    "diffusion.status.running": ("Sampling: step **{step} / {count}** (t = {t}) · {s:.1f} s · {setting}",
                                 "采样中：第 **{step} / {count}** 步（t = {t}）· {s:.1f} 秒 · {setting}"),
    "diffusion.status.done": (
        "**Done:** {n} images in **{count} steps**, {s:.1f} s · {setting}. Stored {kept}: {frames} frames, {mb:.1f} MB.",
        "**完成**：{n} 张图像，共 **{count} 步**，用时 {s:.1f} 秒 · {setting}。已保存{kept}：{frames} 帧，{mb:.1f} MB。",
    ),
    "diffusion.kept.all": ("every step", "每一步"),
    "diffusion.kept.every": ("every {k}th step", "每 {k} 步中的一步"),
    "diffusion.status.stopped": (
        "**Stopped** at step **{step} of {count}** after {s:.1f} s. What was computed is kept: {frames} frames to scrub.",
        "**已停止**：在第 **{step} / {count}** 步停止，用时 {s:.1f} 秒。已算出的结果均已保留：可浏览 {frames} 帧。",
    ),
    "diffusion.xt": ("xₜ: the current sample", "xₜ：当前样本"),
    "diffusion.eps": ("ε̂: predicted noise", "ε̂：预测噪声"),
    "diffusion.x0": ("x̂₀: predicted clean image", "x̂₀：预测的原图"),
    "diffusion.scrub": ("Step", "步数"),
    "diffusion.scrub.info": ("Drag through the stored steps: from pure noise (left) to the samples (right).",
                             "拖动浏览已保存的步：从纯噪声（左）到最终样本（右）。"),
    "diffusion.caption.step": ("**Step {step} of {count}**: xₜ at t = {t}", "**第 {step} / {count} 步**：t = {t} 时的 xₜ"),
    "diffusion.caption.final": ("**The samples**, after all {count} steps (t = 0)", "**最终样本**：走完全部 {count} 步后（t = 0）"),
    "diffusion.strip.title": ("One image through chosen timesteps", "单张图像在选定时间步上的变化"),
    "diffusion.strip.image": ("Image number in the batch", "批次中的图像序号"),
    "diffusion.strip.ts": ("Timesteps t", "时间步 t"),
    "diffusion.strip.ts.info": ("Comma-separated, from T to 0; press Enter. The nearest stored step is shown.",
                                "用逗号分隔，从 T 到 0；按回车确认。显示最接近的已保存步。"),
    "diffusion.strip": ("xₜ, predicted noise ε̂ and predicted x̂₀ at each chosen t", "各选定 t 处的 xₜ、预测噪声 ε̂ 与预测的原图 x̂₀"),
    "diffusion.export": ("Export the run (GIF / MP4)", "导出采样过程（GIF / MP4）"),
    "diffusion.export.gif": ("Animated GIF", "GIF 动图"),
    "diffusion.export.mp4": ("MP4 video", "MP4 视频"),
    "diffusion.export.both": ("{frames} frames: x_t (left) and the predicted x̂_0 (right).",
                              "共 {frames} 帧：左为 x_t，右为预测的原图 x̂_0。"),
    "diffusion.export.gif_only": (
        "{frames} frames: x_t (left) and the predicted x̂_0 (right). MP4 export needs the optional packages "
        "imageio and imageio-ffmpeg, which this installation does not have, so only the GIF was made.",
        "共 {frames} 帧：左为 x_t，右为预测的原图 x̂_0。导出 MP4 需要可选的 imageio 与 imageio-ffmpeg 包，"
        "本安装中没有，因此只生成了 GIF。",
    ),
    # branch
    "diffusion.branch.title": ("Branch from the step shown", "从当前显示的步分叉"),
    "diffusion.branch.help": (
        "Take the run at the step the slider shows and continue it with another setting, e.g. another class or "
        "guidance scale from t = 500, or DDPM instead of DDIM. Early steps decide the layout; late steps only "
        "details. Branching with the run's own setting reproduces it exactly.",
        "取滑块所示步上的采样状态，用另一种设置继续采样，例如从 t = 500 起换一个类别或引导系数，或把 DDIM 换成 DDPM。"
        "前期的步决定整体结构，后期的步只影响细节。用原设置分叉会精确地重现原结果。",
    ),
    "diffusion.branch.run": ("Continue from this step", "从这一步继续"),
    "diffusion.branch.start": ("xₜ where the branch starts", "分叉起点处的 xₜ"),
    "diffusion.branch.original": ("The original run's samples", "原采样结果"),
    "diffusion.branch.result": ("The branch's samples", "分叉后的采样结果"),
    "diffusion.branch.from": ("Branched at step {step} (t = {t}): {old} → **{new}**",
                              "在第 {step} 步（t = {t}）分叉：{old} → **{new}**"),
    # fork
    "diffusion.fork.help": (
        "Run two settings from the **same seed**, so both start from the same noise x_T, and compare them side by "
        "side. Drag the slider to see both runs at the same fraction of their way.",
        "用**同一个随机种子**运行两种设置，使两者从同一个噪声 x_T 出发，并排比较。拖动滑块可在两次采样的相同进度处对比。",
    ),
    "diffusion.fork.preset": ("Preset", "预设"),
    "diffusion.fork.preset.samplers": ("DDPM-1000 vs DDIM-20", "DDPM-1000 对比 DDIM-20"),
    "diffusion.fork.preset.guidance": ("Guidance 0 vs 3", "引导系数 0 对比 3"),
    "diffusion.fork.preset.eta": ("DDIM η = 0 vs η = 1", "DDIM η = 0 对比 η = 1"),
    "diffusion.fork.preset.steps": ("DDIM 5 vs 100 steps", "DDIM 5 步对比 100 步"),
    "diffusion.fork.a": ("Setting A", "设置 A"),
    "diffusion.fork.b": ("Setting B", "设置 B"),
    "diffusion.fork.run": ("Run A and B", "运行 A 和 B"),
    "diffusion.fork.progress": ("Sampling {side}", "正在采样 {side}"),
    "diffusion.fork.progress_slider": ("Progress through both runs (%)", "两次采样的进度（%）"),
    "diffusion.fork.progress_slider.info": ("0 = the shared starting noise x_T, 100 = the samples.",
                                            "0 = 共同的起始噪声 x_T，100 = 最终样本。"),
    "diffusion.fork.side_running": ("**{side}**: sampling, step {step} / {count}", "**{side}**：采样中，第 {step} / {count} 步"),
    "diffusion.fork.side_empty": ("**{side}**: not run yet", "**{side}**：尚未运行"),
    "diffusion.fork.time": ("{s:.1f} s", "{s:.1f} 秒"),
    "diffusion.fork.unfinished": ("stopped at step {step} of {count}", "在第 {step} / {count} 步停止"),
    "diffusion.fork.compare_pending": ("", ""),
    "diffusion.fork.compare": (
        "Same seed, same x_T. A took **{a_steps} steps in {a_s:.1f} s**, B **{b_steps} steps in {b_s:.1f} s** "
        "(A/B time ratio {ratio:.1f}). Their samples differ by **{diff:.1f}** grey levels per pixel on average "
        "(0 to 255).",
        "同一随机种子，同一 x_T。A 用了 **{a_steps} 步、{a_s:.1f} 秒**，B 用了 **{b_steps} 步、{b_s:.1f} 秒**"
        "（A/B 用时比 {ratio:.1f}）。两者的样本平均每个像素相差 **{diff:.1f}** 个灰度级（0 到 255）。",
    ),
    # explanation
    "diffusion.explain.body": (
        r"""
### The forward (noising) process
Fix a **noise schedule** $\beta_1, \dots, \beta_T$ (small numbers, here $T = 1000$). Each step adds a little
Gaussian noise:

$$q(x_t \mid x_{t-1}) = \mathcal{N}\big(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big)$$

With $\alpha_t = 1 - \beta_t$ and $\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$, the steps compose into one jump from the image:

$$q(x_t \mid x_0) = \mathcal{N}\big(x_t;\ \sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big), \qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\quad \varepsilon \sim \mathcal{N}(0, I)$$

$\bar\alpha_t$ falls from 1 to almost 0, so $x_T$ is almost exactly $\mathcal{N}(0, I)$. The **signal-to-noise ratio**
$\mathrm{SNR}_t = \bar\alpha_t / (1-\bar\alpha_t)$ measures how much of the image is left. The **linear** schedule
(Ho et al., 2020) raises $\beta_t$ from $10^{-4}$ to $0.02$; the **cosine** schedule (Nichol & Dhariwal, 2021) sets
$\bar\alpha_t = f(t)/f(0)$ with $f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}\cdot\tfrac{\pi}{2}\big)$, which removes information more evenly.

### Training
A U-Net $\varepsilon_\theta(x_t, t, y)$ learns to predict the noise in $x_t$ (Ho et al.'s $L_\text{simple}$):

$$L_\text{simple} = \mathbb{E}_{x_0,\ t,\ \varepsilon}\,\big\lVert \varepsilon - \varepsilon_\theta(x_t, t) \big\rVert^2$$

A predicted noise also gives a **predicted clean image**, the forward equation solved for $x_0$:

$$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}$$

### The reverse (denoising) process
**DDPM** samples $x_T \sim \mathcal{N}(0, I)$ and takes all $T$ steps back, each a Gaussian around the posterior mean:

$$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon_\theta(x_t, t)\Big) + \sigma_t z, \qquad \sigma_t^2 = \tfrac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t,\ z \sim \mathcal{N}(0, I)$$

**DDIM** (Song et al., 2021) jumps between any two timesteps $t > t'$, so 20 to 50 steps are enough:

$$x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma^2}\;\varepsilon_\theta(x_t, t) + \sigma z, \qquad \sigma = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}}$$

With $\eta = 0$ it is deterministic: the same $x_T$ always gives the same image.

### Classifier-free guidance
The network is trained with the class label $y$ and, 10% of the time, with a null label $\varnothing$. Sampling mixes both
predictions with the **guidance scale** $s$ (Ho & Salimans, 2022):

$$\tilde\varepsilon = \varepsilon_\theta(x_t, t, \varnothing) + s\,\big(\varepsilon_\theta(x_t, t, y) - \varepsilon_\theta(x_t, t, \varnothing)\big)$$

$s = 0$ ignores the label, $s = 1$ is the plain conditional model, and $s > 1$ trades variety for images that look
more like the class.

### What the sub-tabs show
- **Forward process**: $x_t$ for any $t$ from one fixed $\varepsilon$, its pixel histogram against $\mathcal{N}(0, 1)$, and $\beta_t$, $\bar\alpha_t$, $\mathrm{SNR}_t$.
- **Reverse process**: every step of a real run: $x_t$, $\varepsilon_\theta$ and $\hat x_0$. Early $\hat x_0$ are blurry averages; the layout settles first, details last.
- **Fork**: two samplers or guidance scales from the same $x_T$.
""",
        r"""
### 前向（加噪）过程
先固定一个**噪声调度** $\beta_1, \dots, \beta_T$（都是很小的数，这里 $T = 1000$）。每一步加入一点高斯噪声：

$$q(x_t \mid x_{t-1}) = \mathcal{N}\big(x_t;\ \sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big)$$

记 $\alpha_t = 1 - \beta_t$，$\bar\alpha_t = \prod_{s=1}^{t} \alpha_s$，多步可以合并为从原图出发的一步：

$$q(x_t \mid x_0) = \mathcal{N}\big(x_t;\ \sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big), \qquad x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\varepsilon,\quad \varepsilon \sim \mathcal{N}(0, I)$$

$\bar\alpha_t$ 从 1 降到接近 0，所以 $x_T$ 几乎就是 $\mathcal{N}(0, I)$。**信噪比** $\mathrm{SNR}_t = \bar\alpha_t / (1-\bar\alpha_t)$
衡量图像还剩多少。**线性**调度（Ho 等，2020）让 $\beta_t$ 从 $10^{-4}$ 增加到 $0.02$；**余弦**调度（Nichol & Dhariwal，2021）取
$\bar\alpha_t = f(t)/f(0)$，$f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}\cdot\tfrac{\pi}{2}\big)$，信息的破坏更加均匀。

### 训练
U-Net $\varepsilon_\theta(x_t, t, y)$ 学习预测 $x_t$ 中的噪声（Ho 等提出的 $L_\text{simple}$）：

$$L_\text{simple} = \mathbb{E}_{x_0,\ t,\ \varepsilon}\,\big\lVert \varepsilon - \varepsilon_\theta(x_t, t) \big\rVert^2$$

由预测噪声还能得到**预测的原图**，即把前向公式对 $x_0$ 求解：

$$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\varepsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}}$$

### 反向（去噪）过程
**DDPM** 先采样 $x_T \sim \mathcal{N}(0, I)$，再倒着走完全部 $T$ 步，每一步都是以后验均值为中心的高斯分布：

$$x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon_\theta(x_t, t)\Big) + \sigma_t z, \qquad \sigma_t^2 = \tfrac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t,\ z \sim \mathcal{N}(0, I)$$

**DDIM**（Song 等，2021）可以在任意两个时间步 $t > t'$ 之间跳跃，因此 20 到 50 步就够了：

$$x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma^2}\;\varepsilon_\theta(x_t, t) + \sigma z, \qquad \sigma = \eta\sqrt{\tfrac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}\sqrt{1-\tfrac{\bar\alpha_t}{\bar\alpha_{t'}}}$$

当 $\eta = 0$ 时采样是确定性的：同一个 $x_T$ 总是得到同一张图像。

### 无分类器指导
训练时网络使用类别标签 $y$，并以 10% 的概率改用空标签 $\varnothing$。采样时用**引导系数** $s$ 混合两种预测（Ho & Salimans，2022）：

$$\tilde\varepsilon = \varepsilon_\theta(x_t, t, \varnothing) + s\,\big(\varepsilon_\theta(x_t, t, y) - \varepsilon_\theta(x_t, t, \varnothing)\big)$$

$s = 0$ 时忽略标签，$s = 1$ 即普通的条件模型，$s > 1$ 以牺牲多样性为代价，让图像更像指定的类别。

### 各标签页展示了什么
- **前向（加噪）过程**：用同一个 $\varepsilon$ 得到任意 $t$ 的 $x_t$，其像素直方图与 $\mathcal{N}(0, 1)$ 的对比，以及 $\beta_t$、$\bar\alpha_t$、$\mathrm{SNR}_t$。
- **反向（去噪）过程**：一次真实采样的每一步：$x_t$、$\varepsilon_\theta$ 与 $\hat x_0$。早期的 $\hat x_0$ 是模糊的平均；整体结构先确定，细节最后出现。
- **分叉对比**：从同一个 $x_T$ 出发的两种采样器或引导系数。
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

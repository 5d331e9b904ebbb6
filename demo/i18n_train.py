"""The training tab's strings (English, Chinese), added to demo.i18n.STRINGS at import.

Chinese terms follow ../shared/GLOSSARY.md (学习率, 批大小, 损失, 检查点, 无分类器引导).
"""

from __future__ import annotations

from .i18n import STRINGS

TRAIN_STRINGS: dict[str, tuple[str, str]] = {
    "train.tab": ("Train", "训练工作室"),
    "train.intro": (
        ("Train a model **live** and watch it learn: pick a family and a data set, press **Start**, and "
        "follow the loss curves and a grid of samples drawn from the **same fixed seeds** every few steps, "
        "so you see the same noise turn into pictures. **Stop** keeps the weights so far; **Resume** goes on "
        "from them. **Use this model** makes it selectable in its family's tab (for you only)."),
        ("**现场**训练一个模型，看着它学习：选择模型类别和数据集，按**开始**，"
        "观察损失曲线，以及每隔几步用**同一组固定随机种子**生成的样本网格——你会看到同样的噪声逐渐变成图像。"
        "**停止**会保留目前的权重；**继续训练**从这些权重接着训练。"
        "**使用该模型**让它出现在对应类别的标签页中（仅你自己可见）。"),
    ),
    # settings
    "train.family": ("Model family", "模型类别"),
    "train.family.vae": ("VAE", "变分自编码器 VAE"),
    "train.family.stylegan": ("StyleGAN", "StyleGAN"),
    "train.family.ddpm": ("Diffusion (DDPM)", "扩散模型 DDPM"),
    "train.family.clip": ("GenLab CLIP", "GenLab CLIP"),
    "train.dataset": ("Data set", "数据集"),
    "train.dataset.mnist": ("MNIST digits", "MNIST 手写数字"),
    "train.dataset.shapes": ("Coloured shapes", "彩色形状"),
    "train.dataset.faces": ("Cartoon faces", "卡通人脸"),
    "train.dataset.zip": ("Your images (.zip)", "你的图像（.zip）"),
    "train.dataset.toy2d": ("2-D toy points", "二维玩具数据"),
    "train.zip": ("A .zip of your images (PNG, JPEG, BMP, GIF, WebP)", "你的图像 .zip（PNG、JPEG、BMP、GIF、WebP）"),
    "train.data.zip": (
        ("Your images, read in memory from the .zip (never unpacked to disk), resized and centre-cropped "
        "to 32×32 colour. Non-images and bomb-sized entries are skipped; an archive that would unpack to "
        "more than 200 MB is refused."),
        ("你的图像：直接在内存中读取 .zip（不会解压到磁盘），缩放并居中裁剪为 32×32 彩色图像。"
        "非图像文件和疑似压缩炸弹的条目会被跳过；解压后超过 200 MB 的压缩包会被拒绝。"),
    ),
    "train.data.toy2d": (
        ("2-D toy distributions (rings, moons, spirals, your own points) train in real time in the "
        "**2-D playground** tab, where every point, the discriminator's heat map and the score field are drawn. "
        "Pick an image data set here."),
        ("二维玩具分布（圆环、双月、螺旋、你自己画的点）请在**二维演练场**标签页中实时训练，"
        "那里会画出每个点、判别器热力图和得分场。这里请选择一个图像数据集。"),
    ),
    "train.size": ("Model size", "模型规模"),
    "train.size.info": ("tiny trains in minutes on a CPU; base wants a GPU.",
                        "tiny 在 CPU 上几分钟即可训练；base 需要 GPU。"),
    "train.size.tiny": ("tiny", "微型 tiny"),
    "train.size.small": ("small", "小型 small"),
    "train.size.base": ("base", "标准 base"),
    "train.steps": ("Steps", "训练步数"),
    "train.batch": ("Batch size", "批大小"),
    "train.lr": ("Learning rate", "学习率"),
    "train.more": ("More settings", "更多设置"),
    "train.beta": ("β: weight of the KL term (VAE)", "β：KL 项的权重（VAE）"),
    "train.latent": ("Latent dimensions (VAE; 2 gives the 2-D map)", "潜在维度（VAE；取 2 可用二维潜在空间图）"),
    "train.p_uncond": ("Label dropout for guidance (DDPM)", "标签丢弃率，用于无分类器引导（DDPM）"),
    "train.p_uncond.info": ("How often the label is hidden, so the model also learns unconditionally.",
                            "训练时隐藏标签的比例，使模型同时学会无条件生成。"),
    "train.r1": ("R1 γ: gradient penalty on real images (StyleGAN)", "R1 γ：真实图像上的梯度惩罚（StyleGAN）"),
    "train.n_images": ("Training images", "训练图像数"),
    "train.seed": ("Seed", "随机种子"),
    "train.preview_every": ("Sample grid every N steps", "每隔 N 步生成样本网格"),
    "train.fast": ("Fast path: torch.compile with CUDA graphs (GPU; compiling takes a minute)",
                   "快速路径：torch.compile + CUDA graphs（GPU；编译需约一分钟）"),
    "train.start": ("▶ Start", "▶ 开始"),
    "train.stop": ("■ Stop", "■ 停止"),
    "train.resume": ("↻ Resume", "↻ 继续训练"),
    "train.device": (
        ("Running on **{device}**. Defaults suit this device{gpu}. This server allows {running} run(s) at once, "
        "{queued} waiting, at most {seconds:g} s and {steps:,} steps per run."),
        ("运行在 **{device}** 上，默认设置已按此设备调整{gpu}。本服务器同时最多运行 {running} 个训练任务，"
        "最多 {queued} 个排队，每次训练最多 {seconds:g} 秒、{steps:,} 步。"),
    ),
    "train.device.cpu_name": ("CPU ({n} cores)", "CPU（{n} 核）"),
    "train.device.cpu": (" (a CPU: tiny models, short runs)", "（CPU：微型模型、较短的训练）"),
    "train.device.gpu": ("", ""),
    # live
    "train.status.idle": ("Pick a family and a data set, then press **Start**.", "选择模型类别和数据集，然后按**开始**。"),
    "train.status.queued": ("Waiting in the queue: **{ahead}** run(s) ahead of you. It starts by itself.",
                            "正在排队：你前面还有 **{ahead}** 个训练任务。轮到你时会自动开始。"),
    "train.status.running": ("▶ Training **{name}**: step {step:,} of {steps:,}.",
                             "▶ 正在训练 **{name}**：第 {step:,} / {steps:,} 步。"),
    "train.status.starting": ("▶ Starting **{name}**…", "▶ 正在启动 **{name}**……"),
    "train.status.done": ("✓ **{name}** finished after {step:,} steps. Use it, download it, or Resume for more.",
                          "✓ **{name}** 已完成 {step:,} 步训练。可以使用、下载它，或继续训练。"),
    "train.status.ready": ("**{name}** is loaded ({step:,} steps so far). Press **Resume** to continue training it.",
                           "已载入 **{name}**（已训练 {step:,} 步）。按**继续训练**接着训练。"),
    "train.stats": (
        ("| step | images/s | ETA | elapsed | device | memory | parameters |\n|---|---|---|---|---|---|---|\n"
        "| {step:,} / {steps:,} | {ips:,.0f} | {eta} | {elapsed} | {device} | {memory} | {params} |"),
        ("| 步数 | 图像/秒 | 预计剩余 | 已用时间 | 设备 | 内存 | 参数量 |\n|---|---|---|---|---|---|---|\n"
        "| {step:,} / {steps:,} | {ips:,.0f} | {eta} | {elapsed} | {device} | {memory} | {params} |"),
    ),
    "train.loss": ("Losses", "损失"),
    "train.loss.step": ("step", "步数"),
    "train.loss.value": ("loss", "损失"),
    "train.loss.series": ("term", "项"),
    "train.preview": ("Samples from fixed seeds", "固定随机种子生成的样本"),
    "train.preview.clip": ("Step {step:,}: rows are images, columns their captions; yellow = the caption the model picks",
                           "第 {step:,} 步：每行一张图像，每列是这些图像的描述；黄色 = 模型选中的描述"),
    "train.preview.step": ("Samples from fixed seeds, step {step:,}", "固定随机种子生成的样本（第 {step:,} 步）"),
    # keeping the model
    "train.keep": ("Keep the model", "保存模型"),
    "train.name": ("Name", "名称"),
    "train.use": ("Use this model", "使用该模型"),
    "train.download": ("Download checkpoint (.zip)", "下载检查点（.zip）"),
    "train.file": ("Checkpoint", "检查点"),
    "train.used": (
        "**{name}** is now in the **{tab}** tab's model list (for this session only).",
        "**{name}** 已加入 **{tab}** 标签页的模型列表（仅在本会话中可见）。",
    ),
    "train.continue": ("Continue from a checkpoint", "从检查点继续训练"),
    "train.continue.file": ("A checkpoint .zip saved here (safetensors only; pickles are refused)",
                            "在这里保存的检查点 .zip（只读取 safetensors；pickle 文件会被拒绝）"),
    "train.continue.note": (
        ("Upload a checkpoint you downloaded earlier: its settings come back, and **Resume** trains it on. "
        "For your own images, upload the same .zip above first."),
        ("上传之前下载的检查点：它的设置会恢复，按**继续训练**即可接着训练。"
        "如果用的是你自己的图像，请先在上方上传同一个 .zip。"),
    ),
}

STRINGS.update(TRAIN_STRINGS)

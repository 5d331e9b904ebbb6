"""Strings of the small classroom tools (English, Chinese), added to demo.i18n.STRINGS at import: the
diffusion scrubber's play / pause, the VAE map's hover, saving and loading latent vectors (.npy).
Terms follow ../shared/GLOSSARY.md (潜在向量, 解码, 随机种子, 截断)."""

from __future__ import annotations

from .i18n import STRINGS

TEACH_STRINGS: dict[str, tuple[str, str]] = {
    # the diffusion tab's scrubber
    "diffusion.play": ("▶ Play", "▶ 播放"),
    "diffusion.pause": ("⏸ Pause", "⏸ 暂停"),
    # the VAE map
    "map.hover.note": ("Move the mouse over either picture (or drag) to decode that point; click to mark it.",
                       "在任一张图上移动鼠标（或拖动）即可解码该点；点击可标记该点。"),
    # latent files, VAE
    "latent.z.title": ("Save or load z", "保存或载入 z"),
    "latent.z.save": ("Save z (.npy)", "保存 z（.npy）"),
    "latent.z.load": ("Load z (.npy)", "载入 z（.npy）"),
    "latent.z.file": ("z as a .npy file", "z 的 .npy 文件"),
    "latent.z.saved": ("Saved z ({d} numbers, float32). Load it again here, or in numpy: `np.load(path)`.",
                       "已保存 z（{d} 个数，float32）。可在此重新载入，或在 numpy 中用 `np.load(path)` 读取。"),
    "latent.z.loaded": ("Loaded z from '{name}' ({d} numbers).", "已从“{name}”载入 z（{d} 个数）。"),
    "latent.z.clipped": ("Some values lay outside the sliders' ±{r}: they were clipped, so the picture shows "
                         "the nearest z the sliders can hold.",
                         "部分数值超出了滑块的 ±{r} 范围，已被截断；图像显示的是滑块能表示的最接近的 z。"),
    "latent.z.projected": ("This model's z has {d} numbers and the sliders hold its first {k} principal "
                           "components: the picture shows z projected onto them.",
                           "该模型的 z 有 {d} 个数，滑块只对应前 {k} 个主成分：图像显示的是 z 在这些主成分上的投影。"),
    # latent files, StyleGAN
    "gan.sub.latent": ("Save / load w", "保存 / 载入 w"),
    "gan.latent.help": (
        "A style vector **w** is the generator's real input. Save the w of a face you like as a .npy file, "
        "send it to someone, and load it here to get exactly the same picture (the noise maps are the "
        "model's saved ones). A file may hold one w, shape (w_dim,), or one per layer, shape (layers, w_dim).",
        "风格向量 **w** 是生成器真正的输入。把你喜欢的人脸的 w 保存为 .npy 文件，发给别人，在这里载入就能得到"
        "完全相同的图像（噪声图使用模型保存的那一组）。文件可以保存一个 w，形状为 (w_dim,)，或每层一个，"
        "形状为 (层数, w_dim)。"),
    "gan.latent.seed": ("Seed", "随机种子"),
    "gan.latent.image": ("The picture of this w", "这个 w 对应的图像"),
    "gan.latent.save": ("Save w (.npy)", "保存 w（.npy）"),
    "gan.latent.load": ("Load w (.npy)", "载入 w（.npy）"),
    "gan.latent.file": ("w as a .npy file", "w 的 .npy 文件"),
    "gan.latent.from_seed": ("w from seed {seed} at ψ = {psi:g}.", "w 来自随机种子 {seed}，ψ = {psi:g}。"),
    "gan.latent.loaded": ("w loaded from '{name}', shape {shape}.", "已从“{name}”载入 w，形状为 {shape}。"),
    "gan.latent.saved": ("Saved w, shape {shape}, float32.", "已保存 w，形状为 {shape}，float32。"),
}

STRINGS.update(TEACH_STRINGS)

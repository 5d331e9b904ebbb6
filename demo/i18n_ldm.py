"""The latent diffusion tab's strings (English, Chinese), added to demo.i18n.STRINGS at import; also the
never-seen notes both text-to-image tabs show (demo/words_note.py).

Terms (glossary): 潜在扩散模型, 自编码器, 编码器 / 解码器, 潜在空间, 交叉注意力, 无分类器指导, 引导系数,
采样步数, 提示词, 文生图, 随机种子, 时间步, 预测的原图. Not in the glossary: 词元 (token), 词表 (vocabulary),
乘加运算 (multiply-add).
"""

from __future__ import annotations

from .i18n import STRINGS

LDM_STRINGS: dict[str, tuple[str, str]] = {
    "ldm.tab": ("Text to image (LDM)", "文生图（潜在扩散）"),
    "ldm.intro": (
        "### Latent diffusion with a text encoder\n"
        "The way Stable Diffusion works, small: an **autoencoder** squeezes a 64×64 scene into a 4×16×16 "
        "latent, a **U-Net denoises in that latent**, a **text encoder**'s token embeddings steer it through "
        "**cross-attention**, classifier-free guidance sharpens it, and the **decoder** turns the final latent "
        "into pixels. The text encoder knows only the words of the scenes captions: words it never saw are "
        "flagged before you generate.",
        "### 带文本编码器的潜在扩散模型\n"
        "小型的 Stable Diffusion：**自编码器**把 64×64 的场景压缩成 4×16×16 的潜在表示，**U-Net 在潜在空间中去噪**，"
        "**文本编码器**的词元嵌入通过**交叉注意力**引导它，无分类器指导让结果更贴合提示词，最后由**解码器**把潜在表示变回像素。"
        "文本编码器只认识场景描述中的词：生成之前会标出它从未见过的词。"),
    "ldm.sub.generate": ("Generate", "生成"),
    "ldm.sub.compare": ("Compare", "对比"),
    "ldm.sub.explain": ("How it works", "原理"),
    "ldm.prompt": ("Prompt", "提示词"),
    "ldm.prompt.info": ("English or Chinese, in the words of the scenes world (see the vocabulary).",
                        "中文或英文，使用场景世界中的词（见词表）。"),
    "ldm.prompt.placeholder": ("a red circle in the top left corner", "左上角有一个红色的圆形"),
    "ldm.examples": ("Examples (training phrasings)", "示例（训练用的表述）"),
    "ldm.vocab": ("Vocabulary: every word the text encoder knows", "词表：文本编码器认识的所有词"),
    "ldm.vocab.body": ("**{n} tokens.** English: {en}\n\nChinese: {zh}\n\nSpecial: {special}",
                       "**共 {n} 个词元。** 英文：{en}\n\n中文：{zh}\n\n特殊词元：{special}"),
    "ldm.guidance": ("Guidance scale", "引导系数"),
    "ldm.guidance.info": ("Classifier-free guidance: 1 = the plain conditional model, higher = closer to the prompt.",
                          "无分类器指导：1 为普通条件模型，越大越贴合提示词。"),
    "ldm.steps": ("DDIM steps", "DDIM 采样步数"),
    "ldm.seed": ("Seed", "随机种子"),
    "ldm.n": ("Images", "图像数"),
    "ldm.run": ("Generate", "生成"),
    "ldm.stop": ("Stop", "停止"),
    "ldm.pipeline": ("The pipeline, at the chosen step", "流程图（所选步骤）"),
    "ldm.scrub": ("Step (scrub through the run)", "步骤（拖动查看整个过程）"),
    "ldm.image_pick": ("Image shown in the diagram", "流程图中显示的图像"),
    "ldm.attention": ("Cross-attention: where each word looks, at the chosen step", "交叉注意力：每个词在所选步骤关注的位置"),
    "ldm.images": ("Final images", "最终图像"),
    "ldm.box.tokens": ("1 · prompt → tokens\n(read by the text encoder)", "1 · 提示词 → 词元\n（由文本编码器读取）"),
    "ldm.box.latent": ("2 · latent z_t, step {k}/{count}\n(t = {t}, 4×16×16, cheap decode)",
                       "2 · 潜在 z_t：第 {k}/{count} 步\n（t = {t}，4×16×16，快速解码）"),
    "ldm.box.x0": ("predicted clean latent\n(cheap decode)", "预测的干净潜在表示\n（快速解码）"),
    "ldm.box.final": ("3 · decoder → 64×64 image\n(after the last step)", "3 · 解码器 → 64×64 图像\n（最后一步之后）"),
    "ldm.status.idle": ("Type a prompt (or click an example) and press **Generate**.",
                        "输入提示词（或点击示例），然后点击 **生成**。"),
    "ldm.status.running": ("Step {k}/{count} · {s:.1f} s", "第 {k}/{count} 步 · {s:.1f} 秒"),
    "ldm.status.done": ("Done: {n} image(s), {count} DDIM steps, guidance {g:g}, in {s:.2f} s (first preview after {first:.2f} s).",
                        "完成：{n} 张图像，{count} 步 DDIM，引导系数 {g:g}，用时 {s:.2f} 秒（首个预览用时 {first:.2f} 秒）。"),
    "ldm.status.stopped": ("Stopped at step {k}/{count}.", "已在第 {k}/{count} 步停止。"),
    "ldm.no_run": ("Generate first: the step scrubber shows a run's steps.", "请先生成：步骤滑块用于查看一次运行的各个步骤。"),
    "ldm.card.config": ("Networks", "网络"),
    "ldm.card.heldout": ("Held-out quality (judged)", "留出集质量（判别器评判）"),
    # --- the never-seen notes (both tabs) -------------------------------------------------------------
    "words.never_seen": ("⚠️ **never seen: {words}**. The text encoder has not read these words; it cannot know what they mean.",
                         "⚠️ **从未见过：{words}**。文本编码器没有读过这些词，不可能知道它们的意思。"),
    "words.all_known": ("✓ every word is in the text encoder's vocabulary.", "✓ 所有词都在文本编码器的词表中。"),
    "words.clip_never_seen": (
        "⚠️ **never seen: {words}**. The GenLab CLIP was trained only on digit and shapes captions; it scores "
        "these words anyway, and the score means nothing.",
        "⚠️ **从未见过：{words}**。GenLab CLIP 只用数字和形状的描述训练过；它照样会给这些词打分，但分数毫无意义。"),
    "words.clip_pixels": (
        "ℹ️ **Raw pixels:** a high CLIP score here is not a picture of the prompt. Climbing the score pixel by "
        "pixel finds patterns that fool this CLIP (adversarial noise); an image generator keeps it to real images.",
        "ℹ️ **原始像素：** 这里的 CLIP 高分并不代表图像画出了提示词。逐像素提高分数会找到骗过这个 CLIP 的图案（对抗噪声）；"
        "图像生成器才能把结果限制在真实图像中。"),
    # --- compare ------------------------------------------------------------------------------------
    "ldm.compare.help": (
        "On the same prompt and seed: the latent diffusion model, a pixel-space DDPM and CLIP guidance (the "
        "2021 way: a generator steered by CLIP's gradient). Seconds and multiply-adds per image are measured "
        "now, on this machine; the scenes judge says what each image shows.",
        "同一提示词、同一随机种子下：潜在扩散模型、像素空间 DDPM 和 CLIP 引导（2021 年的做法：用 CLIP 的梯度引导生成器）。"
        "每张图像的秒数和乘加运算次数在本机实时测量；场景判别器说出每张图像画了什么。"),
    "ldm.compare.run": ("Compare", "对比"),
    "ldm.compare.clip_steps": ("CLIP guidance steps", "CLIP 引导步数"),
    "ldm.compare.images": ("Latent diffusion · pixel-space DDPM · CLIP guidance", "潜在扩散 · 像素空间 DDPM · CLIP 引导"),
    "ldm.compare.head": ("| | what | seconds / image | multiply-adds / image | the judge sees |",
                         "| | 方法 | 秒 / 图像 | 乘加运算 / 图像 | 判别器看到的 |"),
    "ldm.compare.ldm": ("latent diffusion, cross-attention to the prompt (DDIM-{steps}, guidance {g:g})",
                        "潜在扩散，交叉注意力读取提示词（DDIM-{steps}，引导系数 {g:g}）"),
    "ldm.compare.pixel": ("pixel-space DDPM `{name}`: {side}×{side}, unconditional (DDIM-{steps})",
                          "像素空间 DDPM `{name}`：{side}×{side}，无条件（DDIM-{steps}）"),
    "ldm.compare.clip": ("CLIP guidance: `{name}` steered by the GenLab CLIP ({steps} steps)",
                         "CLIP 引导：用 GenLab CLIP 引导 `{name}`（{steps} 步）"),
    "ldm.compare.note": (
        "No pixel-space model exists for the scenes world: the pixel DDPM here is the **shapes** DDPM "
        "({side}×{side}, its own world, no text), so its images cannot follow the prompt; its numbers show "
        "what denoising in pixel space costs. At 64×64 with guidance the same network would need about "
        "{ratio:.0f}× its multiply-adds. CLIP guidance steers that DDPM toward the prompt through the GenLab CLIP, "
        "which knows only the shapes world's words.",
        "场景世界没有像素空间模型：这里的像素 DDPM 是**形状**世界的 DDPM（{side}×{side}，自己的世界，没有文本），"
        "所以它的图像无法遵循提示词；它的数字说明在像素空间去噪的代价。若在 64×64 上并加上引导，同一网络约需 {ratio:.0f} 倍的乘加运算。"
        "CLIP 引导通过 GenLab CLIP 把该 DDPM 引向提示词，而 GenLab CLIP 只认识形状世界的词。"),
    "ldm.compare.running": ("Running: {what} …", "正在运行：{what} …"),
    "ldm.compare.nothing": ("nothing", "什么都没有"),
    "ldm.compare.skipped": ("skipped: {reason}", "已跳过：{reason}"),
    "ldm.explain.body": (
        "**Why a latent?** A 64×64×3 image has 12,288 numbers; its latent 4×16×16 has 1,024. The U-Net runs "
        "every step, so working on the latent makes each step ~12× smaller. The autoencoder (trained first, "
        "with a very light KL term) is run once at the end.\n\n"
        "**How words steer the picture.** Every U-Net block is followed by cross-attention: each latent pixel "
        "asks (query) and the prompt's tokens answer (keys, values); the softmax over the tokens says which "
        "word that pixel reads. The maps under the diagram show it per word: where \"red\" and \"circle\" land.\n\n"
        "**Classifier-free guidance.** The caption was dropped 10% of the time in training, so the same network "
        "also predicts ε for the empty prompt; sampling uses ε(∅) + s·(ε(prompt) − ε(∅)).\n\n"
        "**The cheap preview** is a linear map from the 4 latent channels to RGB, fitted once by least squares: "
        "no decoder pass, so every step can be shown as it happens.\n\n"
        "**What the text encoder knows.** A small BERT built from a config and trained here, jointly with the "
        "U-Net, only on the scenes captions: a word outside them is [UNK] and the tab refuses it.",
        "**为什么用潜在表示？** 一张 64×64×3 的图像有 12,288 个数，它的潜在表示 4×16×16 只有 1,024 个。U-Net 每一步都要运行，"
        "在潜在空间中工作使每一步的计算约小 12 倍。自编码器（先训练，KL 项权重很小）只在最后运行一次。\n\n"
        "**词语如何引导图像。** 每个 U-Net 块后面都有交叉注意力：每个潜在像素发出查询，提示词的词元给出键和值；"
        "对词元做 softmax 就得到这个像素读取哪个词。流程图下方的图按词显示：“红色”和“圆形”落在哪里。\n\n"
        "**无分类器指导。** 训练时有 10% 的描述被丢弃，因此同一个网络也能预测空提示词下的 ε；采样时使用 ε(∅) + s·(ε(提示词) − ε(∅))。\n\n"
        "**快速预览**是从 4 个潜在通道到 RGB 的线性映射，用最小二乘法拟合一次：不需要运行解码器，所以每一步都能即时显示。\n\n"
        "**文本编码器知道什么。** 一个按配置构建、在这里与 U-Net 一起训练的小型 BERT，只见过场景描述：其他词都是 [UNK]，本页会拒绝。"),
}

STRINGS.update(LDM_STRINGS)

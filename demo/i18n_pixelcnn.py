"""The PixelCNN part's strings (English, Chinese), added to demo.i18n.STRINGS at import; also the
training tab's `train.family.pixelcnn` and the family's studio knob.

Terms: 自回归模型 (glossary); for terms the glossary does not list yet: 掩码卷积 (masked
convolution), 盲区 (blind spot), 门控 PixelCNN (gated PixelCNN), 因子分解 (factorisation),
感受野 (receptive field), 负对数似然 (negative log-likelihood), 比特/维 (bits per dimension).
"""

from __future__ import annotations

from .i18n import STRINGS

PIXELCNN_STRINGS: dict[str, tuple[str, str]] = {
    "pixelcnn.tab": ("PixelCNN", "PixelCNN"),
    "train.family.pixelcnn": ("PixelCNN (autoregressive)", "PixelCNN（自回归模型）"),
    "train.pixelcnn.layers": ("Layers (PixelCNN)", "层数（PixelCNN）"),
    "train.pixelcnn.layers.info": (
        "Each gated layer sees one more row up and one more column left.",
        "每一层门控卷积向上多看一行、向左多看一列。"),
    "pixelcnn.sub.sample": ("Sample", "采样"),
    "pixelcnn.sub.complete": ("Complete", "补全"),
    "pixelcnn.sub.field": ("Receptive field", "感受野"),
    "pixelcnn.sub.likelihood": ("Likelihood", "似然"),
    "pixelcnn.sub.explain": ("How it works", "原理"),
    # --- sample -------------------------------------------------------------------------------------
    "pixelcnn.sample.help": (
        "The model draws every pixel from p(xᵢ | all pixels before it), left to right, top to bottom. "
        "Watch the images fill in; beside them, the distribution the last pixel was drawn from (the first "
        "image's) and how sure the model was at every pixel so far.",
        "模型按从左到右、从上到下的顺序，从 p(xᵢ | 之前的所有像素) 中逐个采样像素。观察图像逐步填满；"
        "旁边是刚采样的像素所用的分布（第一张图像的），以及模型在已生成的每个像素上有多确定。"),
    "pixelcnn.n": ("Images", "图像数"),
    "pixelcnn.seed": ("Seed", "随机种子"),
    "pixelcnn.label": ("Class", "类别"),
    "pixelcnn.label.all": ("all (0, 1, 2, ...)", "全部（0, 1, 2, ...）"),
    "pixelcnn.temperature": ("Temperature", "温度"),
    "pixelcnn.temperature.info": (
        "Logits divided by T: below 1 sharper (cleaner, less varied), above 1 flatter (noisier).",
        "logits 除以 T：小于 1 分布更尖锐（更干净、更少变化），大于 1 更平坦（更多噪声）。"),
    "pixelcnn.top_k": ("Top-k", "Top-k"),
    "pixelcnn.top_k.info": ("Keep only the k likeliest values of each pixel (0: all).",
                            "每个像素只保留概率最高的 k 个取值（0：全部保留）。"),
    "pixelcnn.top_p": ("Top-p (nucleus)", "Top-p（核采样）"),
    "pixelcnn.top_p.info": ("Keep the smallest set of values whose probability adds up to p (1: all).",
                            "保留概率之和达到 p 的最小取值集合（1：全部保留）。"),
    "pixelcnn.run": ("Sample pixel by pixel", "逐像素采样"),
    "pixelcnn.stop": ("Stop", "停止"),
    "pixelcnn.images": ("Images", "图像"),
    "pixelcnn.dist": ("Distribution of the last pixel drawn (first image)", "刚采样像素的分布（第一张图像）"),
    "pixelcnn.conf": ("Confidence: the largest probability at each pixel", "置信度：每个像素分布中的最大概率"),
    "pixelcnn.status.running": ("Pixel {done} of {total} · {s:.1f} s", "第 {done} / {total} 个像素 · {s:.1f} 秒"),
    "pixelcnn.status.done": ("{n} images, {total} pixels each, in {s:.2f} s.",
                             "{n} 张图像，每张 {total} 个像素，用时 {s:.2f} 秒。"),
    "pixelcnn.status.stopped": ("Stopped at pixel {done} of {total}.", "在第 {done} / {total} 个像素处停止。"),
    # --- complete -----------------------------------------------------------------------------------
    "pixelcnn.complete.help": (
        "Keep the top rows of a digit (a held-out one, an upload or a drawing) and let the model draw the "
        "rest, several times: each completion is another sample of p(bottom | top).",
        "保留一个数字（留出集中的示例、上传的图像或手绘）的上面几行，让模型把其余部分画出来，"
        "画几次：每个补全都是 p(下半部分 | 上半部分) 的另一个样本。"),
    "pixelcnn.rows": ("Rows kept", "保留的行数"),
    "pixelcnn.completions": ("Completions", "补全数"),
    "pixelcnn.complete.run": ("Complete", "补全"),
    "pixelcnn.complete.given": ("Kept (top) and hidden (shaded) part", "保留的部分（上）与遮住的部分（阴影）"),
    "pixelcnn.complete.out": ("Completions", "补全结果"),
    # --- receptive field ------------------------------------------------------------------------------
    "pixelcnn.field.help": (
        "Click a pixel. Coloured: the pixels its distribution depends on, found by the network's gradient "
        "(not by a formula). Left: a plain stack of masked convolutions with as many layers, whose "
        "dependencies leave a **blind spot** up and to the right (orange: pixels the gated PixelCNN sees and "
        "the plain stack does not). Right: the gated PixelCNN.",
        "点击一个像素。着色的是它的分布所依赖的像素，由网络的梯度求得（不是按公式画的）。左边：层数相同的"
        "普通**掩码卷积**堆叠，它的依赖在右上方留下一个**盲区**（橙色：门控 PixelCNN 看得到而普通堆叠"
        "看不到的像素）。右边：门控 PixelCNN。"),
    "pixelcnn.field.plain": ("Plain masked stack", "普通掩码卷积堆叠"),
    "pixelcnn.field.gated": ("Gated PixelCNN (this model)", "门控 PixelCNN（当前模型）"),
    "pixelcnn.field.result": (
        "Pixel (row {row}, column {col}): the plain stack depends on **{plain}** earlier pixels, the gated "
        "PixelCNN on **{gated}**; **{blind}** of the gated one's are in the plain stack's blind spot. "
        "Neither depends on a later pixel ({later_plain} and {later_gated}).",
        "像素（第 {row} 行，第 {col} 列）：普通堆叠依赖 **{plain}** 个之前的像素，门控 PixelCNN 依赖 "
        "**{gated}** 个；其中 **{blind}** 个位于普通堆叠的盲区。两者都不依赖之后的像素（{later_plain} 和 "
        "{later_gated}）。"),
    "pixelcnn.field.row": ("Row", "行"),
    "pixelcnn.field.col": ("Column", "列"),
    # --- likelihood -----------------------------------------------------------------------------------
    "pixelcnn.like.help": (
        "A PixelCNN gives the **exact** log-likelihood: log p(x) is the sum of the log-probabilities of "
        "the pixels it drew. A VAE can only give a **bound** (the ELBO). Below, both on the same held-out "
        "digits. Careful: this PixelCNN models 256 grey levels, the VAE binarised pixels (a Bernoulli per "
        "pixel), so their numbers measure different things; the lesson is exact against bound, and bits "
        "per dimension is how likelihood models are compared.",
        "PixelCNN 给出**精确的**对数似然：log p(x) 就是它采样每个像素时的对数概率之和。VAE 只能给出一个"
        "**下界**（证据下界 ELBO）。下面是二者在同一批留出数字上的结果。注意：这个 PixelCNN 对 256 级灰度"
        "建模，VAE 对二值化的像素建模（每个像素一个伯努利分布），所以两个数字衡量的不是同一件事；"
        "要点是精确值与下界之别，而似然模型之间用比特/维来比较。"),
    "pixelcnn.like.vae": ("VAE to compare", "对比的 VAE"),
    "pixelcnn.like.count": ("Held-out digits", "留出的数字个数"),
    "pixelcnn.like.run": ("Measure", "计算"),
    "pixelcnn.like.table": ("Per digit", "逐个数字"),
    "pixelcnn.like.head": (
        "| digit | class | PixelCNN −log p(x) (nats) | PixelCNN bits/dim | VAE −ELBO (nats) |",
        "| 数字 | 类别 | PixelCNN −log p(x)（奈特） | PixelCNN 比特/维 | VAE −ELBO（奈特） |"),
    "pixelcnn.like.mean": ("mean", "平均"),
    "pixelcnn.like.summary": (
        "Mean over {n} held-out digits: PixelCNN **{nats:.1f} nats** per image = **{bpd:.3f} bits/dim** "
        "(exact); VAE −ELBO **{elbo:.1f} nats** (a bound on −log p(x) of binarised digits). Whole held-out "
        "set (card): {card}.",
        "{n} 个留出数字的平均值：PixelCNN 每张 **{nats:.1f} 奈特** = **{bpd:.3f} 比特/维**（精确值）；"
        "VAE −ELBO **{elbo:.1f} 奈特**（二值化数字的 −log p(x) 的上界）。整个留出集（模型卡）：{card}。"),
    "pixelcnn.like.no_vae": ("no VAE available", "没有可用的 VAE"),
    "pixelcnn.card.nll": ("Held-out NLL", "留出集负对数似然"),
    "pixelcnn.card.config": ("Network", "网络"),
    # --- how it works ---------------------------------------------------------------------------------
    "pixelcnn.explain.body": (
        r"""### The factorisation
Any distribution over images can be written, by the chain rule, as a product of one-pixel
conditionals in a fixed order (raster order: left to right, top to bottom):

$$p(x) = \prod_{i=1}^{n} p(x_i \mid x_1, \dots, x_{i-1})$$

A PixelCNN is a network that outputs all n conditionals at once, each a softmax over the 256 grey
levels of pixel i. Training maximises log p(x) = Σᵢ log p(xᵢ | x₍<ᵢ₎), which is **exact**: no bound,
no sampling. Test NLL is reported in **bits per dimension**, −log₂ p(x) / (pixels × channels).

### Masked convolutions
To output p(xᵢ | x₍<ᵢ₎) for every i in one forward pass, the network must never let pixel i's output
see pixel i or anything after it. A **masked convolution** zeroes the kernel weights at and after the
centre (mask A, first layer) or after it (mask B, later layers). Training is parallel; **sampling is
sequential**: draw pixel 1, put it in, draw pixel 2, ... (here 784 steps for a digit; each step reuses
cached features of the rows above, so it does not recompute the whole image).

### The blind spot
Stacking masked 3×3 convolutions grows the receptive field, but not everywhere: pixels up and to the
right of the current one are never reached, however deep the stack. The Receptive field sub-tab
shows it, computed from the network's gradients.

### Gated PixelCNN
van den Oord et al. (2016) split the network into two stacks. A **vertical stack** sees every row
above (its kernels reach only upward); a **horizontal stack** sees the current row to the left and
takes the vertical stack's features. Together they cover everything before the pixel: no blind spot.
Each layer uses a gated activation, tanh(W_f ∗ x) ⊙ σ(W_g ∗ x), and a class label can be added as a
bias inside each gate (a class-conditional PixelCNN).

### Sampling controls
**Temperature** divides the logits by T. **Top-k** keeps the k likeliest values; **top-p** keeps the
smallest set whose probability reaches p. All three trade diversity for cleaner pictures.
""",
        r"""### 因子分解
根据链式法则，任何图像分布都可以按固定顺序（光栅顺序：从左到右、从上到下）写成单个像素条件分布的乘积：

$$p(x) = \prod_{i=1}^{n} p(x_i \mid x_1, \dots, x_{i-1})$$

PixelCNN 是一个一次输出全部 n 个条件分布的网络，每个都是第 i 个像素 256 级灰度上的 softmax。
训练最大化 log p(x) = Σᵢ log p(xᵢ | x₍<ᵢ₎)，它是**精确的**：没有下界，也不需要采样。
测试集负对数似然以**比特/维**报告：−log₂ p(x) / (像素数 × 通道数)。

### 掩码卷积
为了在一次前向传播中输出每个 i 的 p(xᵢ | x₍<ᵢ₎)，网络绝不能让像素 i 的输出看到像素 i 或之后的像素。
**掩码卷积**把卷积核在中心及之后（掩码 A，第一层）或中心之后（掩码 B，之后各层）的权重置零。
训练可以并行，**采样却是顺序的**：先采样第 1 个像素，填进去，再采样第 2 个……（一个数字要 784 步；
每一步复用上方各行缓存的特征，不必重新计算整张图像）。

### 盲区
堆叠 3×3 掩码卷积会扩大感受野，但不是处处都扩大：当前像素右上方的像素无论堆多深都看不到。
“感受野”子标签页根据网络的梯度把它画了出来。

### 门控 PixelCNN
van den Oord 等人（2016）把网络分成两个堆栈。**垂直堆栈**看上方所有行（卷积核只向上延伸）；
**水平堆栈**看当前行左边的像素，并接收垂直堆栈的特征。二者合起来覆盖像素之前的一切：没有盲区。
每一层使用门控激活 tanh(W_f ∗ x) ⊙ σ(W_g ∗ x)，类别标签可以作为偏置加进每个门里（类别条件 PixelCNN）。

### 采样控制
**温度**把 logits 除以 T。**Top-k** 只保留概率最高的 k 个取值；**top-p** 保留概率之和达到 p 的最小集合。
三者都是用多样性换取更干净的图像。
"""),
}

STRINGS.update(PIXELCNN_STRINGS)

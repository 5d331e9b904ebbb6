"""The VQ-VAE part's strings (English, Chinese), added to demo.i18n.STRINGS at import; also the
training tab's name of the family and of its knobs. Terms follow ../shared/GLOSSARY.md
(矢量量化, 码本, 编码器 / 解码器, 重构, 先验分布, 自回归模型, 采样, 随机种子)."""

from __future__ import annotations

from .i18n import STRINGS

VQ_STRINGS: dict[str, tuple[str, str]] = {
    # the training tab
    "train.family.vqvae": ("VQ-VAE + transformer prior", "VQ-VAE + Transformer 先验"),
    "train.vq_codebook": ("Codebook size K", "码本大小 K"),
    "train.vq_codebook.info": ("Codes an image's tokens are chosen from.", "图像的 token 从这么多个编码中选取。"),
    "train.vq_commitment": ("Commitment weight β", "承诺损失权重 β"),
    "train.vq_commitment.info": ("How hard the encoder is pulled towards its chosen code.",
                                 "编码器输出被拉向所选编码的力度。"),
    "train.vq_prior_layers": ("Prior layers", "先验层数"),
    # sub-tabs
    "vq.tab": ("VQ-VAE + prior", "VQ-VAE + 先验"),
    "vq.sub.tokens": ("Tokens", "词元（token）"),
    "vq.sub.codebook": ("Codebook", "码本"),
    "vq.sub.prior": ("Prior", "先验采样"),
    "vq.sub.explain": ("How it works (VQ)", "原理（VQ）"),
    "vq.intro": (
        "A **VQ-VAE** encodes an image into a small grid of vectors and replaces each by its nearest entry in "
        "a **codebook** (vector quantisation): the image becomes a grid of integer **tokens**. A GPT-2 "
        "**prior**, trained here from scratch, then generates token grids one token at a time, and the "
        "decoder turns them into images.",
        "**VQ-VAE** 把图像编码成一小格一小格的向量，再把每个向量换成**码本**中离它最近的条目"
        "（矢量量化）：图像就变成了一格格整数 **token**。随后一个在这里从零训练的 GPT-2 **先验**"
        "逐个生成 token 网格，解码器再把它们变回图像。",
    ),
    "vq.card.config": ("Network", "网络"),
    "vq.card.metrics": ("Held-out", "留出集"),
    "vq.card.metrics.value": ("MSE {mse:.4f} · PSNR {psnr:.1f} dB · perplexity {ppl:.1f} · prior {nll} nats/token",
                              "MSE {mse:.4f} · PSNR {psnr:.1f} dB · 困惑度 {ppl:.1f} · 先验 {nll} nats/token"),
    "vq.upload.done": ("Loaded **{name}** (vqvae, {side}×{side} tokens, K = {k}). It is now selected.",
                       "已加载 **{name}**（vqvae，{side}×{side} 个 token，K = {k}），并已选中。"),
    # tokens
    "vq.tokens.help": (
        "Pick an image: its **token grid** (each cell one code, coloured by code) and the decoder's "
        "**reconstruction** from those tokens alone. Click a token, then move the *New code* "
        "slider: the edited image changes at that place at once (*Replace* applies a typed code).",
        "选择一张图像：右边是它的 **token 网格**（每格一个编码，按编码着色），以及解码器仅凭这些 "
        "token 得到的**重构**。点击一个 token，再拖动“新编码”滑块："
        "修改后的解码图像立即只在那个位置改变（输入编码后按“替换”也可以）。",
    ),
    "vq.input": ("Input", "输入"),
    "vq.grid": ("Token grid (click a token)", "token 网格（点击一个 token）"),
    "vq.recon": ("Reconstruction", "重构"),
    "vq.edited": ("Decoded after the edit", "修改后的解码结果"),
    "vq.code": ("New code", "新编码"),
    "vq.row": ("Token row", "token 所在行"),
    "vq.col": ("Token column", "token 所在列"),
    "vq.replace": ("Replace", "替换"),
    "vq.reset": ("Back to the encoded tokens", "恢复为编码得到的 token"),
    "vq.cell": ("Token at row {row}, column {col}: code **{code}**.", "第 {row} 行第 {col} 列的 token：编码 **{code}**。"),
    "vq.cell.none": ("Click a token on the grid (or set its row and column).", "请点击网格中的一个 token（或设置它的行和列）。"),
    "vq.recon.info": ("{side}×{side} = {n} tokens of {k} codes; reconstruction MSE {mse:.4f} (PSNR {psnr:.1f} dB).",
                      "{side}×{side} = {n} 个 token，共 {k} 个编码；重构 MSE {mse:.4f}（PSNR {psnr:.1f} dB）。"),
    # codebook
    "vq.codebook.help": (
        "Every code decoded on its own (a grid holding only that code, its middle cut out), how "
        "often each code is picked on the held-out images, the **perplexity** exp(H) of that usage (how "
        "many codes are in use, effectively) and the **dead codes** no image picks (crossed out). While a "
        "model trains in the Train tab, the curves vq_codes_in_use (perplexity / K) and vq_dead_codes (dead "
        "codes / K) follow the same two numbers step by step.",
        "每个编码单独解码的样子（整个网格都填上这个编码，再裁出中间一块）、每个编码在留出图像上被选中的次数、"
        "使用分布的**困惑度** exp(H)（等效地说有多少个编码在被使用），以及没有任何图像选中的**死编码**（打叉）。"
        "在“训练”页训练时，曲线 vq_codes_in_use（困惑度 / K）和 vq_dead_codes（死编码数 / K）逐步显示码本的使用情况。",
    ),
    "vq.codes": ("The codes, decoded", "码本中的编码（解码后）"),
    "vq.usage": ("Usage on held-out images (log scale)", "在留出图像上的使用次数（对数刻度）"),
    "vq.usage.info": ("Perplexity **{ppl:.1f}** of K = {k} codes · dead codes: **{dead}** ({images} held-out images).",
                      "困惑度 **{ppl:.1f}**（共 K = {k} 个编码）· 死编码：**{dead}**（{images} 张留出图像）。"),
    # prior
    "vq.prior.help": (
        "The prior samples the grid **token by token in raster order**: the picture fills in, and beside it "
        "the next token's most likely codes (after temperature, top-k and top-p). Below, *Resample region* "
        "keeps every token of the Tokens tab's grid outside a region you click and samples the ones inside "
        "again.",
        "先验按**光栅顺序逐个 token** 采样：图像一格格填满，旁边显示下一个 token 最可能的编码"
        "（经过温度、top-k 和 top-p 处理后）。下方的“重新采样区域”保留“词元”页网格中你所点选区域以外的"
        "所有 token，只重新采样区域内的 token。",
    ),
    "vq.class": ("Class", "类别"),
    "vq.class.none": ("none (unconditional)", "无（无条件）"),
    "vq.temperature": ("Temperature", "温度"),
    "vq.temperature.info": ("Divides the logits: below 1 sharper, above 1 more varied.",
                            "除以 logits：小于 1 更集中，大于 1 更多样。"),
    "vq.top_k": ("Top-k (0: off)", "top-k（0：关闭）"),
    "vq.top_p": ("Top-p (1: off)", "top-p（1：关闭）"),
    "vq.seed": ("Seed", "随机种子"),
    "vq.n": ("Images", "图像数"),
    "vq.sample": ("Sample token by token", "逐个 token 采样"),
    "vq.samples": ("Samples (filling in)", "采样结果（逐步填充）"),
    "vq.prior.grid": ("Image 1's tokens", "第 1 张图的 token"),
    "vq.candidates": ("Next token: top candidates", "下一个 token：最可能的候选"),
    "vq.candidate": ("code {code}", "编码 {code}"),
    "vq.status": ("Token {done} of {total} · {seconds:.2f} s", "第 {done} / {total} 个 token · {seconds:.2f} 秒"),
    "vq.status.done": ("Done: {total} tokens in {seconds:.2f} s.", "完成：{total} 个 token，用时 {seconds:.2f} 秒。"),
    "vq.region": ("Resample a region of the Tokens tab's image", "重新采样“词元”页图像中的一个区域"),
    "vq.region.help": (
        "The Tokens tab's image (after your edits) under its token grid. **Click two corners** on it to choose "
        "the region (one click: a single token), or set the rows and columns with the sliders. *Resample "
        "region* keeps every token outside it and lets the prior sample the ones inside again, token by token.",
        "下图是“词元”页的图像（包括你的修改）及其 token 网格。在图上**点击两个角**来选择区域（只点一次：单个 "
        "token），或者用滑块设置行和列。“重新采样区域”保留区域外的所有 token，让先验逐个重新采样区域内的 token。"),
    "vq.region.grid": ("Click two corners of the region", "点击区域的两个角"),
    "vq.region.info": ("Region: rows {r0}–{r1}, columns {c0}–{c1} ({n} tokens).",
                       "区域：第 {r0}–{r1} 行，第 {c0}–{c1} 列（{n} 个 token）。"),
    "vq.region.info.waiting": ("Corner at row {r0}, column {c0}: click the opposite corner (or resample this one "
                               "token).", "已选一个角：第 {r0} 行第 {c0} 列。请点击对角（或只重新采样这一个 token）。"),
    "vq.rows": ("Rows from", "起始行"),
    "vq.rows_to": ("to", "结束行"),
    "vq.cols": ("Columns from", "起始列"),
    "vq.cols_to": ("to", "结束列"),
    "vq.resample": ("Resample region", "重新采样区域"),
    # how it works
    "vq.explain": (
        """
### VQ-VAE
An encoder maps the image x to a grid of vectors z_e(x). **Vector quantisation** replaces each by its nearest
codebook entry, z_q = e_k with k = argmin_j ‖z_e − e_j‖; the grid of k's is the image's **tokens**. The decoder
reconstructs x from z_q. The loss (van den Oord et al. 2017) has three terms:

L = ‖x − D(z_q)‖² + ‖sg[z_e] − e‖² + β ‖z_e − sg[e]‖²

the **reconstruction loss**, the **codebook loss** (moves the codes towards the encoder's outputs) and the
**commitment loss** (keeps the encoder near its codes; sg = stop-gradient). Here the codebook follows
exponential moving averages of the vectors assigned to each code instead of the codebook loss, and a code
no vector has picked for a while (a **dead code**) restarts at a random encoder output.

**Straight-through gradient.** argmin has no gradient. The forward pass uses z_q, the backward pass copies
the decoder's gradient at z_q to z_e unchanged: z_q = z_e + sg[e − z_e].

### A prior over tokens
The VQ-VAE alone cannot generate: random tokens decode to noise. An **autoregressive model** learns
p(tokens) = ∏ᵢ p(tᵢ | class, t₁ … tᵢ₋₁) over the grid in raster order: the same chain-rule
factorisation a PixelCNN uses over pixels (its *How it works* sub-tab shows the masked convolutions and
the blind spot), over 49 or 64 tokens instead of 784 pixels. A transformer needs no masked convolution:
its **causal attention mask** lets token i attend only to the tokens before it, so it has no blind spot. Here it is a small GPT-2 (the
`transformers` package, configured from scratch) whose first token is the class. Sampling draws one token
at a time; the **key-value cache** keeps every earlier token's keys and values, so each step only processes
the new token. **Temperature** divides the logits; **top-k** keeps the k likeliest codes; **top-p** keeps
the smallest set whose probability reaches p.

### VQ-VAE-2, VQ-GAN, DALL-E
**VQ-VAE-2** (Razavi et al. 2019) uses a **hierarchy** of codes: for a 256×256 image, a coarse 32×32 top
grid holds the global structure and a finer 64×64 bottom grid, encoded given the top, holds the detail.
Each level has its own prior: the top one samples first, the bottom one is conditioned on the top grid.
**VQ-GAN** (Esser et al. 2021) trains the autoencoder with two more losses beside the reconstruction: an
**adversarial loss** (a patch discriminator says, for each patch, whether it looks real, and the decoder
learns to fool it) and a **perceptual loss** (the distance between deep features of a pretrained network,
LPIPS, rather than between pixels). A much coarser grid then still decodes to sharp images, and a
transformer prior over its tokens can model whole scenes. **DALL-E** (first version, Ramesh et al. 2021)
compresses a 256×256 image into 32×32 = 1024 tokens of 8192 codes with a discrete VAE and trains one
12-billion-parameter transformer on up to 256 tokens of the caption followed by the 1024 image tokens, as
one sequence. Given a caption it samples the image tokens one by one, exactly as this tab's prior does after
its class token; the best of many samples were then picked by CLIP.
""",
        """
### VQ-VAE
编码器把图像 x 映射成一格格向量 z_e(x)。**矢量量化**把每个向量换成码本中离它最近的条目：z_q = e_k，
k = argmin_j ‖z_e − e_j‖；这些 k 组成的网格就是图像的 **token**。解码器再从 z_q 重构 x。
损失函数（van den Oord 等，2017）有三项：

L = ‖x − D(z_q)‖² + ‖sg[z_e] − e‖² + β ‖z_e − sg[e]‖²

分别是**重构损失**、**码本损失**（把编码拉向编码器的输出）和**承诺损失**（让编码器输出靠近所选编码；
sg 表示停止梯度）。这里码本不用码本损失，而是用分配给每个编码的向量的指数移动平均来更新；
一段时间内没有被任何向量选中的编码（**死编码**）会被重置到一个随机的编码器输出上。

**直通梯度估计（straight-through）。** argmin 没有梯度。前向传播用 z_q，反向传播把解码器在 z_q 处的梯度
原样复制给 z_e：z_q = z_e + sg[e − z_e]。

### token 上的先验分布
单靠 VQ-VAE 不能生成：随机的 token 解码出来只是噪声。**自回归模型**按光栅顺序学习
p(tokens) = ∏ᵢ p(tᵢ | 类别, t₁ … tᵢ₋₁)：这和 PixelCNN 对像素所用的链式法则因子分解相同
（它的“原理”子标签页讲了掩码卷积和盲区），只是对象从 784 个像素换成了 49 或 64 个 token。
Transformer 不需要掩码卷积：它的**因果注意力掩码**让第 i 个 token 只能关注它之前的 token，所以没有盲区。这里用的是一个小型 GPT-2（`transformers` 库，从零配置），
它的第一个 token 是类别。采样时一次生成一个 token；**键值缓存**（KV cache）保存之前每个 token 的键和值，
所以每一步只需处理新的 token。**温度**除以 logits；**top-k** 只保留最可能的 k 个编码；
**top-p** 只保留概率之和达到 p 的最小集合。

### VQ-VAE-2、VQ-GAN 与 DALL-E
**VQ-VAE-2**（Razavi 等，2019）使用**层级结构**的编码：对一张 256×256 的图像，粗糙的 32×32 顶层网格
负责全局结构，更细的 64×64 底层网格（在顶层的条件下编码）负责细节。每层有自己的先验分布：先采样顶层，
底层先验以顶层网格为条件。**VQ-GAN**（Esser 等，2021）在重构损失之外再加两项损失：**对抗损失**
（一个图像块判别器逐块判断图像是否真实，解码器学着骗过它）和**感知损失**（比较预训练网络的深层特征，
即 LPIPS，而不是逐像素比较）。这样更粗的网格也能解码出清晰的图像，其 token 上的 Transformer 先验
可以建模整个场景。**DALL-E**（第一版，Ramesh 等，2021）用离散 VAE 把 256×256 图像压缩成 32×32 = 1024 个
token（码本有 8192 个编码），再用一个 120 亿参数的 Transformer 学习一个序列：最多 256 个描述文字的
token，后接 1024 个图像 token。给定描述文字，它逐个采样图像 token，正如本页的先验在类别 token
之后所做的那样；再用 CLIP 从许多采样结果中挑出最好的。
""",
    ),
}

STRINGS.update(VQ_STRINGS)

"""The VAE tab's "Autoencoder vs VAE" strings (English, Chinese), added to demo.i18n.STRINGS at
import. Terms follow ../shared/GLOSSARY.md (自编码器, 变分自编码器, 编码器 / 解码器, 潜在空间,
先验分布, 采样, 重构, KL 散度, 随机种子)."""

from __future__ import annotations

from .i18n import STRINGS

AE_STRINGS: dict[str, tuple[str, str]] = {
    "vae.sub.ae": ("Autoencoder vs VAE", "自编码器 vs VAE"),
    "ae.help": (
        "The same 16 random draws **z ~ N(0, I)** go through two decoders with the same networks, trained on "
        "the same digits: a plain **autoencoder** (left) and a **VAE** (right). Below: each one's 2-D "
        "**latent space**, the held-out digits' codes coloured by class, the prior's circles at 1, 2 and 3 "
        "standard deviations and the 16 draws as black crosses; then the decoder's output over the same "
        "square. Nothing put the autoencoder's codes where N(0, I) draws: they spread far wider, with empty "
        "regions (**holes**) the decoder never saw, and the prior's small circle covers a few of its digits only.",
        "同样 16 个随机抽取的 **z ~ N(0, I)** 分别送进两个网络结构相同、在相同数字上训练的解码器：普通的"
        "**自编码器**（左）和 **VAE**（右）。下方是各自的二维**潜在空间**：按类别着色的留出集数字编码、"
        "先验分布在 1、2、3 个标准差处的圆，以及用黑色叉号标出的 16 个采样点；再下方是解码器在同一方形区域上的输出。"
        "没有任何约束让自编码器的编码落在 N(0, I) 采样的地方：它们铺得宽得多，中间有解码器从没见过的空白区域"
        "（**空洞**），而先验分布的小圆只覆盖它的少数几个数字。",
    ),
    "ae.seed": ("Seed", "随机种子"),
    "ae.resample": ("Re-sample", "重新采样"),
    "ae.plain.title": ("Autoencoder (mnist-ae-z2)", "自编码器（mnist-ae-z2）"),
    "ae.variational.title": ("VAE (mnist-vae-z2)", "变分自编码器（mnist-vae-z2）"),
    "ae.samples": ("16 samples: decode(z), z ~ N(0, I)", "16 个样本：decode(z)，z ~ N(0, I)"),
    "ae.map": ("Latent map: codes, the prior's circles, the draws (×)", "潜在空间：编码、先验分布的圆、采样点（×）"),
    "ae.grid": ("The decoder over the same square", "解码器在同一方形区域上的输出"),
    "ae.score": (
        "The MNIST classifier on these {n}: **{classes}** different digits; mean confidence **{mean:.0%}**; "
        "**{sure}** of {n} at 90% or more.",
        "MNIST 分类器对这 {n} 个样本的判断：**{classes}** 种不同的数字；平均置信度 **{mean:.0%}**；"
        "{n} 个中有 **{sure}** 个达到 90% 以上。",
    ),
    "ae.how.title": ("How it works", "原理"),
    "ae.how": (
        "Both models encode a digit x to a code and decode it back. The **autoencoder** is trained on the "
        "reconstruction loss alone, with z = encoder(x): nothing says *where* the codes should lie, so the "
        "classes settle wherever reconstruction is easiest, as arms and islands of very different sizes, far "
        "beyond the prior's circles, with empty space between them. Its decoder is only ever trained on those "
        "codes. Draws from N(0, I) all land in one small patch near the origin: they decode to the few digits "
        "encoded there, or to blends where a draw falls between them, and every other digit is never sampled. "
        "Drawing from the codes' own spread instead would put many draws into the holes (the dark, empty "
        "regions of its decoded grid). The autoencoder compresses, but there is no distribution to sample from.\n\n"
        "The **VAE** encodes each x to a distribution q(z|x) = N(μ(x), σ(x)²), decodes a sample of it, and "
        "adds the **KL divergence** KL(q(z|x) ‖ N(0, I)) to the loss (the ELBO). The noise makes the "
        "decoder work on a whole neighbourhood of each code, and the KL pulls the codes together onto the "
        "prior N(0, I), so they fill its circles without gaps. Decoding z ~ N(0, I) then gives every digit: "
        "the prior is what makes the VAE a generative model. The price: classes overlap where the decoder "
        "must hedge, and samples are blurrier.\n\n"
        "The line under each set is the shipped MNIST classifier's verdict on each sample: how many different "
        "digits, and its top probability, a rough gauge of \"looks like one digit\"; "
        "`benchmarks/ae_holes.py` measures the same over 2,000 draws.",
        "两个模型都把数字 x 编码成一个编码，再解码回来。**自编码器**只用重构损失训练，z = encoder(x)："
        "没有任何约束规定编码该落在*哪里*，于是各类别停在最容易重构的位置，形成大小悬殊的条带和小岛，"
        "远远超出先验分布的圆，彼此之间是空白。它的解码器只在这些编码上训练过。从 N(0, I) 采样的点全都落在"
        "原点附近的一小片区域：解码出来只是编码在那里的少数几个数字，落在它们之间的点则是几个数字的混合，"
        "其他数字根本采样不到。若改为按编码本身的分布范围采样，许多点又会落进空洞（解码网格中黑暗、空白的区域）。"
        "自编码器能压缩，却没有可供采样的分布。\n\n"
        "**VAE** 把每个 x 编码成一个分布 q(z|x) = N(μ(x), σ(x)²)，对它的一个样本解码，并在损失中加上 "
        "**KL 散度** KL(q(z|x) ‖ N(0, I))（即证据下界 ELBO）。噪声让解码器要照顾每个编码周围的一整片区域，"
        "KL 项把编码拉到一起、贴合先验分布 N(0, I)，于是编码填满了各个圆，没有空隙。这时解码 z ~ N(0, I) "
        "就能得到所有数字：正是先验分布让 VAE 成为生成模型。代价是：类别重叠处解码器只能折中，样本也更模糊。\n\n"
        "每组样本下方一行是随附的 MNIST 分类器对每个样本的判断：有几种不同的数字，以及最高概率，"
        "粗略衡量“像不像某一个数字”；`benchmarks/ae_holes.py` 在 2,000 次采样上测量同样的指标。",
    ),
}

STRINGS.update(AE_STRINGS)

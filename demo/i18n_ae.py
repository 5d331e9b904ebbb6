"""The VAE tab's "Autoencoder vs VAE" strings (English, Chinese), added to demo.i18n.STRINGS at
import. Terms follow ../shared/GLOSSARY.md (自编码器, 变分自编码器, 编码器 / 解码器, 潜在空间,
先验分布, 采样, 重构, KL 散度, 随机种子)."""

from __future__ import annotations

from .i18n import STRINGS

AE_STRINGS: dict[str, tuple[str, str]] = {
    "vae.sub.ae": ("Autoencoder vs VAE", "自编码器 vs VAE"),
    "ae.help": (
        "The same 16 random draws **z ~ N(0, I)** go through two decoders with the same networks, trained on "
        "the same digits: a plain **autoencoder** (left) and a **VAE** (right). Below each: its 2-D "
        "**latent space**, with the held-out digits' codes coloured by class, the prior's circles at 1, 2 "
        "and 3 standard deviations and the 16 draws as black crosses; beside it, the decoder's output over "
        "the same square. Where a cross falls between the autoencoder's clusters, its decoder has never "
        "seen a code there: that is a **hole**.",
        "同样 16 个随机抽取的 **z ~ N(0, I)** 分别送进两个网络结构相同、在相同数字上训练的解码器：普通的"
        "**自编码器**（左）和 **VAE**（右）。下方是各自的二维**潜在空间**：按类别着色的留出集数字编码、"
        "先验分布在 1、2、3 个标准差处的圆，以及用黑色叉号标出的 16 个采样点；旁边是解码器在同一方形区域上"
        "的输出。叉号落在自编码器各簇之间时，它的解码器从没见过那里的编码：这就是一个**空洞**。",
    ),
    "ae.seed": ("Seed", "随机种子"),
    "ae.resample": ("Re-sample", "重新采样"),
    "ae.plain.title": ("Autoencoder (mnist-ae-z2)", "自编码器（mnist-ae-z2）"),
    "ae.variational.title": ("VAE (mnist-vae-z2)", "变分自编码器（mnist-vae-z2）"),
    "ae.samples": ("16 samples: decode(z), z ~ N(0, I)", "16 个样本：decode(z)，z ~ N(0, I)"),
    "ae.map": ("Latent map: codes, the prior's circles, the draws (×)", "潜在空间：编码、先验分布的圆、采样点（×）"),
    "ae.grid": ("The decoder over the same square", "解码器在同一方形区域上的输出"),
    "ae.score": (
        "The MNIST classifier's confidence on these {n}: mean **{mean:.0%}**; **{sure}** of {n} at 90% or more.",
        "MNIST 分类器对这 {n} 个样本的置信度：平均 **{mean:.0%}**；{n} 个中有 **{sure}** 个达到 90% 以上。",
    ),
    "ae.how.title": ("How it works", "原理"),
    "ae.how": (
        "Both models encode a digit x to a code and decode it back. The **autoencoder** is trained on the "
        "reconstruction loss alone, with z = encoder(x): nothing says *where* the codes should lie, so the "
        "classes settle wherever reconstruction is easiest, as separate arms and islands with empty space "
        "between them and far from the origin. Its decoder is only ever trained on those codes, so a z drawn "
        "from N(0, I) often lands in a gap (a **hole**) and decodes to a blur or a mix of digits: the "
        "autoencoder compresses, but you cannot sample from it.\n\n"
        "The **VAE** encodes each x to a distribution q(z|x) = N(μ(x), σ(x)²), decodes a sample of it, and "
        "adds the **KL divergence** KL(q(z|x) ‖ N(0, I)) to the loss (the ELBO). The noise makes the "
        "decoder work on a whole neighbourhood of each code, and the KL pulls the codes together onto the "
        "prior N(0, I), so its codes fill the circles without gaps. Decoding z ~ N(0, I) then gives digits: "
        "the prior is what makes the VAE a generative model. The price is blurrier reconstructions (compare "
        "them in the Reconstruction & β part) and an overlap of classes where the decoder must hedge.\n\n"
        "The score under each set is the shipped MNIST classifier's top probability on each sample, a rough "
        "gauge of \"looks like one digit\"; `benchmarks/ae_holes.py` measures it over 2,000 draws.",
        "两个模型都把数字 x 编码成一个编码，再解码回来。**自编码器**只用重构损失训练，z = encoder(x)："
        "没有任何约束规定编码该落在*哪里*，于是各类别停在最容易重构的位置，形成彼此分开的条带和小岛，"
        "中间是空白，而且离原点很远。它的解码器只在这些编码上训练过，所以从 N(0, I) 采样的 z 常常落进"
        "空隙（**空洞**），解码出来是一团模糊或几个数字的混合：自编码器能压缩，却不能用来采样。\n\n"
        "**VAE** 把每个 x 编码成一个分布 q(z|x) = N(μ(x), σ(x)²)，对它的一个样本解码，并在损失中加上 "
        "**KL 散度** KL(q(z|x) ‖ N(0, I))（即证据下界 ELBO）。噪声让解码器要照顾每个编码周围的一整片区域，"
        "KL 项把编码拉到一起、贴合先验分布 N(0, I)，于是编码填满了各个圆，没有空隙。这时解码 z ~ N(0, I) "
        "就得到数字：正是先验分布让 VAE 成为生成模型。代价是重构更模糊（可在“重构与 β”部分对比），"
        "以及类别重叠处解码器只能折中。\n\n"
        "每组样本下方的分数是随附的 MNIST 分类器对每个样本给出的最高概率，粗略衡量“像不像某一个数字”；"
        "`benchmarks/ae_holes.py` 在 2,000 次采样上测量同一指标。",
    ),
}

STRINGS.update(AE_STRINGS)

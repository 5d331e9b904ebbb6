"""The Metrics tab's strings (English, Chinese), added to demo.i18n.STRINGS at import.

Terms (glossary): FID（Fréchet Inception 距离）, IS（Inception 分数）, 精确率 / 召回率, 采样质量 /
多样性 / 采样速度, 重构, 采样步数; for terms it does not list yet: 特征空间 (feature space),
核 Inception 距离 KID (Kernel Inception Distance), 自助法 (bootstrap), 外推 (extrapolation),
峰值信噪比 PSNR, 结构相似性 SSIM, 三难困境 (trilemma).
"""

from __future__ import annotations

from .i18n import STRINGS

METRICS_STRINGS: dict[str, tuple[str, str]] = {
    "metrics.tab": ("Metrics", "评估指标"),
    "metrics.intro": (
        "How good is a generative model? Compare its samples with real held-out images of its data set (MNIST "
        "digits or GenLab's shapes) in a **feature space**: FID, KID, IS, precision and recall. Every number here "
        "says which feature space it was measured in; numbers from different feature spaces cannot be compared.",
        "生成模型有多好？在一个**特征空间**中把它的样本与其数据集（MNIST 数字或 GenLab 的形状）中留出的真实图像"
        "比较：FID、KID、IS、精确率和召回率。这里的每个数字都标明了它所用的特征空间；不同特征空间的数字不能相互比较。"),
    "metrics.sub.scores": ("Scores", "得分"),
    "metrics.sub.curve": ("FID against N", "FID 与样本数 N"),
    "metrics.sub.pitfall": ("Resize / JPEG pitfall", "缩放 / JPEG 陷阱"),
    "metrics.sub.trilemma": ("The trilemma", "三难困境"),
    "metrics.sub.explain": ("How it works", "原理"),
    # --- settings ---------------------------------------------------------------------------------
    "metrics.models": ("Models (of the data set above)", "模型（上面所选的数据集）"),
    "metrics.models.info": (
        "Shipped models of every family, your uploads and the models you trained in the Train tab (up to 4).",
        "各个模型家族的内置模型、你上传的模型和你在“训练”标签页中训练的模型（最多 4 个）。"),
    "metrics.model": ("Model (of the data set above)", "模型（上面所选的数据集）"),
    "metrics.data": ("Data set", "数据集"),
    "metrics.data.info": ("Its models, its held-out real images and its own classifier. The trilemma stays on MNIST.",
                          "决定可选的模型、留出的真实图像和该数据集自己的分类器。三难困境始终使用 MNIST。"),
    "metrics.data.mnist": ("MNIST (digits)", "MNIST（手写数字）"),
    "metrics.data.shapes": ("shapes (GenLab's coloured shapes)", "shapes（GenLab 的彩色形状）"),
    "metrics.space.mnist": (
        "Feature space: **GenLab's MNIST classifier (128 dims)**, its penultimate layer; IS from its softmax over "
        "the 10 digits.",
        "特征空间：**GenLab 的 MNIST 分类器（128 维）**的倒数第二层；IS 来自它对 10 个数字的 softmax。"),
    "metrics.space.shapes": (
        "Feature space: **GenLab's shapes classifier (128 dims)**, its penultimate layer; IS from its shape "
        "head's posterior over the 8 shapes (colour and position not read).",
        "特征空间：**GenLab 的 shapes 分类器（128 维）**的倒数第二层；IS 来自它的形状输出头对 8 种形状的后验"
        "（不读颜色和位置）。"),
    "metrics.space.inception": ("Feature space: **Inception-v3 (pool3, 2048 dims)**; IS from its logits.",
                                "特征空间：**Inception-v3（pool3 层，2048 维）**；IS 来自它的 logits。"),
    "metrics.real.mnist": ("held-out MNIST digits", "留出的 MNIST 数字"),
    "metrics.real.shapes": ("held-out shapes images (the test stream)", "留出的 shapes 图像（测试流）"),
    "metrics.n": ("Samples N per model", "每个模型的样本数 N"),
    "metrics.n.info": ("Under about 2,000, FID is biased upward: compare models only at the same N.",
                       "少于约 2,000 时 FID 明显偏高：只在相同的 N 下比较模型。"),
    "metrics.seed": ("Seed", "随机种子"),
    "metrics.features": ("Feature space", "特征空间"),
    "metrics.features.classifier": ("GenLab's classifier of the data set (128 dims)",
                                    "GenLab 自己的该数据集分类器（128 维）"),
    "metrics.features.inception": ("Inception-v3 (2048 dims, weights downloaded)", "Inception-v3（2048 维，需下载权重）"),
    "metrics.steps": ("DDIM steps (diffusion models)", "DDIM 采样步数（扩散模型）"),
    "metrics.run": ("Compute", "计算"),
    "metrics.stop": ("Stop", "停止"),
    "metrics.features.ok": ("Feature space: **{space}**.", "特征空间：**{space}**。"),
    # --- progress ---------------------------------------------------------------------------------
    "metrics.status.real": ("Reading the held-out images' features ...", "正在提取留出图像的特征……"),
    "metrics.status.sampling": ("{model}: {done} of {n} samples · {s:.1f} s", "{model}：已采样 {done} / {n} · {s:.1f} 秒"),
    "metrics.status.scoring": ("{model}: {stage} · {s:.1f} s", "{model}：{stage} · {s:.1f} 秒"),
    "metrics.status.done": ("Done in {s:.1f} s.", "完成，用时 {s:.1f} 秒。"),
    # --- scores -----------------------------------------------------------------------------------
    "metrics.scores.help": (
        "Pick models and N, then compute. Error bars (±) are the standard deviation over 10 bootstrap "
        "resamples of both feature sets; KID's and IS's are over subsets. The last row is the real-vs-real "
        "floor: two halves of the held-out images, what a perfect model would score at 1,000 samples.",
        "选择模型和 N，然后计算。误差（±）是对两组特征各做 10 次自助法（bootstrap）重采样得到的标准差；KID 和 IS "
        "的误差来自子集。最后一行是真实对真实的下限：留出图像的两半之间的得分，即完美模型在 1,000 个样本时的得分。"),
    "metrics.scores.space": ("Feature space: **{space}** · real images: {real} {images} · N = {n}",
                             "特征空间：**{space}** · 真实图像：{real} 个{images} · N = {n}"),
    "metrics.scores.head": (
        "| model | FID ↓ | KID ↓ | IS ↑ | precision ↑ | recall ↑ | ms / image |",
        "| 模型 | FID ↓ | KID ↓ | IS ↑ | 精确率 ↑ | 召回率 ↑ | 毫秒 / 图像 |"),
    "metrics.scores.floor": ("real vs real (1,000 vs 1,000)", "真实对真实（1,000 对 1,000）"),
    "metrics.scores.few": (
        "⚠️ Only {n} samples per model: FID is biased upward below about 2,000 (and grows as N shrinks). "
        "Compare models at the same N, read KID, or see the extrapolation in “FID against N”.",
        "⚠️ 每个模型只有 {n} 个样本：少于约 2,000 时 FID 明显偏高（N 越小越高）。请在相同的 N 下比较模型，"
        "参考 KID，或查看“FID 与样本数 N”中的外推结果。"),
    "metrics.samples": ("First samples of each model (one row per model)", "每个模型的前几个样本（每行一个模型）"),
    # --- FID vs N ---------------------------------------------------------------------------------
    "metrics.curve.help": (
        "FID from N = 100 up to all the samples, each small N drawn 3 times. FID falls as N grows: it is biased "
        "at small N. Plotted against 1/N it is close to a straight line, whose value at 1/N = 0 estimates FID "
        "at infinite N (Chong & Forsyth 2020). KID, beside it, is unbiased: flat up to noise.",
        "FID 从 N = 100 到全部样本，每个较小的 N 抽取 3 次。FID 随 N 增大而下降：小 N 时有偏。以 1/N 为横轴时接近"
        "一条直线，它在 1/N = 0 处的值即无穷多样本时 FID 的估计（Chong & Forsyth 2020）。旁边的 KID 是无偏的："
        "除噪声外保持平坦。"),
    "metrics.curve.run": ("Compute the curve", "计算曲线"),
    "metrics.curve.summary": (
        "FID at N = {n}: **{fid:.1f}**; extrapolated to infinite N: **{inf:.1f}** (FID ≈ FID∞ + {slope:.0f} / N). "
        "KID over the same Ns: {kid_lo:.1f} to {kid_hi:.1f}. Feature space: {space}.",
        "N = {n} 时 FID 为 **{fid:.1f}**；外推到无穷多样本：**{inf:.1f}**（FID ≈ FID∞ + {slope:.0f} / N）。"
        "相同各 N 下的 KID：{kid_lo:.1f} 到 {kid_hi:.1f}。特征空间：{space}。"),
    "metrics.plot.n": ("samples N", "样本数 N"),
    "metrics.plot.inv_n": ("1 / N", "1 / N"),
    "metrics.plot.fid_vs_n": ("FID against N", "FID 与 N"),
    "metrics.plot.fid_vs_inv": ("FID against 1/N, extrapolated", "FID 与 1/N 及外推"),
    "metrics.plot.kid_vs_n": ("KID against N (unbiased)", "KID 与 N（无偏）"),
    "metrics.plot.infinity": ("N → ∞", "N → ∞"),
    # --- pitfall ----------------------------------------------------------------------------------
    "metrics.pitfall.help": (
        "The same images, scored three times: as they are, after a resize round trip (bicubic up to 56 pixels, "
        "bilinear back to the original 28 or 32) and after a JPEG round trip (quality 75). The model did not "
        "change; the FID did. Real images move too: preprocess real and generated images the same way, always.",
        "同一批图像评三次分：原样、缩放往返之后（双三次插值放大到 56 像素，再双线性缩回原来的 28 或 32）、JPEG 往返"
        "之后（质量 75）。模型没有变，FID 却变了。真实图像也会变：真实图像和生成图像必须用完全相同的预处理。"),
    "metrics.pitfall.run": ("Compare", "比较"),
    "metrics.pitfall.head": ("| images | as they are | resize round trip | JPEG round trip |",
                             "| 图像 | 原样 | 缩放往返 | JPEG 往返 |"),
    "metrics.pitfall.real": ("real images (odd half, against the even half)", "真实图像（奇数一半，对比偶数一半）"),
    "metrics.pitfall.note": ("FID in {space}; N = {n} samples against {real} {images}.",
                             "FID，特征空间 {space}；N = {n} 个样本，对比 {real} 个{images}。"),
    # --- trilemma ---------------------------------------------------------------------------------
    "metrics.tri.help": (
        "No family is fast, high-quality and diverse at once. Each point is a shipped MNIST model: speed "
        "(ms per image on this machine, sampling only), quality (FID, lower is better) and diversity (recall, "
        "the colour). From the committed result (the table beside the chart); compute one model live to add a point. "
        "The trilemma is measured on MNIST only, whichever data set is chosen above.",
        "没有哪个模型家族能同时做到快速、高质量和多样。每个点是一个内置的 MNIST 模型：采样速度（本机每张图像的"
        "毫秒数，仅采样）、采样质量（FID，越低越好）和多样性（召回率，颜色）。"
        "数据来自已提交的结果（图旁的表格）；也可以现场计算一个模型，加入一个点。三难困境只在 MNIST 上测量，"
        "与上面所选的数据集无关。"),
    "metrics.tri.source": ("Committed result `{file}`: N = {n} per model, {hardware}; {note}.",
                           "已提交的结果 `{file}`：每个模型 N = {n}，{hardware}；{note}。"),
    "metrics.tri.none": ("No committed trilemma result yet (run `python -m benchmarks.trilemma`).",
                         "还没有已提交的三难困境结果（运行 `python -m benchmarks.trilemma`）。"),
    "metrics.tri.head": ("| model | ms / image ↓ | FID ↓ | recall ↑ | precision ↑ |",
                         "| 模型 | 毫秒 / 图像 ↓ | FID ↓ | 召回率 ↑ | 精确率 ↑ |"),
    "metrics.tri.recon": ("Reconstructions of the held-out digits (encode, decode)", "留出数字的重构（编码再解码）"),
    "metrics.tri.recon.head": ("| model | PSNR (dB) ↑ | SSIM ↑ |", "| 模型 | PSNR（dB）↑ | SSIM ↑ |"),
    "metrics.tri.live": ("live, N = {n}", "现场计算，N = {n}"),
    "metrics.tri.run": ("Compute this model live", "现场计算该模型"),
    "metrics.tri.plot.speed": ("ms per image (log scale)", "毫秒 / 图像（对数刻度）"),
    "metrics.tri.plot.fid": ("FID (lower is better)", "FID（越低越好）"),
    "metrics.tri.plot.recall": ("recall (diversity)", "召回率（多样性）"),
    "metrics.tri.plot.title": ("Quality, diversity, speed", "采样质量、多样性、采样速度"),
    # --- how it works -----------------------------------------------------------------------------
    "metrics.explain.body": (
        "### The feature space\n"
        "Every metric here compares **features**, not pixels: each image goes through a fixed network and we "
        "keep one layer's activations. GenLab ships its own MNIST classifier (99.15% on the held-out digits; "
        "its 128-d penultimate layer for FID, KID, precision and recall, its softmax for IS) and a shapes "
        "classifier (colour, shape and position heads, 98.95% to 100% held out; its 128-d penultimate layer, and "
        "for IS the shape head's posterior over 8 shapes). Each data set is measured in its own. Inception-v3 "
        "(2048-d pool3, trained on ImageNet photos) is the published standard; it needs its weights downloaded. "
        "**Numbers from different feature spaces are not comparable**: the distances live in different spaces "
        "with different scales (a 128-d layer of a digit classifier against a 2048-d layer of a photo "
        "classifier), so an FID of 20 in one says nothing about an FID of 20 in the other.\n\n"
        "### FID (Heusel et al. 2017)\n"
        "Fit a Gaussian to the real features (mean $\\mu_r$, covariance $\\Sigma_r$) and one to the generated "
        "features ($\\mu_g$, $\\Sigma_g$):\n\n"
        "$$\\mathrm{FID} = \\lVert \\mu_r - \\mu_g \\rVert^2 + \\mathrm{Tr}\\big(\\Sigma_r + \\Sigma_g - "
        "2(\\Sigma_r\\Sigma_g)^{1/2}\\big)$$\n\n"
        "Lower is better; 0 means identical Gaussians. **Why it is biased at small N:** the means and "
        "covariances are estimated from N samples, and the estimation noise adds to the distance on average "
        "(a trace of noise terms, roughly proportional to 1/N). So FID falls as N grows, even for a perfect "
        "model (the real-vs-real floor is not 0). With fewer samples than feature dimensions (2048 for "
        "Inception) the covariance is rank-deficient and the matrix square root unstable. Chong & Forsyth "
        "(2020): $\\mathrm{FID}_N \\approx \\mathrm{FID}_\\infty + k/N$, so fitting a line against $1/N$ and "
        "reading it at $1/N = 0$ estimates $\\mathrm{FID}_\\infty$.\n\n"
        "### KID (Bińkowski et al. 2018)\n"
        "The squared maximum mean discrepancy with the kernel $k(x, y) = (x^\\top y / d + 1)^3$, averaged over "
        "random subsets; its estimator is **unbiased**, so at small N it is noisier but not shifted.\n\n"
        "### IS (Salimans et al. 2016)\n"
        "$\\mathrm{IS} = \\exp\\big(\\mathbb{E}_x\\, \\mathrm{KL}(p(y\\mid x)\\,\\Vert\\, p(y))\\big)$ from a "
        "classifier's class probabilities: high when each image is confidently one class and all classes "
        "appear. At most the number of classes (10 digits; 8 shapes on shapes, where colour and position are not "
        "read). It never looks at real images.\n\n"
        "### Precision and recall (Kynkäänniemi et al. 2019)\n"
        "Around each real feature put a ball reaching its k-th nearest real neighbour (k = 3); the union is "
        "the real manifold. **Precision**: the fraction of generated samples inside it (quality). **Recall**: "
        "the same with the roles swapped, the fraction of real samples inside the generated manifold "
        "(diversity, coverage). A model that draws one perfect digit has high precision and low recall.\n\n"
        "### Error bars\n"
        "The ± beside FID, precision and recall is the standard deviation over 10 bootstrap resamples (both "
        "feature sets drawn again with replacement): what a different draw of the same N might have given.\n\n"
        "### Reconstructions\n"
        "An autoencoder (VAE, VQ-VAE) can also be judged by how well it reconstructs held-out digits: PSNR "
        "$= 10 \\log_{10}(1/\\mathrm{MSE})$ dB on pixels in [0, 1], and SSIM, which compares local means, "
        "variances and covariances (1 = identical).\n\n"
        "### Our numbers and published ones\n"
        "Published MNIST and CIFAR FIDs are almost all in Inception-v3's space, from 10,000 or 50,000 samples "
        "against the 60,000 training images, with their own resize pipeline. Ours are in the shipped "
        "classifier's 128-d space, from 2,000 samples against 2,000 held-out test digits, with models trained "
        "for minutes on a CPU or a shared GPU. None of these match, so neither do the numbers: a GenLab FID of "
        "136 is not worse than a published FID of 5. What does carry over is the **ranking** of models measured "
        "the same way, and the floor: a model cannot beat two halves of the real data at the same N.",
        "### 特征空间\n"
        "这里的每个指标比较的都是**特征**而不是像素：每张图像经过一个固定的网络，我们保留其中一层的激活。GenLab "
        "自带一个 MNIST 分类器（在留出数字上准确率 99.15%；它的 128 维倒数第二层用于 FID、KID、精确率和召回率，"
        "它的 softmax 用于 IS）和一个 shapes 分类器（颜色、形状、位置三个输出头，留出准确率 98.95% 到 100%；"
        "它的 128 维倒数第二层，IS 用形状输出头对 8 种形状的后验）。每个数据集都在它自己的分类器中测量。"
        "Inception-v3（2048 维 pool3 层，在 ImageNet 照片上训练）是论文中的标准，"
        "需要下载其权重。**不同特征空间的数字不能相互比较**：距离处于尺度不同的不同空间中（数字分类器的 128 维层"
        "对照片分类器的 2048 维层），一个空间里的 FID 20 与另一个空间里的 FID 20 毫无关系。\n\n"
        "### FID（Heusel 等，2017）\n"
        "对真实特征拟合一个高斯分布（均值 $\\mu_r$、协方差 $\\Sigma_r$），对生成特征拟合另一个（$\\mu_g$、"
        "$\\Sigma_g$）：\n\n"
        "$$\\mathrm{FID} = \\lVert \\mu_r - \\mu_g \\rVert^2 + \\mathrm{Tr}\\big(\\Sigma_r + \\Sigma_g - "
        "2(\\Sigma_r\\Sigma_g)^{1/2}\\big)$$\n\n"
        "越低越好；0 表示两个高斯分布相同。**为什么小 N 时有偏：**均值和协方差是从 N 个样本估计的，估计噪声平均"
        "会加到距离上（噪声项的迹，大致与 1/N 成正比）。因此即使模型完美，FID 也随 N 增大而下降（真实对真实的下限"
        "不为 0）。样本数少于特征维数（Inception 为 2048）时，协方差矩阵秩亏，矩阵平方根不稳定。Chong & Forsyth"
        "（2020）：$\\mathrm{FID}_N \\approx \\mathrm{FID}_\\infty + k/N$，所以对 $1/N$ 拟合一条直线并读取 "
        "$1/N = 0$ 处的值，即可估计 $\\mathrm{FID}_\\infty$。\n\n"
        "### KID（Bińkowski 等，2018）\n"
        "以核函数 $k(x, y) = (x^\\top y / d + 1)^3$ 计算的最大均值差异的平方，在随机子集上取平均；它的估计量是"
        "**无偏**的，所以小 N 时噪声更大，但不会整体偏移。\n\n"
        "### IS（Salimans 等，2016）\n"
        "$\\mathrm{IS} = \\exp\\big(\\mathbb{E}_x\\, \\mathrm{KL}(p(y\\mid x)\\,\\Vert\\, p(y))\\big)$，由分类器"
        "的类别概率计算：每张图像都被明确判为一个类别、且所有类别都出现时得分高。最大为类别数（数字为 10；"
        "shapes 为 8 种形状，不读颜色和位置）。"
        "它从不看真实图像。\n\n"
        "### 精确率和召回率（Kynkäänniemi 等，2019）\n"
        "以每个真实特征为中心放一个球，半径为它到第 k 个最近真实邻居的距离（k = 3）；这些球的并集就是真实流形。"
        "**精确率**：落在其中的生成样本所占比例（采样质量）。**召回率**：交换两者的角色，落在生成流形中的真实样本"
        "所占比例（多样性、覆盖度）。只会画一个完美数字的模型精确率高、召回率低。\n\n"
        "### 误差\n"
        "FID、精确率和召回率旁的 ± 是 10 次自助法（bootstrap）重采样（两组特征都有放回地重新抽取）的标准差："
        "换一次同样大小为 N 的抽样可能得到的结果。\n\n"
        "### 重构\n"
        "自编码器（VAE、VQ-VAE）还可以用它重构留出数字的效果来评价：PSNR $= 10 \\log_{10}(1/\\mathrm{MSE})$ dB"
        "（像素取值在 [0, 1]），以及 SSIM，它比较局部的均值、方差和协方差（1 表示完全相同）。\n\n"
        "### 我们的数字与论文中的数字\n"
        "论文中的 MNIST 和 CIFAR FID 几乎都在 Inception-v3 的特征空间中，用 10,000 或 50,000 个样本对比 60,000 张"
        "训练图像，并有各自的缩放流程。我们的数字在内置分类器的 128 维空间中，用 2,000 个样本对比 2,000 个留出的"
        "测试数字，模型只在 CPU 或共享 GPU 上训练了几分钟。这些条件都不相同，数字也就不可比：GenLab 的 FID 136 并不"
        "比论文中的 FID 5 差。能够迁移的是用同一方法测量的模型之间的**排序**，以及下限：在相同的 N 下，没有模型"
        "能胜过真实数据的两半。"),
}

STRINGS.update(METRICS_STRINGS)

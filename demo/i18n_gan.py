"""The GAN tab's strings (English, Chinese), added to demo.i18n.STRINGS at import.

Kept apart from demo/i18n.py so that each tab owns its own strings; the Registry and `t` are
the shared ones. Chinese terms follow ../shared/GLOSSARY.md (映射网络, 合成网络, 风格混合,
基础层 / 中间层 / 细调层, 截断技巧, 噪声注入).
"""

from __future__ import annotations

from .i18n import STRINGS

GAN_STRINGS: dict[str, tuple[str, str]] = {
    "gan.tab": ("StyleGAN", "生成对抗网络 StyleGAN"),
    "gan.intro": (
        "A **style-based GAN** draws z ~ N(0, I), the **mapping network** turns it into a style "
        "vector **w**, and the **synthesis network** paints the image from a learned 4×4 constant, taking "
        "one copy of w at every layer. Because each layer has its own w, layers can take their style from "
        "different images.",
        "**基于风格的生成对抗网络**先采样 z ~ N(0, I)，**映射网络**把它变成风格向量 **w**，"
        "**合成网络**再从一个学到的 4×4 常量开始作画，每一层都读入一份 w。"
        "因为每层都有自己的 w，不同的层可以从不同的图像中取风格。",
    ),
    "gan.sub.mix": ("Style mixing", "风格混合"),
    "gan.sub.trunc": ("Truncation", "截断技巧"),
    "gan.sub.interp": ("Interpolation: z vs w", "插值：z 与 w"),
    "gan.sub.noise": ("Noise", "噪声注入"),
    "gan.sub.layers": ("What each layer controls", "每层控制什么"),
    "gan.sub.explain": ("How it works", "原理"),
    "gan.quality": ("⚠️ **About this model:** {note}", "⚠️ **关于该模型：**{note}"),
    "gan.card.size": ("Images", "图像"),
    "gan.card.latent": ("z and w", "z 与 w"),
    "gan.card.layers": ("Layers (w's)", "层数（w 的个数）"),
    "gan.card.quality": ("Quality note", "质量说明"),
    "gan.card.psi": ("Default psi", "默认 psi"),
    "gan.upload.done": ("Loaded **{name}** (stylegan, {size}×{size}, {layers} layers). It is now selected.",
                        "已加载 **{name}**（stylegan，{size}×{size}，{layers} 层），并已选中。"),
    "gan.psi": ("Truncation ψ", "截断系数 ψ"),
    "gan.psi.info": ("w' = w̄ + ψ (w − w̄). 1: no truncation; 0: the average image.",
                     "w' = w̄ + ψ (w − w̄)。1：不截断；0：平均图像。"),
    # style mixing
    "gan.mix.help": (
        "The figure from the StyleGAN paper. The **top row** are source images **A**, the **left column** "
        "style images **B**. Each cell is A with the checked layers' styles taken from B: **coarse** layers "
        "(4×4–8×8) carry pose, head shape and size, **middle** ones the features, **fine** ones colours and "
        "texture. Tick boxes: the grid follows at once.",
        "这是 StyleGAN 论文中的图。**第一行**是源图像 **A**，**左列**是风格图像 **B**。"
        "每个格子是 A，但勾选的层的风格取自 B：**基础层**（4×4–8×8）决定姿态、脸型和大小，"
        "**中间层**决定五官等特征，**细调层**决定颜色和纹理。勾选后网格立即更新。",
    ),
    "gan.seeds_a": ("Source seeds A (top row)", "源图像 A 的随机种子（第一行）"),
    "gan.seeds_b": ("Style seeds B (left column)", "风格图像 B 的随机种子（左列）"),
    "gan.seeds.info": ("Whole numbers separated by commas, 1 to 6.", "用逗号分隔的整数，1 到 6 个。"),
    "gan.preset": ("Take from B", "从 B 中取"),
    "gan.preset.coarse": ("Coarse styles", "基础层风格"),
    "gan.preset.middle": ("Middle styles", "中间层风格"),
    "gan.preset.fine": ("Fine styles", "细调层风格"),
    "gan.layers": ("Layers whose w comes from B", "w 取自 B 的层"),
    "gan.layers.info": ("Each layer by its resolution. Coarse: {coarse}; middle: {middle}; fine: {fine}.",
                        "按分辨率列出每一层。基础层：{coarse}；中间层：{middle}；细调层：{fine}。"),
    "gan.mix.grid": ("Style-mixing grid", "风格混合网格"),
    "gan.random_seeds": ("New random seeds", "换一组随机种子"),
    "gan.group.coarse": ("coarse", "基础层"),
    "gan.group.middle": ("middle", "中间层"),
    "gan.group.fine": ("fine", "细调层"),
    # truncation
    "gan.trunc.help": (
        "The **truncation trick** pulls every w towards the average w̄. Smaller ψ gives more typical, cleaner "
        "images and less variety; ψ = 0 gives the same **average image** for every seed; negative ψ goes "
        "past the average to the \"opposite\" image.",
        "**截断技巧**把每个 w 拉向平均值 w̄。ψ 越小，图像越典型、越干净，但多样性越少；"
        "ψ = 0 时每个种子都得到同一张**平均图像**；ψ 为负时越过平均值，得到“相反”的图像。",
    ),
    "gan.trunc.seeds": ("Seeds", "随机种子"),
    "gan.trunc.row": ("These seeds at ψ", "这些种子在当前 ψ 下"),
    "gan.trunc.avg": ("Average image (ψ = 0)", "平均图像（ψ = 0）"),
    "gan.trunc.sweep": ("The first seed as ψ goes 1 → −1", "第一个种子，ψ 从 1 到 −1"),
    # interpolation
    "gan.interp.help": (
        "Walk between two seeds. **In z** the path goes through the input space (spherically, since z is "
        "Gaussian) and each point passes through the mapping network; **in w** it is a straight line between "
        "the two styles. The w path is usually smoother: the mapping network has untangled w, so a straight "
        "line in w changes one thing at a time, while z must follow the training data's density.",
        "在两个种子之间漫游。**在 z 中**插值，路径穿过输入空间（z 服从高斯分布，所以用球面插值），"
        "每个点都要经过映射网络；**在 w 中**插值，则是两个风格之间的直线。w 中的路径通常更平滑："
        "映射网络把 w 解耦了，w 中的直线一次只改变一种属性，而 z 必须服从训练数据的分布。",
    ),
    "gan.interp.a": ("Seed A (t = 0)", "种子 A（t = 0）"),
    "gan.interp.b": ("Seed B (t = 1)", "种子 B（t = 1）"),
    "gan.interp.t": ("t", "t"),
    "gan.interp.t.info": ("Drag: both images follow.", "拖动：两张图像同时更新。"),
    "gan.interp.frames": ("Frames in the strips", "条带帧数"),
    "gan.interp.z": ("In z (spherical), then mapped", "在 z 中（球面插值），再映射"),
    "gan.interp.w": ("In w (linear)", "在 w 中（线性插值）"),
    "gan.interp.z.strip": ("The whole path in z, A → B", "z 中的完整路径 A → B"),
    "gan.interp.w.strip": ("The whole path in w, A → B", "w 中的完整路径 A → B"),
    # noise
    "gan.noise.help": (
        "Every convolution adds per-pixel **noise**, scaled by a learned strength. Noise changes only "
        "**stochastic details** (hair strands, texture, speckles), never who the face is. Choose where noise "
        "enters, change its strength, or **resample the noise only** for the same w. The heat map shows how "
        "much each pixel varies over 8 noise draws: bright where noise matters.",
        "每个卷积层都会加入逐像素的**噪声**，其强度是学出来的。噪声只改变**随机细节**"
        "（发丝、纹理、斑点），不会改变这是谁的脸。选择噪声加在哪些层、调整强度，或在 w 不变时**只重新采样噪声**。"
        "热力图显示每个像素在 8 次噪声采样中的变化：越亮的地方噪声影响越大。",
    ),
    "gan.noise.seed": ("Seed (fixes w)", "随机种子（固定 w）"),
    "gan.noise.where": ("Noise in", "噪声加在"),
    "gan.noise.all": ("All layers", "所有层"),
    "gan.noise.coarse": ("Coarse only", "仅基础层"),
    "gan.noise.fine": ("Fine only", "仅细调层"),
    "gan.noise.none": ("None", "不加噪声"),
    "gan.noise.strength": ("Noise strength (all layers)", "噪声强度（所有层）"),
    "gan.noise.strength.info": ("Multiplies each layer's learned strength; 1 is as trained, 10 the most.",
                                "乘以每层学到的强度；1 即训练时的强度，最大为 10。"),
    "gan.noise.per_layer": ("Per-layer noise strength", "逐层噪声强度"),
    "gan.noise.resample": ("Resample noise only", "只重新采样噪声"),
    "gan.noise.saved": ("Use the saved noise", "使用保存的噪声"),
    "gan.noise.image": ("Image", "图像"),
    "gan.noise.draw.const": ("Noise: the maps saved with the model.", "噪声：模型保存的固定噪声图。"),
    "gan.noise.draw.random": ("Noise: random draw #{n} (same w).", "噪声：第 {n} 次随机采样（w 不变）。"),
    "gan.noise.std": ("Std over {k} noise draws (grey levels)", "{k} 次噪声采样的标准差（灰度级）"),
    "gan.noise.tiny": (
        "Here the noise moves no pixel by even one grey level (largest std {max:.2f}): this model learned "
        "almost no noise strength, so all of its variation lives in w. That is a real finding about the model; "
        "the paper's full-size models rely on noise for hair and skin detail.",
        "这里噪声让任何像素的变化都不到一个灰度级（最大标准差 {max:.2f}）：该模型学到的噪声强度几乎为零，"
        "它所有的变化都来自 w。这是关于该模型的真实发现；论文中的大模型则依靠噪声生成头发和皮肤的细节。",
    ),
    "gan.noise.compare": ("The paper's comparison: the same w with noise in", "论文中的对比：同一个 w，噪声加在"),
    "gan.noise.cmp.all": ("(a) all layers", "(a) 所有层"),
    "gan.noise.cmp.none": ("(b) no noise", "(b) 不加噪声"),
    "gan.noise.cmp.fine": ("(c) fine layers only", "(c) 仅细调层"),
    "gan.noise.cmp.coarse": ("(d) coarse layers only", "(d) 仅基础层"),
    "gan.noise.layer": ("{i}: {res}×{res}", "{i}：{res}×{res}"),
    # what each layer controls
    "gan.layers.help": (
        "Small attribute regressors, trained on the faces data set, read each attribute (head size, pose, "
        "eye and mouth shape, hair style, colours) from an image. For 64 random pairs we take image A, copy "
        "one group of layers (or one layer) from image B, and measure how far each attribute moves towards "
        "B's value: 0 means that layer never changes it, 1 means it carries it completely.",
        "一些小的属性回归器（在人脸数据集上训练）能从图像读出各个属性（头的大小、姿态、眼睛与嘴的形状、发型、颜色）。"
        "对 64 对随机图像，我们取图像 A，把某一组层（或某一层）换成图像 B 的，测量每个属性向 B 的取值移动了多少："
        "0 表示这些层从不改变它，1 表示它完全由这些层决定。",
    ),
    "gan.layers.measure": ("Measure", "开始测量"),
    "gan.layers.chart": ("How much each attribute moves", "每个属性移动了多少"),
    "gan.layers.groups": ("Layer groups", "层组"),
    "gan.layers.single": ("Single layers", "单独的层"),
    "gan.layers.none": (
        "No attribute regressor is available for **{name}**: the chart needs the faces model (its attributes "
        "are known and measurable). Pick **faces-stylegan** to see it.",
        "**{name}** 没有可用的属性回归器：这张图需要人脸模型（它的属性已知、可测量）。"
        "请选择 **faces-stylegan** 查看。",
    ),
    "gan.layers.missing": (
        "The attribute regressors are not installed on this server, so the chart cannot be measured.",
        "本服务器没有安装属性回归器，无法测量这张图。",
    ),
    "gan.layers.table": ("| attribute | the data set draws it at | mixing moves it most at |",
                         "| 属性 | 数据集在哪个尺度生成它 | 混合哪组层时它变化最大 |"),
    "gan.layers.measured": ("Measured on {n} pairs of images (seed {seed}); a blank cell: no pair differed in "
                            "that attribute.",
                            "在 {n} 对图像上测量（种子 {seed}）；空白格：没有一对图像在该属性上不同。"),
    # explanation
    "gan.explain.body": (
        r"""
### Mapping network
A latent $z \sim \mathcal{N}(0, I)$ goes through an MLP $f$ (the **mapping network**) to an intermediate
latent $w = f(z)$. The training data need not fill a Gaussian, so $w$ is free to follow the data: its
directions end up more **disentangled** than those of $z$.

### Styles: AdaIN, modulation and demodulation
StyleGAN (2019) fed $w$ to each layer through **adaptive instance normalisation**:
$\mathrm{AdaIN}(x_i, y) = y_{s,i}\,\frac{x_i - \mu(x_i)}{\sigma(x_i)} + y_{b,i}$, where the style
$y = A(w)$ is a learned affine map of $w$. StyleGAN2, which this model follows, scales the convolution
weights instead. With style $s = A(w)$:

$$w'_{ijk} = s_i \cdot w_{ijk} \qquad\text{(modulation)}$$
$$w''_{ijk} = \frac{w'_{ijk}}{\sqrt{\sum_{i,k} {w'_{ijk}}^2 + \epsilon}} \qquad\text{(demodulation)}$$

Each output channel $j$ then has unit expected norm: the style changes the *relative* weight of each input
channel, the same job AdaIN did, without its droplet artefacts.

### Style mixing
The synthesis network takes one $w$ per layer, $(w_0, \dots, w_{L-1})$. Giving layers $\ell \in S$ the $w$
of image B and the rest the $w$ of image A mixes the two: coarse layers (4×4–8×8) hold pose and shape,
middle layers the features, fine layers colour and texture. During training a random crossover point mixes
two $w$'s in 90% of batches (**mixing regularisation**), so neighbouring layers do not depend on each other.

### Truncation trick
$$w' = \bar w + \psi\,(w - \bar w)$$
where $\bar w$ is the running average of $w$. $\psi < 1$ trades variety for typical, cleaner images;
$\psi = 0$ gives the average image.

### Noise
Each convolution adds $\alpha_\ell \cdot n$, with $n \sim \mathcal{N}(0, I)$ one value per pixel and a learned
strength $\alpha_\ell$. Noise explains the **stochastic variation** (exact hair strands, texture), so the
styles are left for the image's content.
""",
        r"""
### 映射网络
潜在向量 $z \sim \mathcal{N}(0, I)$ 经过一个多层感知机 $f$（**映射网络**），得到中间潜在向量 $w = f(z)$。
训练数据不必填满一个高斯分布，所以 $w$ 可以自由地贴合数据：它的各个方向比 $z$ 的更加**解耦**。

### 风格：自适应实例归一化、调制与解调
StyleGAN（2019）通过**自适应实例归一化**（AdaIN）把 $w$ 送入每一层：
$\mathrm{AdaIN}(x_i, y) = y_{s,i}\,\frac{x_i - \mu(x_i)}{\sigma(x_i)} + y_{b,i}$，其中风格 $y = A(w)$ 是 $w$ 的
一个可学习仿射变换。本模型采用的 StyleGAN2 改为缩放卷积权重。设风格 $s = A(w)$：

$$w'_{ijk} = s_i \cdot w_{ijk} \qquad\text{（调制）}$$
$$w''_{ijk} = \frac{w'_{ijk}}{\sqrt{\sum_{i,k} {w'_{ijk}}^2 + \epsilon}} \qquad\text{（解调）}$$

于是每个输出通道 $j$ 的期望范数为 1：风格改变的是各输入通道的*相对*权重，作用与 AdaIN 相同，
但没有 AdaIN 的“水滴”伪影。

### 风格混合
合成网络每层读入一个 $w$：$(w_0, \dots, w_{L-1})$。让层 $\ell \in S$ 使用图像 B 的 $w$、其余层使用图像 A 的 $w$，
就把两张图混合了：基础层（4×4–8×8）决定姿态和形状，中间层决定五官特征，细调层决定颜色和纹理。
训练时，90% 的批次会在随机的交叉点混合两个 $w$（**混合正则化**），使相邻的层互不依赖。

### 截断技巧
$$w' = \bar w + \psi\,(w - \bar w)$$
其中 $\bar w$ 是 $w$ 的滑动平均。$\psi < 1$ 以多样性换取更典型、更干净的图像；$\psi = 0$ 得到平均图像。

### 噪声注入
每个卷积层加入 $\alpha_\ell \cdot n$，其中 $n \sim \mathcal{N}(0, I)$ 每个像素一个值，$\alpha_\ell$ 是学到的强度。
噪声负责**随机性**（发丝的具体位置、纹理），让风格专注于图像的内容。
""",
    ),
}

STRINGS.update(GAN_STRINGS)

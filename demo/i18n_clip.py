"""The CLIP tab's strings (English, Chinese), added to demo.i18n.STRINGS at import.

Chinese terms follow ../shared/GLOSSARY.md (对比学习, 文本编码器, 图像编码器, 提示词, 引导, 随机种子,
文本生成图像). Example prompts and default captions live here too, one list per language.
"""

from __future__ import annotations

from .i18n import STRINGS

CLIP_STRINGS: dict[str, tuple[str, str]] = {
    "clip.tab": ("CLIP", "CLIP 文生图"),
    "clip.intro": (
        ("**CLIP** embeds images and texts in one shared space, so it can score how well an image fits a "
        "text. Type a **prompt** and watch an image being steered toward it by CLIP's gradient, then see "
        "what CLIP \"sees\" in any image."),
        ("**CLIP**（对比语言-图像预训练）把图像和文本嵌入同一个共享空间，因此能给“图像与文本有多匹配”打分。"
        "输入一个**提示词**，看图像如何沿着 CLIP 的梯度被一步步引导过去；再看看 CLIP 在任意图像里“看到了什么”。"),
    ),
    "clip.sub.generate": ("Text to image", "文本生成图像"),
    "clip.sub.sees": ("What CLIP sees", "CLIP 看到了什么"),
    "clip.sub.explain": ("How it works", "原理"),
    # backend
    "clip.backend": ("CLIP model", "CLIP 模型"),
    "clip.backend.info": (
        ("GenLab CLIP: small, trained in GenLab on shapes and digits (English and Chinese captions), works "
        "offline. ViT-B-32: a large pretrained open_clip model; its weights are downloaded on first use."),
        ("GenLab CLIP：小模型，在 GenLab 中用形状和数字（中英文描述）训练，可离线使用。"
        "ViT-B-32：大型预训练 open_clip 模型，首次使用时需要下载权重。"),
    ),
    "clip.backend.genlab": ("GenLab CLIP (small, offline)", "GenLab CLIP（小模型，可离线）"),
    "clip.backend.pretrained": ("Pretrained ViT-B-32 (open_clip)", "预训练 ViT-B-32（open_clip）"),
    "clip.card.title": ("CLIP model card", "CLIP 模型卡片"),
    "clip.card.pretrained": (
        ("**{name}**: loaded from open_clip's pretrained weights; the card of GenLab's own CLIP is shown "
        "when it is selected."),
        "**{name}**：来自 open_clip 的预训练权重；选择 GenLab CLIP 时显示其模型卡片。",
    ),
    "clip.upload": ("Upload a CLIP checkpoint", "上传 CLIP 检查点"),
    "clip.upload.note": (
        ("A GenLab CLIP you trained (the family must be `clip`). Only safetensors are read; it is visible only "
        "in this browser session and deleted when the session ends."),
        "你训练的 GenLab CLIP（模型族必须是 `clip`）。只读取 safetensors；仅在当前浏览器会话中可见，会话结束后即被删除。",
    ),
    "clip.upload.done": ("Loaded **{name}** (images {side}×{side}). It is now selected.",
                         "已加载 **{name}**（图像 {side}×{side}），并已选中。"),
    "clip.card.zeroshot": ("Zero-shot accuracy on held-out {group}", "留出集 {group} 上的零样本准确率"),
    "clip.card.image_size": ("Image size seen by the image encoder", "图像编码器的输入尺寸"),
    # generation controls
    "clip.prompt": ("Prompt", "提示词"),
    "clip.prompt.info": ("What the image should show, in English or Chinese.", "图像应当呈现的内容，中英文均可。"),
    "clip.prompt.placeholder": ("e.g. a red circle", "例如：红色圆形"),
    "clip.negative": ("Negative prompt (optional)", "反向提示词（可选）"),
    "clip.negative.info": ("The image is also pushed away from this text.", "图像同时会被推离这段文本。"),
    "clip.examples": ("Example prompts: click one (it also picks a generator that fits)",
                      "示例提示词：点击使用（同时选好合适的生成器）"),
    "clip.generator": ("Generator", "生成器"),
    "clip.generator.info": (
        ("What CLIP's gradient changes: raw pixels, the latent z of a VAE, the style vector w of a StyleGAN, "
        "or a diffusion model's sampling."),
        "CLIP 的梯度改变的对象：原始像素、变分自编码器的潜在向量 z、StyleGAN 的风格向量 w，或扩散模型的采样过程。",
    ),
    "clip.gen.pixels": ("Raw pixels (Fourier parametrisation)", "原始像素（傅里叶参数化）"),
    "clip.gen.vae": ("{name} (VAE: latent z)", "{name}（变分自编码器：潜在向量 z）"),
    "clip.gen.stylegan": ("{name} (StyleGAN: w)", "{name}（StyleGAN：风格向量 w）"),
    "clip.gen.ddpm": ("{name} (diffusion: guided sampling)", "{name}（扩散模型：引导采样）"),
    "clip.steps": ("Steps", "步数"),
    "clip.steps.info": ("Gradient steps (for a diffusion model: sampling steps).", "梯度步数（扩散模型为采样步数）。"),
    "clip.strength": ("Guidance strength", "引导强度"),
    "clip.strength.info": ("How hard CLIP's gradient pushes each step.", "每一步 CLIP 梯度推动的力度。"),
    "clip.seed": ("Seed", "随机种子"),
    "clip.augment": ("Augmentations per step", "每步的数据增强次数"),
    "clip.augment.info": (
        ("Random crops and shifts scored at every step; the gradient must raise all their scores, which "
        "keeps CLIP from being fooled by pixel noise. 0 = none."),
        ("每步对图像做随机裁剪和平移并分别打分；梯度必须同时提高它们的分数，"
        "这样 CLIP 不容易被像素噪声欺骗。0 表示不做增强。"),
    ),
    "clip.label": ("Class (class-conditional diffusion)", "类别（类别条件扩散模型）"),
    "clip.label.none": ("none: CLIP alone", "无：只用 CLIP"),
    "clip.size": ("Image size (raw pixels)", "图像尺寸（原始像素）"),
    "clip.size.info": ("Side in pixels; the GenLab CLIP looks at 64×64, ViT-B-32 at 224×224.",
                       "边长（像素）；GenLab CLIP 看到的是 64×64，ViT-B-32 是 224×224。"),
    "clip.per_layer": ("One w per layer", "每层一个 w"),
    "clip.per_layer.info": ("Steer each synthesis layer's w separately instead of one shared w.",
                            "分别引导合成网络每一层的 w，而不是共用一个 w。"),
    "clip.candidates": ("Samples to choose from", "候选样本数"),
    "clip.candidates.info": (
        ("This many images are steered side by side from different starts, and the one CLIP ranks best is "
         "kept. More finds a better image and takes longer; each generator has its own default."),
        ("从不同的起点并排引导这么多张图像，保留 CLIP 排名最高的一张。越多越容易找到好图，也越慢；"
         "每个生成器有自己的默认值。")),
    "clip.generate": ("Generate", "生成"),
    "clip.stop": ("Stop", "停止"),
    "clip.progress": ("CLIP guidance", "CLIP 引导"),
    "clip.status.idle": ("Type a prompt (or click an example) and press **Generate**.",
                         "输入提示词（或点击一个示例），然后点击**生成**。"),
    "clip.status.loading": ("Loading {backend} …", "正在加载 {backend} …"),
    "clip.status.running": (
        "Step {step} / {total} · CLIP score {score:.3f} (best {best:.3f}) · {s:.1f} s · {setting}",
        "第 {step} / {total} 步 · CLIP 分数 {score:.3f}（最佳 {best:.3f}）· {s:.1f} 秒 · {setting}",
    ),
    "clip.status.done": (
        ("**Done**: {total} steps in {s:.1f} s ({sps:.1f} steps/s). CLIP score {first:.3f} → best {best:.3f} "
        "at step {best_step}. · {setting}"),
        ("**完成**：{total} 步，用时 {s:.1f} 秒（每秒 {sps:.1f} 步）。CLIP 分数 {first:.3f} → 最佳 {best:.3f}"
        "（第 {best_step} 步）。· {setting}"),
    ),
    "clip.status.stopped": (
        ("**Stopped** at step {step} / {total} after {s:.1f} s. The best image so far is kept (score {best:.3f}, "
        "step {best_step}). · {setting}"),
        ("**已停止**：第 {step} / {total} 步，用时 {s:.1f} 秒。保留了目前最佳的图像（分数 {best:.3f}，第 {best_step} 步）。"
        "· {setting}"),
    ),
    "clip.status.truncated": (
        "⚠️ The prompt is longer than this CLIP reads ({tokens} tokens): the end was cut off.",
        "⚠️ 提示词超出了该 CLIP 能读取的长度（{tokens} 个词元），末尾部分已被截断。",
    ),
    "clip.warn.pretrained_zh": (
        "ViT-B-32 was trained on English captions: Chinese prompts steer it poorly. GenLab CLIP reads Chinese.",
        "ViT-B-32 是用英文描述训练的：中文提示词对它的引导效果很差。GenLab CLIP 能读懂中文。",
    ),
    "clip.status.x0": ("the picture is the predicted clean image x̂₀ of this sampling step",
                       "图中是该采样步预测的原图 x̂₀"),
    "clip.setting": ("“{prompt}” · {generator} · {backend} · seed {seed}",
                     "“{prompt}” · {generator} · {backend} · 随机种子 {seed}"),
    "clip.setting.negative": ("not “{negative}”", "反向：“{negative}”"),
    "clip.setting.candidates": ("the best of {k} side by side", "{k} 张并排，取最佳"),
    "clip.image": ("Current image", "当前图像"),
    "clip.best": ("Best so far", "目前最佳"),
    "clip.plot": ("CLIP score over the steps", "CLIP 分数随步数的变化"),
    "clip.plot.x": ("step", "步"),
    "clip.plot.y": ("CLIP score (cosine)", "CLIP 分数（余弦）"),
    "clip.plot.score": ("score", "分数"),
    "clip.plot.best": ("best so far", "目前最佳"),
    "clip.plot.series": ("curve", "曲线"),
    "clip.gallery": ("Snapshots of the run (step: score; ★ the best)", "运行过程快照（步：分数；★ 为最佳）"),
    "clip.gallery.caption": ("{step}: {score:.3f}", "{step}：{score:.3f}"),
    "clip.gallery.best": ("★ {step}: {score:.3f}", "★ {step}：{score:.3f}"),
    # what CLIP sees
    "clip.sees.help": (
        ("Zero-shot classification: CLIP embeds the image and every caption, and the bars show the softmax "
        "over their cosine similarities (at CLIP's learned temperature). Edit the captions freely: any list is "
        "a new classifier."),
        ("零样本分类：CLIP 分别嵌入图像和每条描述，条形图显示它们余弦相似度的 softmax（使用 CLIP 学到的温度）。"
        "可以随意修改描述：任何一组描述都是一个新的分类器。"),
    ),
    "clip.sees.source": ("Image", "图像"),
    "clip.sees.source.run": ("The last run's best image", "上次运行的最佳图像"),
    "clip.sees.source.current": ("Its last image", "上次运行的最后一张图像"),
    "clip.sees.source.upload": ("Upload", "上传"),
    "clip.sees.upload": ("Your image (PNG, JPEG, BMP, GIF, WebP)", "你的图像（PNG、JPEG、BMP、GIF、WebP）"),
    "clip.sees.captions": ("Captions, one per line", "文字描述，每行一条"),
    "clip.sees.captions.info": ("Defaults fit the selected generator; 2 to 16 lines.",  # MIN_CAPTIONS, MAX_CAPTIONS
                                "默认描述与所选生成器相符；共 2 到 16 行。"),
    "clip.sees.defaults": ("Captions for this generator", "恢复该生成器的默认描述"),
    "clip.sees.run": ("Compare", "比较"),
    "clip.sees.image": ("The image CLIP looks at", "CLIP 看到的图像"),
    "clip.sees.bars": ("Similarity to each caption", "与每条描述的相似度"),
    "clip.sees.bars.x": ("probability (softmax over the captions)", "概率（对各条描述做 softmax）"),
    "clip.sees.summary": (
        "CLIP ({backend}) picks **{caption}** with probability {p:.0%} (cosine {cos:.3f}).",
        "CLIP（{backend}）选择了 **{caption}**，概率 {p:.0%}（余弦相似度 {cos:.3f}）。",
    ),
    "clip.sees.converted": ("The image is {w}×{h}; CLIP's image encoder sees it resized to {side}×{side}.",
                            "图像尺寸为 {w}×{h}；CLIP 的图像编码器会把它缩放到 {side}×{side}。"),
    # explanation
    "clip.explain.body": (
        r"""
### Contrastive training
CLIP has two networks: an **image encoder** $f$ and a **text encoder** $g$. Each turns its input into a vector of
the same length, scaled to length 1, in one **shared embedding space**. Training takes a batch of $N$ image–caption
pairs and computes all $N \times N$ cosine similarities $s_{ij} = f(x_i) \cdot g(y_j)$. A cross-entropy loss in both
directions (symmetric InfoNCE, with a learned temperature $\tau$) asks every image to pick its own caption out of
the $N$, and every caption its own image:

$$\mathcal{L} = -\frac{1}{2N}\sum_{i=1}^{N}\Big[\log\frac{e^{s_{ii}/\tau}}{\sum_j e^{s_{ij}/\tau}} + \log\frac{e^{s_{ii}/\tau}}{\sum_j e^{s_{ji}/\tau}}\Big]$$

Matching pairs are pulled together and all other pairs in the batch pushed apart. Nobody labels classes: the
captions are the labels. GenLab's small CLIP is trained this way on the `shapes` captions and on MNIST digits with
varied captions ("a handwritten seven", "the digit 7", "数字七"), in English and Chinese.

### What CLIP sees: zero-shot classification
Embed one caption per class and pick the caption nearest to the image; a softmax over the scaled cosines gives the
bars. Any list of captions is a new classifier, with no training.

### Guidance by gradient
The CLIP score $s(x) = \cos\big(f(x), g(\text{prompt})\big)$ is differentiable in the image $x$, so it can be climbed:
$x \leftarrow x + \eta\,\nabla_x s(x)$ (with a negative prompt, its score is subtracted). The GenLab CLIP knows every
caption of its small world, so it climbs something sharper: the probability of the prompt in a softmax over the
prompt and all those captions, $\log p(\text{prompt} \mid x)$: CLIP used as a zero-shot classifier. Its gradient
goes to what still tells the image apart from its closest rivals ("a red *square*" for a red circle) instead of to
what is already right. The generator decides what is changed:

- **raw pixels**: the image is made of Fourier coefficients, low frequencies first, so a step changes smooth
  shapes rather than single pixels;
- **VAE**: the latent vector $z$ is changed, and the decoder can only draw images like its training data;
- **StyleGAN**: the style vector $w$ is changed;
- **diffusion**: at every sampling step CLIP's gradient on the predicted clean image $\hat x_0$ is added to the
  update, like classifier guidance with CLIP as the classifier. While the image is still mostly noise the gradient
  is blurred (only the layout is being decided then), and each step is taken three times, with noise added back in
  between, so the model can repair what the gradient disturbed. The GenLab CLIP was also trained on this diffusion
  model's blurry $\hat x_0$ guesses under their images' captions (a "noise-aware" CLIP), so it can read them.

Each step scores several random crops and shifts (**augmentations**) and averages them: the change must raise the
score of all of them, which favours real structure over pixel patterns.

### Where it fails
The gradient only answers "which small change raises the score?". For raw pixels the cheapest answer is often an
**adversarial texture**: high-frequency noise that CLIP scores highly but in which a person sees nothing of the
prompt. A high score is not a good image; a sign is a score that keeps rising while the picture hardly changes.
Generators help because they can only draw plausible images; augmentations help because noise must survive the
crops. And a CLIP knows only the words of its training captions: GenLab's CLIP has seen shapes, colours, sizes,
positions and digits, nothing else. A prompt outside that vocabulary still gets a gradient, toward whatever lies
nearest in its embedding space.
""",
        r"""
### 对比学习
CLIP 有两个网络：**图像编码器** $f$ 和**文本编码器** $g$。它们各自把输入变成长度相同、归一化为 1 的向量，放在同一个**共享嵌入空间**中。训练时取一批 $N$ 个“图像–描述”对，计算全部 $N \times N$ 个余弦相似度 $s_{ij} = f(x_i) \cdot g(y_j)$。双向的交叉熵损失（对称 InfoNCE，温度 $\tau$ 也是学出来的）要求每张图像从 $N$ 条描述中挑出自己的那条，每条描述也挑出自己的图像：

$$\mathcal{L} = -\frac{1}{2N}\sum_{i=1}^{N}\Big[\log\frac{e^{s_{ii}/\tau}}{\sum_j e^{s_{ij}/\tau}} + \log\frac{e^{s_{ii}/\tau}}{\sum_j e^{s_{ji}/\tau}}\Big]$$

匹配的对被拉近，批内其余的对被推远。不需要人工标注类别：描述本身就是标签。GenLab 的小 CLIP 就是这样，在 `shapes` 数据集的描述和配有多样描述的 MNIST 数字（“a handwritten seven”“the digit 7”“数字七”）上，用中英文训练出来的。

### CLIP 看到了什么：零样本分类
为每个类别写一条描述并嵌入，选出离图像最近的那条；对缩放后的余弦相似度做 softmax 就得到条形图。任何一组描述都是一个新的分类器，无需训练。

### 用梯度引导
CLIP 分数 $s(x) = \cos\big(f(x), g(\text{提示词})\big)$ 对图像 $x$ 可微，因此可以沿梯度往上爬：$x \leftarrow x + \eta\,\nabla_x s(x)$（有反向提示词时减去它的分数）。GenLab CLIP 认识它那个小世界里的全部描述，所以它爬的是一个更敏锐的目标：在提示词和所有这些描述上做 softmax，提示词的概率 $\log p(\text{提示词} \mid x)$，即把 CLIP 当作零样本分类器。它的梯度指向图像与最接近的竞争描述之间仍然不同的地方（对红色圆形来说是“红色*正方形*”），而不是已经正确的地方。生成器决定改变的对象：

- **原始像素**：图像由傅里叶系数构成，低频在前，所以每一步改变的是平滑的形状，而不是单个像素；
- **变分自编码器**：改变潜在向量 $z$，解码器只能画出与训练数据相似的图像；
- **StyleGAN**：改变风格向量 $w$；
- **扩散模型**：每个采样步把 CLIP 对预测的原图 $\hat x_0$ 的梯度加到更新中，相当于以 CLIP 为分类器的分类器引导。图像大部分还是噪声时，梯度会先被模糊（这时只在决定布局），而且每一步走三次，中间重新加噪，让模型修复梯度带来的扰动。GenLab CLIP 训练时也看过这个扩散模型给出的模糊的 $\hat x_0$（配上原图的描述），即“噪声感知”（noise-aware）的 CLIP，所以能读懂它们。

每一步对图像做几次随机裁剪和平移（**数据增强**）并取平均分：改动必须同时提高所有这些分数，这会偏向真实的结构，而不是像素图案。

### 在哪里失效
梯度只回答“什么样的小改动能提高分数？”。对原始像素来说，最省力的答案往往是**对抗纹理**：CLIP 打分很高、人却看不出任何提示词内容的高频噪声。分数高不等于图像好；一个迹象是分数一直上升，画面却几乎不变。生成器有帮助，因为它只能画出合理的图像；数据增强有帮助，因为噪声必须在裁剪后依然有效。此外，CLIP 只认识训练描述里的词：GenLab 的 CLIP 只见过形状、颜色、大小、位置和数字。超出这些词汇的提示词也会得到梯度，指向它嵌入空间中离得最近的东西。
""",
    ),
}

STRINGS.update(CLIP_STRINGS)

# --- example prompts and default captions ---------------------------------------------------------
# An example is (prompt, generator name): "pixels" or a shipped checkpoint folder's name. Examples
# whose generator is not installed are not offered.
EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("a red circle", "pixels"),
        ("a yellow star on a dark blue background", "pixels"),
        ("the digit 7", "mnist-vae-z16"),
        ("a handwritten three", "mnist-stylegan"),
        ("a large green triangle", "shapes-vae-z16"),
        ("a blue square in the top left corner", "shapes-ddpm"),
        ("the digit 2", "mnist-ddpm"),
    ],
    "zh": [
        ("红色圆形", "pixels"),
        ("深蓝色背景上的黄色五角星", "pixels"),
        ("数字七", "mnist-vae-z16"),
        ("手写的数字三", "mnist-stylegan"),
        ("大的绿色三角形", "shapes-vae-z16"),
        ("左上角有一个蓝色正方形", "shapes-ddpm"),
        ("数字二", "mnist-ddpm"),
    ],
}

_DIGITS_ZH = "零一二三四五六七八九"

# Default captions for "What CLIP sees", by the data set the generator was trained on.
CAPTIONS: dict[str, dict[str, list[str]]] = {
    "mnist": {
        "en": [f"the digit {d}" for d in range(10)],
        "zh": [f"数字{_DIGITS_ZH[d]}" for d in range(10)],
    },
    "shapes": {
        "en": ["a red circle", "a green square", "a blue triangle", "a yellow star", "a purple heart",
               "an orange diamond", "a cyan cross", "a white ring"],
        "zh": ["红色圆形", "绿色正方形", "蓝色三角形", "黄色五角星", "紫色爱心", "橙色菱形", "青色十字", "白色圆环"],
    },
    "faces": {
        "en": ["a smiling face", "a frowning face", "a face with long hair", "a bald face", "a face with red hair",
               "a face with closed eyes"],
        "zh": ["微笑的脸", "皱眉的脸", "长发的脸", "光头的脸", "红头发的脸", "闭着眼睛的脸"],
    },
    # raw pixels: what GenLab's CLIP knows, shapes and digits together
    "pixels": {
        "en": ["a red circle", "a blue square", "a green triangle", "a yellow star", "the digit 3", "the digit 8"],
        "zh": ["红色圆形", "蓝色正方形", "绿色三角形", "黄色五角星", "数字三", "数字八"],
    },
}

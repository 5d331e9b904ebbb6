"""The 2-D playground's strings (English, Chinese), added to demo.i18n.STRINGS at import.

Chinese terms follow ../shared/GLOSSARY.md (生成器, 判别器, 模式崩溃, 得分函数, 潜在空间, 先验分布,
KL 散度, 学习率, 批大小, 时间步, 重参数化技巧).
"""

from __future__ import annotations

from .i18n import STRINGS

PLAYGROUND_STRINGS: dict[str, tuple[str, str]] = {
    "pg.tab": ("2-D playground", "二维演练场"),
    "pg.intro": (
        ("Watch a **GAN**, a **diffusion model** and a **VAE** learn a 2-D distribution in real time. Every point is "
        "a sample; every picture is computed from the model's current weights. Pick a model and a data set, press "
        "**▶ Play**, and change settings while it trains."),
        ("实时观看**生成对抗网络**（GAN）、**扩散模型**和**变分自编码器**（VAE）学习一个二维分布。每个点都是一个样本，"
        "每张图都由模型当前的权重算出。选择模型和数据分布，点击 **▶ 播放**，训练时也可以随时修改设置。"),
    ),
    # controls
    "pg.model": ("Model", "模型"),
    "pg.model.gan": ("GAN", "生成对抗网络 GAN"),
    "pg.model.diffusion": ("Diffusion", "扩散模型"),
    "pg.model.vae": ("VAE", "变分自编码器 VAE"),
    "pg.data": ("Data distribution", "数据分布"),
    "pg.data.ring": ("Ring", "圆环"),
    "pg.data.gaussians8": ("8 Gaussians", "8 个高斯分布"),
    "pg.data.moons": ("Two moons", "双月牙"),
    "pg.data.spiral": ("Spiral", "螺旋"),
    "pg.data.checkerboard": ("Checkerboard", "棋盘格"),
    "pg.data.drawn": ("Draw your own", "自己画"),
    "pg.draw.help": (("**Click on the plot** to add a small cluster of points there, or **drag** across it to draw a "
                      "line of points. The model learns them as you draw, even while it plays. (For a VAE, draw on the "
                      "left panel: the right one is its latent space.)"),
                     ("**在图上点击**即可在该处添加一小簇点，**拖动**则画出一条由点组成的线。模型会边画边学，播放时也一样。"
                      "（VAE 请画在左图上：右图是它的潜在空间。）")),
    "pg.draw.undo": ("↶ Undo", "↶ 撤销"),
    "pg.draw.clear": ("Clear points", "清除所有点"),
    "pg.loss": ("GAN loss", "GAN 损失函数"),
    "pg.loss.info": ("Wasserstein + gradient penalty comes with 5 D steps per G step, as in its paper.",
                     "选择 Wasserstein + 梯度惩罚时，每步生成器更新对应 5 次判别器更新（与原论文相同）。"),
    "pg.loss.ns": ("Non-saturating", "非饱和"),
    "pg.loss.ls": ("Least squares", "最小二乘"),
    "pg.loss.wgan-gp": ("Wasserstein + gradient penalty", "Wasserstein + 梯度惩罚"),
    "pg.d_steps": ("D steps per G step", "每步生成器更新对应的判别器更新次数"),
    "pg.gp": ("Gradient-penalty weight λ (Wasserstein only)", "梯度惩罚系数 λ（仅 Wasserstein）"),
    "pg.beta": ("β: weight of the KL term", "β：KL 散度项的权重"),
    "pg.beta.info": ("1 is the true ELBO; larger β pulls the encoded data towards the prior.",
                     "β = 1 即真正的证据下界；β 越大，编码后的数据越被拉向先验分布。"),
    "pg.t_view": ("Timestep t of the score field", "得分函数场的时间步 t"),
    "pg.t_view.info": ("Small t: data almost clean; large t: almost pure noise.",
                       "t 小：数据几乎无噪声；t 大：几乎是纯噪声。"),
    "pg.lr": ("Learning rate", "学习率"),
    "pg.lr.info": ("Pick one or type any number; a far too large one makes training diverge (try 300).",
                   "可选择或输入任意数值；过大的学习率会让训练发散（试试 300）。"),
    "pg.more": ("More settings", "更多设置"),
    "pg.batch": ("Batch size (points per step)", "批大小（每步的点数）"),
    "pg.hidden": ("Hidden units per layer (0: the model's default)", "每层隐藏单元数（0：模型默认值）"),
    "pg.spf": ("Training steps per frame", "每帧训练步数"),
    "pg.seed": ("Seed", "随机种子"),
    "pg.metric": ("Distance between model and data", "模型与数据之间的距离"),
    "pg.metric.info": ("Measured on a 32 × 32 histogram of the view, as GAN Lab does.",
                       "在视野的 32 × 32 直方图上计算（与 GAN Lab 相同）。"),
    "pg.metric.js": ("JS divergence", "JS 散度"),
    "pg.metric.kl": ("KL(data ‖ model)", "KL 散度 KL(数据 ‖ 模型)"),
    "pg.show": ("Show", "显示"),
    "pg.show.heat": ("D's heat map", "判别器热力图"),
    "pg.show.real": ("Data", "数据"),
    "pg.show.fake": ("Samples", "样本"),
    "pg.show.arrows": ("Gradients on fakes", "假样本上的梯度"),
    "pg.show.trajectories": ("Sample paths", "采样轨迹"),
    # buttons
    "pg.play": ("▶ Play", "▶ 播放"),
    "pg.pause": ("Pause", "暂停"),
    "pg.step": ("Step", "单步"),
    "pg.step_d": ("Step D only", "只更新判别器"),
    "pg.step_g": ("Step G only", "只更新生成器"),
    "pg.reset": ("↺ Reset", "↺ 重置"),
    "pg.frame": ("What the model has learned", "模型学到了什么"),
    # status lines
    "pg.status.ready": ("Ready: {model} on {data}, {params} weights. Press ▶ Play.",
                        "就绪：{model}，数据为{data}，共 {params} 个权重。点击 ▶ 播放。"),
    "pg.status.playing": ("▶ step {step} · {fps:.1f} frames/s · {sps:.0f} steps/s · {metric} {value:.3f}",
                          "▶ 第 {step} 步 · {fps:.1f} 帧/秒 · {sps:.0f} 步/秒 · {metric} {value:.3f}"),
    "pg.status.paused": ("Paused at step {step} · {metric} {value:.3f}",
                         "已暂停于第 {step} 步 · {metric} {value:.3f}"),
    "pg.status.stepped": ("Step {step} ({which}) · {metric} {value:.3f}", "第 {step} 步（{which}） · {metric} {value:.3f}"),
    "pg.status.limit": ("Paused after {minutes} minutes of play (this server's limit). Press ▶ Play to go on.",
                        "已连续播放 {minutes} 分钟（本服务器的上限），已暂停。点击 ▶ 播放继续。"),
    "pg.status.draw": ("✎ {count} points so far: click or drag on the plot; the model appears at {min}.",
                       "✎ 目前有 {count} 个点：请在图上点击或拖动；达到 {min} 个点时模型就会出现。"),
    "pg.status.draw_playing": (("▶ Waiting for data: {count} points so far. Click or drag on the plot; training starts "
                               "by itself at {min}."),
                               "▶ 等待数据：目前有 {count} 个点。请在图上点击或拖动；达到 {min} 个点时自动开始训练。"),
    "pg.status.points": (" · ✎ {count} points", " · ✎ {count} 个点"),
    "pg.status.points_total": ("{count} points in all.", "共 {count} 个点。"),
    "pg.status.added_click": ("✎ Added {n} points around ({x:.2f}, {y:.2f}).", "✎ 在 ({x:.2f}, {y:.2f}) 附近添加了 {n} 个点。"),
    "pg.status.added_stroke": ("✎ Added a line of {n} points.", "✎ 添加了一条由 {n} 个点组成的线。"),
    "pg.status.undone": ("↶ Took back the last {n} points.", "↶ 撤销了最后添加的 {n} 个点。"),
    "pg.status.nothing_to_undo": ("Nothing to undo.", "没有可撤销的操作。"),
    "pg.status.cleared": ("Cleared.", "已清除。"),
    "pg.status.choose_drawn": ("To add points by clicking, choose the data distribution “Draw your own” first.",
                               "要通过点击添加数据点，请先把数据分布选为“自己画”。"),
    "pg.status.off_panel.gan": ("Click inside one of the two square panels: both show data space.",
                                "请在两个方形图中的任意一个内点击：它们都显示数据空间。"),
    "pg.status.off_panel.diffusion": ("Click inside one of the two square panels: both show data space.",
                                      "请在两个方形图中的任意一个内点击：它们都显示数据空间。"),
    "pg.status.off_panel.vae": ("Click inside the left panel (data space); the right one is the VAE's latent space.",
                                "请在左图（数据空间）内点击；右图是 VAE 的潜在空间。"),
    "pg.status.busy": (("**Busy**: **{ahead}** ahead of you in the queue (this server lets {cap} play at once). Yours "
                        "starts by itself when its turn comes; Pause leaves the queue."),
                       ("**正忙**：你前面还有 **{ahead}** 个在排队（本服务器同时允许 {cap} 个会话播放）。轮到你时会自动开始；"
                        "点击“暂停”可退出排队。")),
    "pg.status.next": (("**Busy**: you are next in the queue (this server lets {cap} play at once). Yours starts by "
                        "itself as soon as a place frees up; Pause leaves the queue."),
                       "**正忙**：下一个就轮到你（本服务器同时允许 {cap} 个会话播放）。一有空位就会自动开始；点击“暂停”可退出排队。"),
    "pg.status.full": (("**Busy, and the queue is full**: {playing} playing and {waiting} waiting, the most this server "
                        "takes. Please try ▶ Play again in a minute (Step works meanwhile)."),
                       ("**正忙，且排队已满**：{playing} 个正在播放，{waiting} 个正在排队，已达本服务器的上限。"
                        "请一分钟后再试 ▶ 播放（期间仍可使用“单步”）。")),
    "pg.status.left_queue": ("Left the queue; nothing was trained. Press ▶ Play to queue again.",
                             "已退出排队，没有进行训练。点击 ▶ 播放可重新排队。"),
    "pg.which.both": ("D and G", "判别器和生成器"),
    "pg.which.D": ("D only", "只有判别器"),
    "pg.which.G": ("G only", "只有生成器"),
    # picture labels
    "pg.panel.gan.left": ("Discriminator D(x): green = real, purple = fake",
                          "判别器 D(x)：绿色 =“真”，紫色 =“假”"),
    "pg.panel.gan.right": ("Generator: the noise grid warped by G", "生成器：被 G 扭曲的噪声网格"),
    "pg.panel.diffusion.left": ("Sampling: paths from noise to data", "采样：从噪声到数据的轨迹"),
    "pg.panel.diffusion.right": ("Learned score ∇log p_t(x) at t", "学到的得分函数 ∇log p_t(x)（时间步 t）"),
    "pg.panel.vae.left": ("Data space: the decoder's image of the latent grid", "数据空间：潜在网格经解码器的像"),
    "pg.panel.vae.right": ("Latent space: the encoded data (μ) and the prior", "潜在空间：编码后的数据（μ）与先验分布"),
    "pg.panel.canvas": ("Your data: click to add points, drag to draw", "你的数据：点击添加点，拖动画线"),
    "pg.canvas.click": ("Click: a small cluster of points", "点击：添加一小簇点"),
    "pg.canvas.drag": ("Drag: a line of points", "拖动：画一条由点组成的线"),
    "pg.canvas.later": ("The latent space appears once there is data.", "有了数据之后，这里会显示潜在空间。"),
    "pg.canvas.count": ("{count} points so far; the model appears at {min}.", "目前有 {count} 个点；达到 {min} 个点时模型就会出现。"),
    "pg.legend.real": ("data", "数据"),
    "pg.legend.fake": ("G(z)", "G(z)"),
    "pg.legend.manifold": ("G(grid): shaded by density", "G(网格)：颜色深浅表示密度"),
    "pg.legend.noise": ("x_T (noise)", "x_T（噪声）"),
    "pg.legend.samples": ("x_0 (samples)", "x_0（样本）"),
    "pg.legend.noisy": ("data noised to t = {t}", "加噪到 t = {t} 的数据"),
    "pg.legend.score": ("score", "得分"),
    "pg.legend.decoded": ("decoded z ~ N(0, I)", "解码的 z ~ N(0, I)"),
    "pg.legend.encoded": ("μ(x) of the data", "数据的 μ(x)"),
    "pg.legend.prior": ("prior: 1, 2, 3 σ", "先验：1、2、3 σ"),
    "pg.chart.distance": ("{metric}: {value:.3f} (step {step})", "{metric}：{value:.3f}（第 {step} 步）"),
    "pg.chart.loss": ("Losses", "损失曲线"),
    # what is on screen, per model
    "pg.help.gan": (
        ("**Left:** the discriminator's output D(x) over the plane (for the non-saturating loss the probability that x is "
        "real; for least squares and Wasserstein the raw score, coloured from its lowest to its highest value here), "
        "the data (green) and the generator's samples G(z) (purple). The arrows on the fakes are −∂L_G/∂x: where the "
        "generator's next update pushes each fake. **Right:** a grid of noise z pushed through G; a cell is dark where "
        "G packs much noise into little space, i.e. where it puts many samples. **Mode collapse** is G putting its "
        "samples on only some of the 8 modes. Least squares often keeps 6–7 of them, and the non-saturating loss with a "
        "large learning rate (0.03) loses and regains modes while it plays: watch the JS divergence stall. Wasserstein + "
        "gradient penalty with 5 D steps per G step covered all 8 modes within 300 steps in our runs; with 1 D step its "
        "critic lags behind and G can sit on one to three modes."),
        ("**左图**：判别器在整个平面上的输出 D(x)（非饱和损失下为 x 是真实数据的概率；最小二乘和 Wasserstein 损失下为原始分数，"
        "按图中最低到最高值着色），以及数据（绿色）和生成器的样本 G(z)（紫色）。假样本上的箭头是 −∂L_G/∂x："
        "生成器下一次更新会把每个假样本推向哪里。**右图**：把噪声 z 的网格送入 G；格子颜色越深，说明 G 把越多的噪声挤进越小的区域，"
        "即那里的样本越多。**模式崩溃**是指生成器只把样本放在 8 个模式中的一部分上。最小二乘损失常常只覆盖 6–7 个模式；"
        "非饱和损失在学习率很大（0.03）时，播放中模式时有时无：可以看到 JS 散度停滞不降。带梯度惩罚的 Wasserstein 损失"
        "（每步 5 次判别器更新）在我们的运行中 300 步内就覆盖了全部 8 个模式；若每步只更新 1 次判别器，判别器跟不上，"
        "生成器可能停留在一到三个模式上。"),
    ),
    "pg.help.diffusion": (
        ("**Left:** sampling. Grey dots are pure noise x_T; each orange line is one sample's path as the model removes "
        "noise step by step, ending at x_0 (orange dots) on the data (green). **Right:** the learned score "
        "∇ₓ log p_t(x) = −ε̂(x, t)/√(1 − ᾱ_t) at the timestep t you choose, over the data noised to that t (grey). "
        "At large t the arrows point roughly to the middle; at small t they point to the nearest piece of data."),
        ("**左图**：采样。灰点是纯噪声 x_T；每条橙线是一个样本的轨迹：模型一步步去掉噪声，最终到达 x_0（橙点），落在数据（绿色）上。"
        "**右图**：在你选择的时间步 t 上学到的得分函数 ∇ₓ log p_t(x) = −ε̂(x, t)/√(1 − ᾱ_t)，灰点是加噪到该时间步的数据。"
        "t 大时箭头大致指向中心；t 小时箭头指向最近的数据。"),
    ),
    "pg.help.vae": (
        ("**Right:** the latent space. Each data point x is encoded to the mean μ(x) of q(z|x), coloured by its angle "
        "around the origin in data space; the circles are 1, 2 and 3 standard deviations of the prior N(0, I). "
        "**Left:** the latent grid mapped through the decoder into data space (dark where the decoder packs much prior "
        "mass into little space), the data with the same colours, and decoded samples z ~ N(0, I) (dark grey). "
        "Samples that land between the data's pieces show where the decoder has to stretch one latent Gaussian over "
        "separate modes. Larger β pulls the encodings towards the prior."),
        ("**右图**：潜在空间。每个数据点 x 被编码为 q(z|x) 的均值 μ(x)，颜色按它在数据空间中绕原点的角度取；"
        "圆圈是先验分布 N(0, I) 的 1、2、3 个标准差。**左图**：潜在网格经解码器映射到数据空间（解码器把越多的先验概率挤进越小的区域，"
        "颜色越深），颜色相同的数据点，以及解码的样本 z ~ N(0, I)（深灰）。落在数据各块之间的样本，"
        "说明解码器必须把一个潜在高斯分布拉伸到几个分离的模式上。β 越大，编码越被拉向先验分布。"),
    ),
    "pg.explain.title": ("How it works", "原理"),
    "pg.explain.body": (
        r"""
**The distance.** The view is cut into a 32 × 32 histogram; $p$ holds 20,000 data points, $q$ 512 model samples
drawn from fixed noise. $\mathrm{JS}(p, q) = \tfrac12 \mathrm{KL}(p \| m) + \tfrac12 \mathrm{KL}(q \| m)$ with
$m = \tfrac12 (p + q)$ lies between 0 and $\ln 2 \approx 0.693$; $\mathrm{KL}(p \| q) = \sum_i p_i \log (p_i / q_i)$
(with $q$ smoothed by $10^{-4}$ per cell) punishes data the model misses.

**GAN.** The generator $G$ maps noise $z \sim \mathcal N(0, I)$ to points; the discriminator $D$ scores points.
Non-saturating: $D$ minimises $-\log D(x) - \log(1 - D(G(z)))$ and $G$ minimises $-\log D(G(z))$.
Least squares: $\tfrac12 (D(x) - 1)^2 + \tfrac12 D(G(z))^2$ and $\tfrac12 (D(G(z)) - 1)^2$.
Wasserstein with gradient penalty: the critic minimises
$D(G(z)) - D(x) + \lambda\, \mathbb E\big[(\lVert \nabla_{\hat x} D(\hat x) \rVert_2 - 1)^2\big]$ at points
$\hat x$ between real and fake, and $G$ minimises $-D(G(z))$. The penalty keeps the critic's slope near 1, so its
gradient keeps pointing the fakes towards every mode, which helps against **mode collapse**.

**Diffusion.** Noise the data with $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$ (cosine
schedule, $T = 50$) and train $\hat\varepsilon(x_t, t)$ to predict $\varepsilon$. The prediction is the
**score function** up to scale: $\nabla_x \log p_t(x) \approx -\hat\varepsilon(x, t) / \sqrt{1 - \bar\alpha_t}$.
Sampling starts at $x_T \sim \mathcal N(0, I)$ and follows the deterministic DDIM update ($\eta = 0$) down to $t = 0$, so each path is a smooth flow along the learned field.

**VAE.** The encoder gives $q(z \mid x) = \mathcal N(\mu(x), \sigma^2(x))$ on a 2-D latent; the decoder gives
$p(x \mid z) = \mathcal N(\mathrm{dec}(z), 0.1^2 I)$. Training minimises
$-\mathrm{ELBO} = \mathbb E_q[-\log p(x \mid z)] + \beta\, \mathrm{KL}(q(z \mid x) \,\|\, \mathcal N(0, I))$ with the
reparameterisation trick $z = \mu + \sigma \varepsilon$.

**Bad settings.** If a loss or a weight stops being finite (try a learning rate of 300), the step is undone, the
last good weights come back and play pauses.
""",
        r"""
**距离**。把视野切成 32 × 32 的直方图；$p$ 来自 20,000 个数据点，$q$ 来自 512 个由固定噪声生成的模型样本。
$\mathrm{JS}(p, q) = \tfrac12 \mathrm{KL}(p \| m) + \tfrac12 \mathrm{KL}(q \| m)$，其中 $m = \tfrac12 (p + q)$，取值在 0 到
$\ln 2 \approx 0.693$ 之间；KL 散度 $\mathrm{KL}(p \| q) = \sum_i p_i \log (p_i / q_i)$（$q$ 的每格加 $10^{-4}$ 平滑）
会重罚模型漏掉的数据。

**生成对抗网络**。生成器 $G$ 把噪声 $z \sim \mathcal N(0, I)$ 映射为点；判别器 $D$ 给点打分。
非饱和损失：$D$ 最小化 $-\log D(x) - \log(1 - D(G(z)))$，$G$ 最小化 $-\log D(G(z))$。
最小二乘损失：$\tfrac12 (D(x) - 1)^2 + \tfrac12 D(G(z))^2$ 与 $\tfrac12 (D(G(z)) - 1)^2$。
带梯度惩罚的 Wasserstein 损失：判别器（critic）最小化
$D(G(z)) - D(x) + \lambda\, \mathbb E\big[(\lVert \nabla_{\hat x} D(\hat x) \rVert_2 - 1)^2\big]$，$\hat x$ 取在真假样本之间，
$G$ 最小化 $-D(G(z))$。梯度惩罚让判别器的斜率保持在 1 附近，它的梯度就一直把假样本推向每一个模式，这正是它能缓解**模式崩溃**的原因。

**扩散模型**。用 $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon$ 给数据加噪（余弦噪声调度，$T = 50$），
训练 $\hat\varepsilon(x_t, t)$ 预测噪声 $\varepsilon$。预测噪声与**得分函数**只差一个系数：
$\nabla_x \log p_t(x) \approx -\hat\varepsilon(x, t) / \sqrt{1 - \bar\alpha_t}$。采样从 $x_T \sim \mathcal N(0, I)$ 出发，按确定性的 DDIM 更新（$\eta = 0$）一步步走到 $t = 0$，因此每条轨迹都是沿着学到的场的一条平滑流线。

**变分自编码器**。编码器给出二维潜在空间上的 $q(z \mid x) = \mathcal N(\mu(x), \sigma^2(x))$；解码器给出
$p(x \mid z) = \mathcal N(\mathrm{dec}(z), 0.1^2 I)$。训练最小化
$-\mathrm{ELBO} = \mathbb E_q[-\log p(x \mid z)] + \beta\, \mathrm{KL}(q(z \mid x) \,\|\, \mathcal N(0, I))$，并使用重参数化技巧
$z = \mu + \sigma \varepsilon$。

**不合理的设置**。如果某个损失或权重不再是有限值（试试学习率 300），这一步会被撤销，恢复最后一次正常的权重，并暂停播放。
""",
    ),
}

STRINGS.update(PLAYGROUND_STRINGS)

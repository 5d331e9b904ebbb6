"""Errors a user can cause, with their message in English and Chinese.

The engine never talks to the UI, but what it says to a user must reach them in their language.
A `UserError` carries a message key and its parameters; `str(err)` is English, and
`err.localized("zh")` is Chinese. Add new messages here, in both languages.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    # --- images -----------------------------------------------------------------------------
    "image_missing": {
        "en": "No image given. Upload an image, draw one, or pick an example.",
        "zh": "没有提供图像。请上传图像、手绘一张，或选择一个示例。",
    },
    "image_unreadable": {
        "en": "'{name}' is not an image GenLab can read (PNG, JPEG, BMP, GIF, WebP): {reason}",
        "zh": "无法读取“{name}”：它不是 GenLab 支持的图像（PNG、JPEG、BMP、GIF、WebP）：{reason}",
    },
    "image_too_large": {
        "en": "The image is {width}x{height} pixels; GenLab accepts at most {max_mpx} megapixels.",
        "zh": "图像大小为 {width}x{height} 像素；GenLab 最多接受 {max_mpx} 百万像素。",
    },
    "image_too_small": {
        "en": "The image is {width}x{height} pixels; it needs at least {min_side} pixels a side.",
        "zh": "图像大小为 {width}x{height} 像素；每边至少需要 {min_side} 像素。",
    },
    "sketch_empty": {
        "en": "The sketch is empty. Draw a digit first.",
        "zh": "画板是空的。请先画一个数字。",
    },
    "file_too_large": {
        "en": "'{name}' is {size_mb:.1f} MB; the limit is {max_mb} MB.",
        "zh": "“{name}”大小为 {size_mb:.1f} MB；上限为 {max_mb} MB。",
    },
    # --- data sets --------------------------------------------------------------------------
    "dataset_unknown": {
        "en": "Unknown data set '{name}'. Available: {available}.",
        "zh": "未知的数据集“{name}”。可用的数据集：{available}。",
    },
    "mnist_missing": {
        "en": (
            "MNIST was not found and could not be downloaded. Either point GenLab at a folder "
            "holding the MNIST IDX files (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) "
            "with --data-dir or the GENLAB_DATA_DIR environment variable, or run GenLab on a machine "
            "with internet access so torchvision can download it. Searched: {searched}."
        ),
        "zh": (
            "找不到 MNIST，也无法下载。请用 --data-dir 参数或 GENLAB_DATA_DIR 环境变量指向存放 MNIST "
            "IDX 文件（t10k-images-idx3-ubyte[.gz]、t10k-labels-idx1-ubyte[.gz]）的文件夹，或在能联网的机器上"
            "运行 GenLab，让 torchvision 自动下载。已查找：{searched}。"
        ),
    },
    "mnist_corrupt": {
        "en": "The MNIST file '{path}' is damaged: {reason}",
        "zh": "MNIST 文件“{path}”已损坏：{reason}",
    },
    "folder_empty": {
        "en": "None of the {count} files could be used as images. Skipped: {skipped}",
        "zh": "{count} 个文件中没有可用的图像。已跳过：{skipped}",
    },
    "archive_unsafe": {
        "en": "The archive '{name}' was refused: {reason}",
        "zh": "压缩包“{name}”被拒绝：{reason}",
    },
    # --- checkpoints ------------------------------------------------------------------------
    "checkpoint_missing_file": {
        "en": "The checkpoint at '{path}' has no {file}. A GenLab checkpoint is a folder (or zip) with config.json, model.safetensors and card.json.",
        "zh": "“{path}”处的检查点缺少 {file}。GenLab 检查点是包含 config.json、model.safetensors 和 card.json 的文件夹（或 zip）。",
    },
    "checkpoint_pickle": {
        "en": "'{name}' is a pickle checkpoint (.pt/.pth/.ckpt/.pkl). GenLab never loads pickles, since they can run code; upload a safetensors checkpoint instead.",
        "zh": "“{name}”是 pickle 格式的检查点（.pt/.pth/.ckpt/.pkl）。pickle 文件可能执行任意代码，GenLab 从不加载；请上传 safetensors 格式的检查点。",
    },
    "checkpoint_corrupt": {
        "en": "The checkpoint file '{file}' is damaged or truncated: {reason}",
        "zh": "检查点文件“{file}”已损坏或不完整：{reason}",
    },
    "checkpoint_bad_json": {
        "en": "'{file}' in the checkpoint is not valid JSON: {reason}",
        "zh": "检查点中的“{file}”不是有效的 JSON：{reason}",
    },
    "checkpoint_unknown_family": {
        "en": "The checkpoint's family '{family}' is unknown. Known families: {known}.",
        "zh": "检查点的模型类型“{family}”未知。已知类型：{known}。",
    },
    "checkpoint_wrong_family": {
        "en": "This is a '{family}' checkpoint, but this tab needs a '{expected}' one.",
        "zh": "这是“{family}”类型的检查点，但此页面需要“{expected}”类型。",
    },
    "checkpoint_shape_mismatch": {
        "en": "The weights do not fit the model described by config.json: {reason}",
        "zh": "权重与 config.json 描述的模型不匹配：{reason}",
    },
    "checkpoint_bad_config": {
        "en": "config.json does not describe a valid {family} model: {reason}",
        "zh": "config.json 描述的 {family} 模型无效：{reason}",
    },
    "checkpoint_nonfinite": {
        "en": "The weights contain NaN or infinite values (in '{tensor}'); the checkpoint cannot be used.",
        "zh": "权重中含有 NaN 或无穷大值（位于“{tensor}”）；该检查点无法使用。",
    },
    "upload_unsupported": {
        "en": "'{name}' is not a checkpoint GenLab accepts. Upload a .zip of a checkpoint folder, or its config.json, model.safetensors and card.json together.",
        "zh": "“{name}”不是 GenLab 接受的检查点。请上传检查点文件夹的 .zip，或同时上传 config.json、model.safetensors 和 card.json。",
    },
    "model_unknown": {
        "en": "No model named '{name}'. Available: {available}.",
        "zh": "没有名为“{name}”的模型。可用模型：{available}。",
    },
    # --- settings ---------------------------------------------------------------------------
    "value_out_of_range": {
        "en": "{what} must be between {low} and {high}; got {value}.",
        "zh": "{what}必须在 {low} 到 {high} 之间；当前为 {value}。",
    },
    "value_not_finite": {
        "en": "{what} must be a finite number; got {value}.",
        "zh": "{what}必须是有限的数值；当前为 {value}。",
    },
    "model_needs_2d": {
        "en": "The 2-D latent map needs a model with a 2-dimensional latent space; this one has {latent} dimensions.",
        "zh": "二维潜在空间图需要潜在维度为 2 的模型；当前模型为 {latent} 维。",
    },
    "image_channels": {
        "en": "This model works on {channels}-channel {size}x{size} images; the input was converted.",
        "zh": "该模型处理 {channels} 通道的 {size}x{size} 图像；输入已自动转换。",
    },
    # --- training ---------------------------------------------------------------------------
    "training_nan": {
        "en": "Training stopped at step {step}: the loss became {value}. The last good weights were kept. Try a lower learning rate.",
        "zh": "训练在第 {step} 步停止：损失变为 {value}。已保留最后一次正常的权重。请尝试降低学习率。",
    },
    "training_stopped": {
        "en": "Training stopped at step {step} as asked.",
        "zh": "训练已按要求在第 {step} 步停止。",
    },
    # --- data sets (engines.data) --------------------------------------------------------------
    "split_unknown": {
        "en": "The data set '{name}' has no split '{split}'. Available: {available}.",
        "zh": "数据集“{name}”没有“{split}”划分。可用的划分：{available}。",
    },
    "folder_missing": {
        "en": "'{path}' is neither a folder of images nor a .zip of them. Give a folder or a .zip of PNG/JPEG images.",
        "zh": "“{path}”既不是图像文件夹，也不是图像的 .zip 压缩包。请提供一个包含 PNG/JPEG 图像的文件夹或 .zip。",
    },
    "shape_attr_unknown": {
        "en": "Unknown {factor} '{value}' for the shapes data set. Choose one of: {available}.",
        "zh": "形状数据集的因素“{factor}”没有取值“{value}”。可选：{available}。",
    },
    "image_blank": {
        "en": "No digit was found: the image looks blank. Use a photo or drawing of one dark digit on a light background (or a light digit on a dark one).",
        "zh": "没有找到数字：图像看起来是空白的。请使用浅色背景上的深色数字（或深色背景上的浅色数字）的照片或手绘图。",
    },
    # --- diffusion (engines.diffusion) -------------------------------------------------------
    "diffusion_steps": {
        "en": "The number of sampling steps must be a whole number from 1 to {max} (the model's timesteps); got {value}.",
        "zh": "采样步数必须是 1 到 {max}（模型的时间步数）之间的整数；当前为 {value}。",
    },
    "diffusion_guidance": {
        "en": "The guidance scale must be a finite number between -{max:g} and {max:g}; got {value}.",
        "zh": "引导系数必须是 -{max:g} 到 {max:g} 之间的有限数值；当前为 {value}。",
    },
    "diffusion_eta": {
        "en": "eta (the DDIM noise level) must be between 0 (deterministic) and 1 (as much noise as DDPM); got {value}.",
        "zh": "eta（DDIM 的噪声强度）必须在 0（确定性）到 1（与 DDPM 相同的噪声）之间；当前为 {value}。",
    },
    "diffusion_label": {
        "en": "Class label {value} is out of range: this model knows the labels 0 to {high}.",
        "zh": "类别标签 {value} 超出范围：该模型的类别标签为 0 到 {high}。",
    },
    "diffusion_labels_count": {
        "en": "Got {count} class labels for {n} images; give one label, or one per image.",
        "zh": "为 {n} 张图像提供了 {count} 个类别标签；请提供一个标签，或每张图像一个。",
    },
    "diffusion_unconditional": {
        "en": "This model was trained without class labels, so it cannot generate a chosen class. Leave the class empty.",
        "zh": "该模型训练时没有使用类别标签，无法按指定类别生成。请不要选择类别。",
    },
    "diffusion_start": {
        "en": "Cannot start sampling at timestep {value}: it must be a whole number from 0 to {high}.",
        "zh": "无法从时间步 {value} 开始采样：时间步必须是 0 到 {high} 之间的整数。",
    },
    "diffusion_p_uncond": {
        "en": "The label dropout probability (for classifier-free guidance) must be between 0 and 1; got {value}.",
        "zh": "标签丢弃概率（用于无分类器指导）必须在 0 到 1 之间；当前为 {value}。",
    },
    "sample_option_unsupported": {
        "en": "A '{family}' model does not take {options} (ddpm: --label --guidance --sampler --steps --eta; "
              "stylegan: --psi --mix-seed --mix-layers).",
        "zh": "“{family}”模型不支持 {options}（ddpm：--label --guidance --sampler --steps --eta；"
              "stylegan：--psi --mix-seed --mix-layers）。",
    },
    "sample_mix_pair": {
        "en": "Style mixing needs both --mix-seed and --mix-layers.",
        "zh": "风格混合需要同时给出 --mix-seed 和 --mix-layers。",
    },
    # --- shared training runs (engines.jobs) ----------------------------------------------------
    "job_already_running": {
        "en": "You already have a training run ('{name}', {status}). Stop it or let it finish before starting another.",
        "zh": "你已有一个训练任务（“{name}”，状态：{status}）。请先停止它或等它结束，再开始新的任务。",
    },
    "jobs_busy": {
        "en": "The server is busy: {ahead} training runs are ahead of you (running or waiting) and the queue is full. Try again in a minute.",
        "zh": "服务器繁忙：你前面已有 {ahead} 个训练任务（正在运行或排队），队列已满。请稍后再试。",
    },
    "job_failed": {
        "en": "Training '{name}' failed: {reason}",
        "zh": "训练任务“{name}”失败：{reason}",
    },
    "job_timeout": {
        "en": "Training reached this server's time limit of {seconds:g} s at step {step}. The weights so far were kept.",
        "zh": "训练在第 {step} 步达到了本服务器的时间上限（{seconds:g} 秒）。已保留目前的权重。",
    },
    "job_step_limit": {
        "en": "Training ended at step {step}: this server allows at most {max_steps} steps per run.",
        "zh": "训练在第 {step} 步结束：本服务器每次训练最多允许 {max_steps} 步。",
    },
    # --- stylegan (engines.stylegan) -----------------------------------------------------------
    "stylegan_psi": {
        "en": "The truncation psi must be a number from {low:g} to {high:g} (1: no truncation, 0: the average image); got {value}.",
        "zh": "截断系数 psi 必须是 {low:g} 到 {high:g} 之间的数值（1：不截断，0：平均图像）；当前为 {value}。",
    },
    "stylegan_no_layers": {
        "en": "No layers are selected for style mixing. Pick at least one layer (or a group: coarse, middle, fine).",
        "zh": "没有为风格混合选择任何层。请至少选择一层（或一组：基础层、中间层、细调层）。",
    },
    "stylegan_layer": {
        "en": "There is no layer '{value}': this model's layers are 0 to {high}, or the groups coarse, middle and fine.",
        "zh": "不存在层“{value}”：该模型的层编号为 0 到 {high}，或层组 coarse（基础层）、middle（中间层）、fine（细调层）。",
    },
    "stylegan_noise_mode": {
        "en": "The noise mode must be 'random', 'const' or 'none'; got '{value}'.",
        "zh": "噪声模式必须是“random”（随机）、“const”（固定）或“none”（无噪声）；当前为“{value}”。",
    },
    "stylegan_noise_count": {
        "en": "Give one noise strength for all layers, or one per layer ({num_ws}); got {count}.",
        "zh": "请为所有层给出一个噪声强度，或每层一个（共 {num_ws} 个）；当前给出了 {count} 个。",
    },
    "stylegan_space": {
        "en": "Interpolation works in the space 'z' or 'w'; got '{value}'.",
        "zh": "插值只能在“z”或“w”空间中进行；当前为“{value}”。",
    },
    "stylegan_shape": {
        "en": "{what} must have the shape {want}; got {shape}.",
        "zh": "{what} 的形状必须是 {want}；当前为 {shape}。",
    },
    # --- faces data set ---------------------------------------------------------------------
    "face_attr_unknown": {
        "en": "Unknown {factor} '{value}' for the faces data set. Choose one of: {available}.",
        "zh": "人脸数据集的属性“{factor}”没有取值“{value}”。可选：{available}。",
    },
    # --- diffusion tab ----------------------------------------------------------------------
    "diffusion_sampler": {
        "en": "Unknown sampler '{value}'. Choose 'ddpm' (every step) or 'ddim' (fewer steps).",
        "zh": "未知的采样器“{value}”。请选择“ddpm”（逐步采样）或“ddim”（更少的步数）。",
    },
    "diffusion_timestep": {
        "en": "The timestep t must be a whole number from 0 (the clean image) to {high} (pure noise); got {value}.",
        "zh": "时间步 t 必须是 0（原图）到 {high}（纯噪声）之间的整数；当前为 {value}。",
    },
    "diffusion_batch": {
        "en": "The batch size must be a whole number from 1 to {high}; got {value}.",
        "zh": "批大小必须是 1 到 {high} 之间的整数；当前为 {value}。",
    },
    "diffusion_no_run": {
        "en": "There is no sampling run yet. Press Generate first.",
        "zh": "还没有采样结果。请先点击“生成”。",
    },
    "diffusion_branch_step": {
        "en": "Cannot branch from step {value}: pick a step from 0 (pure noise) to {high}; the last frame is the finished sample.",
        "zh": "无法从第 {value} 步分叉：请选择 0（纯噪声）到 {high} 之间的步；最后一帧已是完成的样本。",
    },
    "diffusion_branch_model": {
        "en": "The stored run was made with another model. Generate again with the selected model, then branch.",
        "zh": "已保存的采样结果来自另一个模型。请用当前选中的模型重新生成后再分叉。",
    },
    "diffusion_strip_timesteps": {
        "en": "Give the strip's timesteps as whole numbers from 0 to {high}, separated by commas (at most {max}); got '{value}'.",
        "zh": "请用逗号分隔给出条带的时间步，每个为 0 到 {high} 之间的整数（最多 {max} 个）；当前为“{value}”。",
    },
    "diffusion_image_index": {
        "en": "Image number {value} is not in the batch: pick 1 to {high}.",
        "zh": "批次中没有第 {value} 张图像：请选择 1 到 {high}。",
    },
    # --- clip (engines/clip) ---------------------------------------------------------------------
    "clip_data_unknown": {
        "en": "Unknown CLIP training data '{value}': give mnist, shapes or both, separated by a comma.",
        "zh": "未知的 CLIP 训练数据“{value}”：请填写 mnist、shapes 或两者（用逗号分隔）。",
    },
    "clip_backend_unknown": {
        "en": "Unknown CLIP '{value}': choose 'genlab' (the GenLab CLIP, works offline), 'pretrained' (open_clip ViT-B-32, "
              "needs a download) or a folder holding a CLIP checkpoint.",
        "zh": "未知的 CLIP“{value}”：请选择“genlab”（GenLab CLIP，可离线使用）、“pretrained”（open_clip ViT-B-32，需要下载）"
              "或包含 CLIP 检查点的文件夹。",
    },
    "clip_pretrained_offline": {
        "en": "The pretrained CLIP {model} is not on this machine and cannot be downloaded (no network, or HF_HUB_OFFLINE "
              "is set). Use the GenLab CLIP instead: it ships with GenLab and works offline.",
        "zh": "本机没有预训练 CLIP {model}，也无法下载（没有网络，或设置了 HF_HUB_OFFLINE）。请改用 GenLab CLIP："
              "它随 GenLab 一起提供，可离线使用。",
    },
    "clip_pretrained_unknown": {
        "en": "open_clip has no pretrained model '{model}' with tag '{tag}'. Tags for it include: {tags}.",
        "zh": "open_clip 中没有模型“{model}”的预训练标签“{tag}”。可用的标签包括：{tags}。",
    },
    "clip_pretrained_failed": {
        "en": "Loading the pretrained CLIP {model} failed: {reason}. The GenLab CLIP works offline.",
        "zh": "加载预训练 CLIP {model} 失败：{reason}。GenLab CLIP 可离线使用。",
    },
    "clip_prompt_empty": {
        "en": "The prompt is empty. Type what the image should show, e.g. 'a red circle in the centre' or '数字七'.",
        "zh": "提示词为空。请输入图像应呈现的内容，例如“中央的红色圆形”或“the digit 7”。",
    },
    "clip_prompt_too_long": {
        "en": "The text has {length} characters; at most {max} are accepted (CLIP reads only the first few dozen anyway).",
        "zh": "文本有 {length} 个字符；最多接受 {max} 个（CLIP 本来也只读取前几十个）。",
    },
    "clip_captions_empty": {
        "en": "Give at least one caption to compare the image with, one per line.",
        "zh": "请至少给出一条用于与图像比较的描述，每行一条。",
    },
    "clip_captions_too_many": {
        "en": "{count} captions given; at most {max} can be compared at once.",
        "zh": "给出了 {count} 条描述；一次最多比较 {max} 条。",
    },
    "clip_image_shape": {
        "en": "CLIP needs uint8 images of shape (N, H, W, C) with C = 1, 3 or 4 and sides of at least 4 pixels; got {shape}.",
        "zh": "CLIP 需要形状为 (N, H, W, C) 的 uint8 图像，C 为 1、3 或 4，边长至少 4 像素；当前为 {shape}。",
    },
    "clip_generator_unknown": {
        "en": "Unknown generator '{value}': choose 'pixels' or the folder of a VAE, StyleGAN or DDPM checkpoint.",
        "zh": "未知的生成器“{value}”：请选择“pixels”或某个 VAE、StyleGAN、DDPM 检查点的文件夹。",
    },
    "clip_generator_family": {
        "en": "'{value}' is a {family} checkpoint; CLIP can steer only pixels, a VAE, a StyleGAN or a DDPM.",
        "zh": "“{value}”是 {family} 检查点；CLIP 只能引导像素、VAE、StyleGAN 或 DDPM。",
    },
    "clip_guide_nonfinite": {
        "en": "The CLIP score became NaN or infinite at step {step}; the run stopped and kept the best image so far. "
              "Try a lower guidance strength.",
        "zh": "CLIP 分数在第 {step} 步变为 NaN 或无穷大；运行已停止，并保留了目前最好的图像。请尝试降低引导强度。",
    },
    "clip_guide_output": {
        "en": "Write the result to a .png (an image) or .npz (raw uint8 pixels) file, not '{name}'.",
        "zh": "请把结果写入 .png（图像）或 .npz（原始 uint8 像素）文件，而不是“{name}”。",
    },
    # --- training studio (engines.studio, demo/train_tab.py) -----------------------------------
    "studio_value": {
        "en": "{what_en} must be between {low} and {high}; got {value}.",
        "zh": "{what_zh}必须在 {low} 到 {high} 之间；当前为 {value}。",
    },
    "studio_integer": {
        "en": "{what_en} must be a whole number; got {value}.",
        "zh": "{what_zh}必须是整数；当前为 {value}。",
    },
    "studio_choice": {
        "en": "{what_en} '{value}' is not one GenLab can train. Choose one of: {choices}.",
        "zh": "{what_zh}“{value}”无法在 GenLab 中训练。请从以下选项中选择：{choices}。",
    },
    "studio_toy2d": {
        "en": "The 2-D toy distributions train in the 2-D playground tab, where you can watch every point move. Pick an image data set here.",
        "zh": "二维玩具分布请在“二维演练场”标签页中训练，那里可以看到每个点的移动。这里请选择一个图像数据集。",
    },
    "studio_zip_missing": {
        "en": "Upload a .zip of your images (PNG, JPEG, BMP, GIF or WebP) first, or pick another data set.",
        "zh": "请先上传一个包含你的图像（PNG、JPEG、BMP、GIF 或 WebP）的 .zip，或选择其他数据集。",
    },
    "studio_data_mismatch": {
        "en": "This model works on {channels}-channel {size}x{size} images, but the data set '{dataset}' gives "
              "{data_channels}-channel {data_size}x{data_size} images. Pick the data set (and size) it was trained on.",
        "zh": "该模型处理 {channels} 通道的 {size}x{size} 图像，但数据集“{dataset}”提供的是 {data_channels} 通道的 "
              "{data_size}x{data_size} 图像。请选择它训练时所用的数据集（和规模）。",
    },
    "studio_resume_changed": {
        "en": "Resume continues the same model on the same data, so these settings cannot change: {fields}. Press Start for a new run.",
        "zh": "“继续训练”会在相同数据上继续训练同一个模型，因此这些设置不能改变：{fields}。如需新的训练，请按“开始”。",
    },
    "studio_nothing_to_resume": {
        "en": "There is no run to resume yet: start one, or upload a checkpoint to continue.",
        "zh": "还没有可以继续的训练：请先开始一次训练，或上传一个检查点以继续训练。",
    },
    "studio_no_model": {
        "en": "No trained model yet: start a run and let it take a few steps first.",
        "zh": "还没有训练好的模型：请先开始训练，并让它运行几步。",
    },
    "studio_family_unsupported": {
        "en": "The training studio trains {families}; this checkpoint is a '{family}' model.",
        "zh": "训练工作室可以训练 {families}；该检查点是“{family}”模型。",
    },
    "studio_clip_data": {
        "en": "The GenLab CLIP learns from images with true captions; '{dataset}' has none it knows. Choose: {choices}.",
        "zh": "GenLab CLIP 需要带有准确描述文本的图像来学习；“{dataset}”没有它能用的描述。请选择：{choices}。",
    },
    "studio_busy_resume": {
        "en": "Wait until the current run has ended (or press Stop) before resuming or saving it.",
        "zh": "请等当前训练结束（或按“停止”）后再继续训练或保存。",
    },
    # --- saved trainer state (engines.train, engines.studio) -----------------------------------
    "train_state_mismatch": {
        "en": "This checkpoint's saved training state (optimiser moments, step, batch order) does not fit its model: {reason}. Upload the zip as it was downloaded.",
        "zh": "此检查点保存的训练状态（优化器动量、步数、批次顺序）与其模型不匹配：{reason}。请上传下载时的原始压缩包。",
    },
    # --- gan tab ------------------------------------------------------------------------------
    "gan_seeds": {
        "en": "Give the seeds as whole numbers from 0 to {high}, separated by commas, 1 to {max} of them; got '{value}'.",
        "zh": "请用逗号分隔给出随机种子，每个为 0 到 {high} 之间的整数，共 1 到 {max} 个；当前为“{value}”。",
    },
    # --- clip tab (demo/clip_tab.py) -----------------------------------------------------------
    "clip_tab_prompt_too_long": {
        "en": "The prompt is {n} characters long; the limit is {max}. CLIP reads only a short text: say it in a few words.",
        "zh": "提示词有 {n} 个字符，上限为 {max}。CLIP 只能读取很短的文本：请用几个词说清楚。",
    },
    "clip_tab_captions": {
        "en": "Give {min} to {max} captions, one per line, each at most {chars} characters; got {count} "
              "(the longest has {longest}).",
        "zh": "请给出 {min} 到 {max} 条描述，每行一条，每条最多 {chars} 个字符；当前为 {count} 条（最长的有 {longest} 个字符）。",
    },
    "clip_tab_generator_unknown": {
        "en": "Unknown generator '{name}'. Available: {available}.",
        "zh": "未知的生成器“{name}”。可用的生成器：{available}。",
    },
    "clip_tab_backend_unknown": {
        "en": "Unknown CLIP model '{value}'. Choose one of: {available}.",
        "zh": "未知的 CLIP 模型“{value}”。请从以下选项中选择：{available}。",
    },
    "clip_tab_label": {
        "en": "The class must be a whole number from 0 to {high}, or none; got '{value}'.",
        "zh": "类别必须是 0 到 {high} 之间的整数，或“无”；当前为“{value}”。",
    },
    "clip_tab_no_run": {
        "en": "There is no generated image yet. Press Generate first, or choose Upload and give an image.",
        "zh": "还没有生成的图像。请先点击“生成”，或选择“上传”并提供一张图像。",
    },
    # --- 2-D playground (engines.toy2d, demo/playground_tab.py) -------------------------------
    "toy2d_setting": {
        "en": "{what} must be between {low:g} and {high:g}; got {value}.",
        "zh": "{what_zh}必须在 {low:g} 到 {high:g} 之间；当前为 {value}。",
    },
    "toy2d_choice": {
        "en": "Unknown {what} '{value}'. Choose one of: {available}.",
        "zh": "未知的{what_zh}“{value}”。可选：{available}。",
    },
    "toy2d_too_few_points": {
        "en": "Only {count} distinct points were drawn; draw at least {min} (click or drag on the plot) before training on them.",
        "zh": "只画了 {count} 个不同的点；请至少画 {min} 个（在图上点击或拖动）再用它们训练。",
    },
    "toy2d_stroke": {
        "en": "A click or stroke must be a list of 1 to {most} pixel positions [[x, y], ...] on the picture; got {value}.",
        "zh": "点击或笔画必须是图上 1 到 {most} 个像素位置组成的列表 [[x, y], ...]；当前为 {value}。",
    },
    "toy2d_points_full": {
        "en": "There are already {count} drawn points, and {most:,} is the most kept. Undo or clear some before adding more.",
        "zh": "已经画了 {count} 个点，最多只能保留 {most:,} 个。请先撤销或清除一些再添加。",
    },
    "toy2d_nan": {
        "en": "The {model} diverged at step {step}: '{what}' became {value}. Training is paused and the last good "
              "weights (step {good}) were restored. Lower the learning rate (now {lr:g}) and press Play again.",
        "zh": "{model} 在第 {step} 步发散：“{what}”变为 {value}。训练已暂停，并恢复了最后一次正常的权重（第 {good} 步）。"
              "请降低学习率（当前为 {lr:g}）后再点击“播放”。",
    },
    # --- hostile input (engine side: checkpoints, archives, images, work budgets, downloads) ---
    "checkpoint_too_big": {
        "en": "config.json describes a model of {params:,} parameters; GenLab loads at most {max_params:,}.",
        "zh": "config.json 描述的模型有 {params:,} 个参数；GenLab 最多加载 {max_params:,} 个。",
    },
    "checkpoint_json_too_big": {
        "en": "'{file}' in the checkpoint is {size_kb:,} KB; GenLab reads at most {max_kb:,} KB of it.",
        "zh": "检查点中的“{file}”大小为 {size_kb:,} KB；GenLab 最多读取 {max_kb:,} KB。",
    },
    "checkpoint_bad_card": {
        "en": "card.json's field '{field}' must be a {expected}, not a {got}.",
        "zh": "card.json 的字段“{field}”必须是 {expected} 类型，而不是 {got}。",
    },
    "checkpoint_bad_aux": {
        "en": "The checkpoint's extra data '{name}' was refused: {reason}.",
        "zh": "检查点中的附加数据“{name}”被拒绝：{reason}。",
    },
    "images_total_pixels": {
        "en": "The images add up to more than {max_mpx:g} megapixels after {count} of them; GenLab decodes at most "
              "that much per data set. Use fewer or smaller images (a few hundred pixels a side is plenty).",
        "zh": "读到第 {count} 张时，图像总量已超过 {max_mpx:g} 百万像素；每个数据集 GenLab 最多解码这么多。"
              "请使用更少或更小的图像（每边几百像素就足够了）。",
    },
    "diffusion_work": {
        "en": "{n} images of {size}x{size} pixels with {steps} sampling steps is too much work for one request "
              "(at most {max_work:,} image-pixel-steps, such as {most} images x {most_steps} steps). Use fewer images or "
              "fewer steps.",
        "zh": "{n} 张 {size}x{size} 像素的图像、{steps} 个采样步数，对一次请求来说计算量太大（最多 {max_work:,} "
              "图像·像素·步，例如 {most} 张图像 x {most_steps} 步）。请减少图像数或采样步数。",
    },
    "clip_work": {
        "en": "{candidates} images x {views} views x {steps} steps is too much work for one CLIP guidance run "
              "with this CLIP: {step_work:,} view-pixels a step (at most {max_step:,}) and {work:,} in all "
              "(at most {max_work:,}). Use fewer images, augmentations or steps, or a smaller size.",
        "zh": "{candidates} 张图像 x {views} 个视图 x {steps} 步，对这个 CLIP 的一次引导来说计算量太大："
              "每步 {step_work:,} 视图·像素（最多 {max_step:,}），总共 {work:,}（最多 {max_work:,}）。"
              "请减少图像数、增强次数或步数，或缩小尺寸。",
    },
    "export_too_big": {
        "en": "An animation of {frames} frames of {width}x{height} pixels is too large to export "
              "(at most {max_mpx:g} megapixels in all). Use fewer frames or a smaller size.",
        "zh": "{frames} 帧、每帧 {width}x{height} 像素的动画太大，无法导出（总共最多 {max_mpx:g} 百万像素）。"
              "请减少帧数或缩小尺寸。",
    },
    "download_failed_recently": {
        "en": "Downloading {what} failed {ago} s ago ({reason}); GenLab will not try again for {minutes} minutes.",
        "zh": "{ago} 秒前下载{what}失败（{reason}）；GenLab 在 {minutes} 分钟内不会再次尝试。",
    },
    "download_in_progress": {
        "en": "{what} is being downloaded ({elapsed} s so far); try again in a minute. Nothing else waits for it.",
        "zh": "正在下载{what}（已用 {elapsed} 秒）；请一分钟后再试。其他操作不受影响。",
    },
    "studio_state_value": {
        "en": "The uploaded training state sets {what_en} to {value}, outside {low} to {high}; it cannot be continued. "
              "Upload the checkpoint without its training state to start a new run from its weights.",
        "zh": "上传的训练状态将{what_zh}设为 {value}，超出 {low} 到 {high} 的范围，无法继续训练。"
              "请上传不带训练状态的检查点，从其权重开始新的训练。",
    },
    # --- scheduling (a class on one app) ---
    "long_run_busy": {
        "en": "You already have a long run going in this session. Wait for it to finish, or press Stop, then start the next one.",
        "zh": "你在本会话中已有一个正在进行的长时间生成任务。请等它结束，或点击“停止”，再开始下一个。",
    },
    # --- hostile input (issue 17: the app's own checks) -----------------------------------
    "input_not_number": {
        "en": "'{label}' must be a number; the request sent {value}.",
        "zh": "“{label}”必须是数字；请求发送的是 {value}。",
    },
    "input_not_finite": {
        "en": "'{label}' must be a finite number; the request sent {value}.",
        "zh": "“{label}”必须是有限的数字；请求发送的是 {value}。",
    },
    "input_out_of_range": {
        "en": "'{label}' must be between {lo} and {hi}; the request sent {value}.",
        "zh": "“{label}”必须在 {lo} 到 {hi} 之间；请求发送的是 {value}。",
    },
    "input_not_bool": {
        "en": "'{label}' must be true or false; the request sent {value}.",
        "zh": "“{label}”必须是 true 或 false；请求发送的是 {value}。",
    },
    "input_not_choice": {
        "en": "'{label}' must be one of: {available}; the request sent {value}.",
        "zh": "“{label}”必须是以下之一：{available}；请求发送的是 {value}。",
    },
    "input_not_text": {
        "en": "'{label}' must be text; the request sent {value}.",
        "zh": "“{label}”必须是文本；请求发送的是 {value}。",
    },
    "input_too_long": {
        "en": "'{label}' is {length} characters long; the limit is {most}.",
        "zh": "“{label}”长 {length} 个字符；上限为 {most} 个。",
    },
    "app_full": {
        "en": "The app is full right now ({used_mb:,} MB of memory in use, the limit is {limit_mb:,} MB). Try again in a minute.",
        "zh": "应用现在已满（已用内存 {used_mb:,} MB，上限为 {limit_mb:,} MB）。请一分钟后再试。",
    },
    "uploads_full": {
        "en": "This session already holds {count} uploaded {family} models, the most it keeps. Reload the page for a new session to upload others.",
        "zh": "本会话已有 {count} 个上传的 {family} 模型，已达上限。请刷新页面开启新会话后再上传其他模型。",
    },
    "upload_busy": {
        "en": "Another upload of this session is still being checked. Wait for it to finish, then upload the next one.",
        "zh": "本会话的另一个上传仍在检查中。请等它完成后再上传下一个。",
    },
    "request_too_large": {
        "en": "The request is {size_mb:.1f} MB; the app accepts at most {max_mb} MB in one request.",
        "zh": "请求大小为 {size_mb:.1f} MB；应用单个请求最多接受 {max_mb} MB。",
    },
    "request_too_large_cut": {
        "en": "The request was cut off after {size_mb:.1f} MB; the app accepts at most {max_mb} MB in one request.",
        "zh": "请求在 {size_mb:.1f} MB 处被截断；应用单个请求最多接受 {max_mb} MB。",
    },
    # --- family registry (engines.families) ---
    "studio_family_data": {
        "en": "The {family_en} does not train on '{dataset}' here. Choose: {choices}.",
        "zh": "{family_zh}在这里不能用“{dataset}”训练。请选择：{choices}。",
    },
    "sample_family_unsupported": {
        "en": "A '{family}' checkpoint does not draw images; 'sample' takes a checkpoint of {families}.",
        "zh": "“{family}”类型的检查点不生成图像；“sample”需要以下类型之一的检查点：{families}。",
    },
    # --- pixelcnn (engines.pixelcnn, demo/pixelcnn_tab.py) ------------------------------------
    "pixelcnn_temperature": {
        "en": "The temperature must be a number from 0.05 to 5, not {value} (0 would always pick the likeliest value: use top-k 1 for that).",
        "zh": "温度必须是 0.05 到 5 之间的数，而不是 {value}（温度为 0 等于总取最可能的值：请改用 top-k = 1）。",
    },
    "pixelcnn_top_k": {
        "en": "Top-k must be a whole number from 0 (off) to {high}, not {value}.",
        "zh": "top-k 必须是 0（关闭）到 {high} 之间的整数，而不是 {value}。",
    },
    "pixelcnn_top_p": {
        "en": "Top-p must be above 0 and at most 1 (1 keeps every value), not {value}.",
        "zh": "top-p 必须大于 0 且不超过 1（1 表示保留所有取值），而不是 {value}。",
    },
    "pixelcnn_image": {
        "en": "This PixelCNN takes {size}x{size} images with {channels} channel(s) (uint8), not {got}.",
        "zh": "此 PixelCNN 接受 {size}x{size}、{channels} 个通道的图像（uint8），而不是 {got}。",
    },
    "pixelcnn_label": {
        "en": "The class must be one of the model's classes, 0 to {high}, or 'all'; not {value}.",
        "zh": "类别必须是模型的类别之一（0 到 {high}）或“all”，而不是 {value}。",
    },
    "pixelcnn_unconditional": {
        "en": "This PixelCNN was trained without labels, so it cannot be asked for a class.",
        "zh": "此 PixelCNN 训练时没有使用标签，无法指定类别。",
    },
    "pixelcnn_no_model": {
        "en": "No PixelCNN is loaded. Pick one in the model row, or train one in the Train tab.",
        "zh": "没有加载 PixelCNN。请在模型栏中选择一个，或在训练标签页中训练一个。",
    },
    # --- vq-vae and its transformer prior (engines.vqvae, demo/vq_tab.py) ---
    "vq_temperature": {
        "en": "The temperature must be a number above 0 and at most {high}; got {value}.",
        "zh": "温度必须是大于 0、不超过 {high} 的数；当前为 {value}。",
    },
    "vq_top_p": {
        "en": "Top-p must be above 0 and at most 1 (1 keeps every token); got {value}.",
        "zh": "top-p 必须大于 0 且不超过 1（1 表示保留所有词元）；当前为 {value}。",
    },
    "vq_top_k": {
        "en": "Top-k must be a whole number from 0 (off) to {high}, the codebook size; got {value}.",
        "zh": "top-k 必须是 0（关闭）到 {high}（码本大小）之间的整数；当前为 {value}。",
    },
    "vq_token": {
        "en": "Token {value} is not in the codebook: its codes are 0 to {high}.",
        "zh": "词元 {value} 不在码本中：码本的编码为 0 到 {high}。",
    },
    "vq_grid": {
        "en": "The token grid must be {side}x{side}; got shape {shape}.",
        "zh": "词元网格必须是 {side}x{side}；当前形状为 {shape}。",
    },
    "vq_cell": {
        "en": "There is no token at row {row}, column {col}: the grid is {side}x{side}.",
        "zh": "第 {row} 行第 {col} 列没有词元：网格大小为 {side}x{side}。",
    },
    "vq_image": {
        "en": "This VQ-VAE reads {channels}-channel {size}x{size} images; got an array of shape {shape}.",
        "zh": "该 VQ-VAE 读取 {channels} 通道的 {size}x{size} 图像；当前数组形状为 {shape}。",
    },
    "vq_label": {
        "en": "Class {value} is not one this prior knows: 0 to {high}, or none.",
        "zh": "该先验模型没有类别 {value}：可选 0 到 {high}，或不指定类别。",
    },
    "vq_mask_empty": {
        "en": "Mark at least one token of an encoded image to resample (click tokens on the grid).",
        "zh": "请在已编码图像的网格上至少标记一个要重新采样的词元（点击网格中的词元）。",
    },
    "vq_no_image": {
        "en": "Encode an image first (Tokens tab): pick a held-out example or upload one.",
        "zh": "请先编码一张图像（“词元”页）：选择一个留出样本或上传图像。",
    },
    # --- latent diffusion (engines.ldm) ---
    "ldm_prompt_empty": {
        "en": "The prompt is empty. Describe the scene, e.g. \"a red circle left of a blue square\".",
        "zh": "提示词为空。请描述画面，例如“一个红色的圆形在一个蓝色的正方形左边”。",
    },
    "ldm_prompt_not_text": {
        "en": "A prompt must be text; got {value}.",
        "zh": "提示词必须是文本；当前为 {value}。",
    },
    "ldm_prompt_too_long": {
        "en": "The prompt has {words} words; the text encoder reads at most {max} (its token limit {tokens} less [CLS] and [SEP]).",
        "zh": "提示词有 {words} 个词；文本编码器最多读取 {max} 个（其词元上限 {tokens} 减去 [CLS] 和 [SEP]）。",
    },
    "ldm_never_seen": {
        "en": "The text encoder has never seen these words: {words}. It knows only the words of the scenes captions (its vocabulary); rephrase with those.",
        "zh": "文本编码器从未见过这些词：{words}。它只认识场景描述中的词（它的词表）；请用这些词重新表述。",
    },
    "ldm_prompts_count": {
        "en": "Got {count} prompts for {n} images; give one prompt, or one per image.",
        "zh": "为 {n} 张图像提供了 {count} 个提示词；请提供一个提示词，或每张图像一个。",
    },
    "ldm_n": {
        "en": "The number of images must be a whole number from 1 to {max}; got {value}.",
        "zh": "图像数量必须是 1 到 {max} 之间的整数；当前为 {value}。",
    },
    "ldm_steps": {
        "en": "The number of DDIM sampling steps must be a whole number from 1 to {max}; got {value}.",
        "zh": "DDIM 采样步数必须是 1 到 {max} 之间的整数；当前为 {value}。",
    },
    "ldm_guidance": {
        "en": "The guidance scale must be a finite number from 0 to {max:g} (1: no guidance); got {value}.",
        "zh": "引导系数必须是 0 到 {max:g} 之间的有限数值（1 表示不引导）；当前为 {value}。",
    },
    "ldm_step_index": {
        "en": "There is no step {value} in this run: pick one from 0 to {high}.",
        "zh": "本次运行中没有第 {value} 步：请选择 0 到 {high} 之间的一步。",
    },
    "ldm_dataset": {
        "en": "Latent diffusion trains on the captioned 'scenes' world only; got '{dataset}'.",
        "zh": "潜在扩散模型只能在带描述的“scenes”场景数据上训练；当前为“{dataset}”。",
    },
    # --- zerogpu ---------------------------------------------------------------------------
    "gpu_quota": {
        "en": "The free GPU time of this Space is used up for now ({reason}). What was done so far is kept; log in to Hugging Face or try again later.",
        "zh": "本 Space 的免费 GPU 时长暂时已用完（{reason}）。已完成的部分已保留；请登录 Hugging Face 或稍后再试。",
    },
    "gpu_call_failed": {
        "en": "The GPU call failed ({reason}). What was done so far is kept; try again.",
        "zh": "GPU 调用失败（{reason}）。已完成的部分已保留；请重试。",
    },
    # --- metrics (FID, KID, IS, precision / recall: engines.metrics) ----------------------
    "metrics_inception_offline": {
        "en": "Inception-v3 features need its weights, downloaded on first use, and they cannot be fetched here ({reason}). Choose the MNIST classifier's features, or go online and install torch-fidelity.",
        "zh": "Inception-v3 特征需要其权重（首次使用时下载），此处无法获取（{reason}）。请选择 MNIST 分类器的特征，或联网并安装 torch-fidelity。",
    },
    "metrics_features_unknown": {
        "en": "Unknown feature space '{name}'. Available: {available}.",
        "zh": "未知的特征空间“{name}”。可用的特征空间：{available}。",
    },
    "metrics_too_few": {
        "en": "The metrics need at least {low} images on each side; got {n}.",
        "zh": "这些指标每一侧至少需要 {low} 张图像；实际为 {n} 张。",
    },
    # --- metrics tab (demo/metrics_tab.py: numbers sent to the Metrics tab or its API) ------
    "metrics_n_invalid": {
        "en": "The number of samples must be a whole number from {low} to {high}; got {value}.",
        "zh": "样本数必须是 {low} 到 {high} 之间的整数；当前为 {value}。",
    },
    "metrics_seed_invalid": {
        "en": "The seed must be a whole number from {low} to {high}; got {value}.",
        "zh": "随机种子必须是 {low} 到 {high} 之间的整数；当前为 {value}。",
    },
    "metrics_steps_invalid": {
        "en": "The sampling steps must be a whole number from {low} to {high}; got {value}.",
        "zh": "采样步数必须是 {low} 到 {high} 之间的整数；当前为 {value}。",
    },
    "metrics_models_count": {
        "en": "Pick from {low} to {high} models; got {n}.",
        "zh": "请选择 {low} 到 {high} 个模型；当前为 {n} 个。",
    },
    # --- metrics on a second data set (shapes: engines.metrics, demo/metrics_tab.py) ----------
    "metrics_dataset_unknown": {
        "en": "The metrics have no classifier for the data set '{name}'; they know {available}.",
        "zh": "评估指标没有数据集“{name}”的分类器；目前支持：{available}。",
    },
    "metrics_dataset_mismatch": {
        "en": "'{name}' was trained on '{dataset}', not '{asked}': pick a model of that data set, or the other data set.",
        "zh": "“{name}”是在“{dataset}”上训练的，而不是“{asked}”：请选择该数据集的模型，或者换一个数据集。",
    },
}


class UserError(ValueError):
    """A problem the user can fix, with a message in every UI language."""

    def __init__(self, key: str, **params):
        if key not in MESSAGES:
            raise KeyError(f"no message '{key}' in engines.errors.MESSAGES")
        self.key = key
        self.params = params
        super().__init__(self.localized("en"))

    def localized(self, lang: str = "en") -> str:
        table = MESSAGES[self.key]
        template = table.get(lang) or table["en"]
        return template.format(**self.params)

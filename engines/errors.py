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
        "en": "The server is busy: {ahead} training runs are running or waiting, and the queue is full. Try again in a minute.",
        "zh": "服务器繁忙：已有 {ahead} 个训练任务正在运行或排队，队列已满。请稍后再试。",
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
    # --- gan tab ------------------------------------------------------------------------------
    "gan_seeds": {
        "en": "Give the seeds as whole numbers from 0 to {high}, separated by commas, 1 to {max} of them; got '{value}'.",
        "zh": "请用逗号分隔给出随机种子，每个为 0 到 {high} 之间的整数，共 1 到 {max} 个；当前为“{value}”。",
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

"""The CLIPs that score and steer images: the GenLab CLIP (shipped, offline) or a pretrained
open_clip model (downloaded on first use, when there is a network).

Both offer the same `Backend` API: `encode_images` (differentiable, any size, grey or RGB),
`encode_texts` (cached) and `similarity` (zero-shot bars). `load_backend(spec)` caches one
backend per spec for the life of the process.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F

from .. import runtime
from ..errors import UserError
from . import tokenizer
from .model import MAX_LOGIT_SCALE, Config, to_tower_input

BACKEND_CHOICES = ("genlab", "pretrained")
DEFAULT_PRETRAINED = ("ViT-B-32", "laion2b_s34b_b79k")
GENLAB_ASSET = "genlab-clip"
MAX_CAPTIONS = 64            # captions one similarity() call compares
MAX_TEXT_CHARS = 1000        # longer prompts are refused before tokenising (a tokenizer cuts anyway)
NETWORK_PROBE_S = 1.0        # how long the offline check waits for the model hub to answer

_CACHE: dict[str, Backend] = {}  # spec -> backend, least recently used first
MAX_CACHED_FOLDERS = 4
MAX_CACHED_TEXTS = 20_000  # text embeddings kept per backend (a 512-d one is 2 KB: at most ~40 MB)
_CACHE_LOCK = threading.Lock()


class Backend:
    """A CLIP: images and texts to one L2-normalised embedding space."""

    name: str
    kind: str
    image_size: int
    card: dict
    context_length: int

    def __init__(self, model: torch.nn.Module, *, name: str, kind: str, image_size: int, card: dict,
                 mean, std, device: torch.device):
        self.model = model.eval().requires_grad_(False)
        self.name, self.kind, self.image_size, self.card = name, kind, image_size, card
        self.mean, self.std = tuple(mean), tuple(std)
        self.device = device
        # Text embeddings by text, least recently used first: bounded, since anyone may send new prompts.
        self._texts: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def logit_scale(self) -> float:
        return float(self.model.logit_scale.detach().exp().clamp(max=MAX_LOGIT_SCALE))

    def encode_images(self, x: torch.Tensor) -> torch.Tensor:
        """float (B, C, H, W) in [0, 1], C in {1, 3}, any H, W -> (B, D) L2-normalised; differentiable."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"expected (B, 1 or 3, H, W) images, got {tuple(x.shape)}")
        z = self.model.encode_image(to_tower_input(x.to(self.device), self.image_size, self.mean, self.std))
        return F.normalize(z.float(), dim=-1)

    def _tokenize(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        """Texts -> (K, D) L2-normalised, no grad, cached per text. Empty text is refused."""
        texts = [check_text(t) for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._texts))
            if missing:
                with runtime.COMPUTE_LOCK, torch.no_grad():
                    emb = F.normalize(self.model.encode_text(self._tokenize(missing).to(self.device)).float(), dim=-1)
                for t, e in zip(missing, emb):
                    self._texts[t] = e
            out = torch.stack([self._texts[t] for t in texts])
            for t in texts:
                self._texts.move_to_end(t)
            while len(self._texts) > MAX_CACHED_TEXTS:
                self._texts.popitem(last=False)
            return out

    def similarity(self, images: np.ndarray, captions: list[str]) -> dict:
        """uint8 (N, H, W, C) (or one (H, W, C) / grey (H, W)) against K captions ->
        {"cosine": (N, K), "probs": (N, K) softmax over the captions at the model's logit scale}."""
        captions = [c for c in (str(c).strip() for c in captions) if c]
        if not captions:
            raise UserError("clip_captions_empty")
        if len(captions) > MAX_CAPTIONS:
            raise UserError("clip_captions_too_many", count=len(captions), max=MAX_CAPTIONS)
        x = _images_to_tensor(images)
        text = self.encode_texts(captions)
        with runtime.compute():
            img = self.encode_images(x)
            cos = img @ text.t()
            probs = (self.logit_scale * cos).softmax(-1)
        return {"cosine": cos.cpu().numpy(), "probs": probs.cpu().numpy()}

    def truncated(self, text: str) -> bool:
        """Whether `text` is longer than the text tower reads (it is cut, not refused)."""
        return False

    def contrast_texts(self) -> list[str]:
        """Captions of everything this CLIP knows, for guidance to steer away from (see
        engines.clip.guide); none for a pretrained CLIP, whose world has no such list."""
        return []

    def contrast(self) -> torch.Tensor | None:
        """`contrast_texts` embedded -> (K, D), computed once; None when there are none."""
        if not hasattr(self, "_contrast"):
            texts = self.contrast_texts()
            self._contrast = self.encode_texts(texts) if texts else None
        return self._contrast


class GenLabBackend(Backend):
    def __init__(self, ckpt, device: torch.device):
        config, model = ckpt.build(device)
        assert isinstance(config, Config)
        self.config = config
        super().__init__(model, name=ckpt.name, kind="genlab", image_size=config.image_size, card=ckpt.card,
                         mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), device=device)
        self.context_length = config.context_length

    def _tokenize(self, texts: list[str]) -> torch.Tensor:
        return tokenizer.tokenize(texts, self.context_length)

    def truncated(self, text: str) -> bool:
        return tokenizer.is_truncated(text, self.context_length)

    def contrast_texts(self) -> list[str]:
        """Every caption of the data sets this CLIP was trained on (its card's dataset, by default
        both): each shape of each colour at each position in English and Chinese, and each digit
        in every caption template."""
        from . import train as ct

        dataset = str(self.card.get("dataset") or "mnist+shapes")
        return ct.contrast_captions(mnist="mnist" in dataset, shapes="shapes" in dataset)


class PretrainedBackend(Backend):
    def __init__(self, model, tok, *, arch: str, tag: str, image_size: int, mean, std, device: torch.device):
        super().__init__(model, name=f"{arch} ({tag})" if tag else f"{arch} (random weights)", kind="pretrained",
                         image_size=image_size, card={}, mean=mean, std=std, device=device)
        self.tok = tok
        self.context_length = int(getattr(tok, "context_length", 77))

    def _tokenize(self, texts: list[str]) -> torch.Tensor:
        return self.tok(texts)

    def truncated(self, text: str) -> bool:
        return len(self.tok.encode(text)) > self.context_length - 2 if hasattr(self.tok, "encode") else False


def check_text(text) -> str:
    text = "" if text is None else str(text)
    if not text.strip():
        raise UserError("clip_prompt_empty")
    if len(text) > MAX_TEXT_CHARS:
        raise UserError("clip_prompt_too_long", length=len(text), max=MAX_TEXT_CHARS)
    return text.strip()


def _images_to_tensor(images) -> torch.Tensor:
    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4) or arr.shape[0] < 1 or min(arr.shape[1:3]) < 4:
        raise UserError("clip_image_shape", shape=str(tuple(arr.shape)))
    if arr.dtype != np.uint8:
        raise UserError("clip_image_shape", shape=f"{tuple(arr.shape)} {arr.dtype}")
    arr = np.array(arr[..., :3])  # alpha dropped; a writable copy (decoded images are often read-only)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div(255)


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def parse_pretrained(spec: str) -> tuple[str, str]:
    """"pretrained" -> the default (or $GENLAB_CLIP_PRETRAINED "ARCH:TAG"); "pretrained:ARCH:TAG" -> those."""
    rest = spec.split(":", 1)[1] if ":" in spec else os.environ.get("GENLAB_CLIP_PRETRAINED", "")
    if not rest.strip():
        return DEFAULT_PRETRAINED
    arch, _, tag = rest.strip().partition(":")
    return arch.strip(), tag.strip()


def load_backend(spec: str | os.PathLike, device: torch.device | None = None) -> Backend:
    """"genlab" (the shipped GenLab CLIP), a clip checkpoint folder, or "pretrained[:ARCH:TAG]".

    Cached per spec: the second call returns the same object at once."""
    raw = str(spec).strip()
    if not raw:
        raise UserError("clip_backend_unknown", value=raw)
    if raw == "genlab":
        from ..checkpoint import ASSETS_DIR

        key, path = "genlab", ASSETS_DIR / GENLAB_ASSET
    elif raw == "pretrained" or raw.startswith("pretrained:"):
        arch, tag = parse_pretrained(raw)
        key, path = f"pretrained:{arch}:{tag}", None
    else:
        path = Path(raw).expanduser()
        if not path.exists():
            raise UserError("clip_backend_unknown", value=raw)
        key = str(path.resolve())
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE[key] = _CACHE.pop(key)  # most recently used last
            return _CACHE[key]
    # Loading happens outside the cache lock (a download must not block the GenLab CLIP); two
    # threads loading the same spec at once is harmless, the first one stored wins.
    dev = device or runtime.device()
    if path is None:
        backend = load_pretrained(arch, tag, dev)
    else:
        from .. import checkpoint

        backend = GenLabBackend(checkpoint.load(path, expect_family="clip"), dev)
    with _CACHE_LOCK:
        backend = _CACHE.setdefault(key, backend)
        # Checkpoint folders (uploads, models trained in the app) come and go: keep the newest few.
        folders = [k for k in _CACHE if k != "genlab" and not k.startswith("pretrained:")]
        for old in folders[:-MAX_CACHED_FOLDERS]:
            del _CACHE[old]
        return backend


def _offline_env() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "GENLAB_OFFLINE"))


_PROBES: dict[str, tuple[float, bool]] = {}


def _reachable(url: str, timeout: float = NETWORK_PROBE_S) -> bool:
    """Can we open a TCP connection to url's host within `timeout` seconds (DNS included)?
    The probe runs in a daemon thread, so a hanging DNS lookup cannot hold us longer."""
    host = urlparse(url).hostname or url
    port = urlparse(url).port or 443
    seen = _PROBES.get(host)
    if seen and time.monotonic() - seen[0] < 60:
        return seen[1]
    result = [False]

    def probe():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result[0] = True
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    _PROBES[host] = (time.monotonic(), result[0])
    return result[0]


def _cached_weights(cfg: dict) -> str | None:
    """The local file open_clip would load for this pretrained config, if it is already cached."""
    if cfg.get("file") and Path(cfg["file"]).is_file():
        return cfg["file"]
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if filename.endswith(".bin"):
            names.insert(0, filename[:-4] + ".safetensors")
        for name in names:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str) and Path(found).is_file():
                return found
    url = cfg.get("url", "")
    if url:
        local = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(urlparse(url).path)
        if local.is_file():
            return str(local)
    return None


# Where the default's weights live, so that the offline check needs no `import open_clip`
# (3-4 s on a busy CPU). tests/test_clip.py checks this against open_clip's own table.
KNOWN_WEIGHTS = {("ViT-B-32", "laion2b_s34b_b79k"): {"hf_hub": "laion/CLIP-ViT-B-32-laion2B-s34B-b79K/"}}


def _check_reachable(cfg: dict, model: str) -> None:
    """Raise `clip_pretrained_offline` at once when the weights cannot be downloaded."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co") if cfg.get("hf_hub") else cfg.get("url", "")
    if _offline_env() or not endpoint or not _reachable(endpoint):
        raise UserError("clip_pretrained_offline", model=model)


DOWNLOAD_WAIT_S = 120.0  # how long a request off the compute thread waits for the weights


def _download(open_clip, arch: str, tag: str) -> str:
    """The weights' local path, downloaded in a thread of its own (engines.downloads): never on the
    compute thread or under its lock, and a failure answered from memory for 10 minutes."""
    from .. import downloads

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    try:
        return downloads.fetch(f"clip:{arch}:{tag}", lambda: open_clip.download_pretrained(cfg),
                               what=f"CLIP {arch} ({tag})", wait_s=DOWNLOAD_WAIT_S)
    except downloads.DownloadFailed as exc:
        raise UserError("clip_pretrained_failed", model=f"{arch} ({tag})", reason=str(exc)) from None


def load_pretrained(arch: str, tag: str, device: torch.device, *, weights: bool = True) -> PretrainedBackend:
    """An open_clip model. weights=False builds the architecture with random weights (speed tests).

    Not cached and no way to download: UserError("clip_pretrained_offline") within about a
    second (HF_HUB_OFFLINE=1, or the hub does not answer a TCP connect in NETWORK_PROBE_S)."""
    pretrained = None
    known = KNOWN_WEIGHTS.get((arch, tag)) if weights else None
    if known is not None:
        pretrained = _cached_weights(known)
        if pretrained is None:
            _check_reachable(known, f"{arch} ({tag})")
    with runtime.HEAVY_IMPORTS:
        import open_clip

    if arch not in open_clip.list_models():
        raise UserError("clip_pretrained_unknown", model=arch, tag=tag or "-", tags="ViT-B-32, ViT-B-16, RN50, ...")
    if weights and known is None:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        if tag not in tags:
            raise UserError("clip_pretrained_unknown", model=arch, tag=tag or "-", tags=", ".join(tags[:8]) or "-")
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        pretrained = _cached_weights(cfg)
        if pretrained is None:
            _check_reachable(cfg, f"{arch} ({tag})")
    quick_gelu = bool(weights and (open_clip.get_pretrained_cfg(arch, tag) or {}).get("quick_gelu"))
    if weights and pretrained is None:
        pretrained = _download(open_clip, arch, tag)  # online and not cached: fetched off the compute thread
    try:
        with runtime.COMPUTE_LOCK:  # a local file by now: nothing under the lock waits on the network
            model = open_clip.create_model(arch, pretrained=pretrained, device=device, force_quick_gelu=quick_gelu)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 -- a failed download, a damaged cache file: say which and why
        raise UserError("clip_pretrained_failed", model=f"{arch} ({tag})", reason=str(exc)[:300]) from None
    tok = open_clip.get_tokenizer(arch)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    mean = getattr(model.visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN
    std = getattr(model.visual, "image_std", None) or open_clip.OPENAI_DATASET_STD
    return PretrainedBackend(model, tok, arch=arch, tag=tag if weights else "", image_size=size,
                             mean=mean, std=std, device=device)

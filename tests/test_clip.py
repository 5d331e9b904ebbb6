"""engines.clip: the contrastive loss against its definition, the byte tokenizer, a short training
run that must learn to rank captions, the backends (offline pretrained path included) and guidance."""

from __future__ import annotations

import dataclasses
import importlib
import math
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines import checkpoint, clip, runtime
from engines.clip import tokenizer
from engines.clip import train as ct
from engines.clip.backends import KNOWN_WEIGHTS
from engines.errors import UserError

TINY = clip.Config(image_size=16, patch_size=4, vision_width=32, vision_layers=1, vision_head_width=16,
                   text_width=32, text_layers=1, text_heads=2, context_length=64, embed_dim=32, mlp_ratio=2.0)


# --- the loss: its definition ------------------------------------------------------------------


def _infonce_by_hand(img, txt, scale, pos):
    """Mean over images of -sum_j p_ij log softmax_j(s <I_i, T_j>) and the same over texts, halved;
    p spreads 1 evenly over the true pairs. Plain loops, float64."""
    b = img.shape[0]
    logits = [[scale * float(img[i] @ txt[j]) for j in range(b)] for i in range(b)]

    def ce(rows, targets):
        total = 0.0
        for r, tgt in zip(rows, targets):
            lse = math.log(sum(math.exp(v) for v in r))
            total += -sum(w * (v - lse) for v, w in zip(r, tgt))
        return total / len(rows)

    img_rows = logits
    txt_rows = [[logits[i][j] for i in range(b)] for j in range(b)]
    img_t = [[pos[j][i] / sum(pos[k][i] for k in range(b)) for j in range(b)] for i in range(b)]
    txt_t = [[pos[j][i] / sum(pos[j]) for i in range(b)] for j in range(b)]
    return (ce(img_rows, img_t) + ce(txt_rows, txt_t)) / 2


def test_contrastive_loss_matches_definition():
    gen = torch.Generator().manual_seed(3)
    img = F.normalize(torch.randn(5, 7, generator=gen, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.randn(5, 7, generator=gen, dtype=torch.float64), dim=-1)
    t = torch.tensor(math.log(1 / 0.07), dtype=torch.float64)
    eye = np.eye(5).tolist()
    got = clip.contrastive_loss(img, txt, t)
    assert float(got) == pytest.approx(_infonce_by_hand(img, txt, 1 / 0.07, eye), rel=1e-10)
    # CLIP's form: cross-entropy against arange in both directions.
    logits = img @ txt.t() / 0.07
    want = (F.cross_entropy(logits, torch.arange(5)) + F.cross_entropy(logits.t(), torch.arange(5))) / 2
    torch.testing.assert_close(got, want)
    # The diagonal-only positives mask is the same loss.
    torch.testing.assert_close(clip.contrastive_loss(img, txt, t, torch.eye(5, dtype=torch.bool)), got)
    # Text 0 also true of image 3 (and text 3 of image 0): the targets share the mass.
    pos = torch.eye(5, dtype=torch.bool)
    pos[0, 3] = pos[3, 0] = True
    got = clip.contrastive_loss(img, txt, t, pos)
    assert float(got) == pytest.approx(_infonce_by_hand(img, txt, 1 / 0.07, pos.double().tolist()), rel=1e-10)


def test_contrastive_loss_temperature_is_clamped_and_learned():
    img = F.normalize(torch.randn(4, 3), dim=-1)
    t = torch.tensor(10.0, requires_grad=True)  # exp(10) >> 100: clamped to 100
    loss = clip.contrastive_loss(img, img, t)
    want = clip.contrastive_loss(img, img, torch.tensor(math.log(100.0)))
    torch.testing.assert_close(loss.detach(), want)
    t2 = torch.tensor(1.0, requires_grad=True)
    clip.contrastive_loss(img, img, t2).backward()
    assert t2.grad is not None and float(t2.grad) < 0  # matching pairs: a sharper softmax lowers the loss


# --- the tokenizer ---------------------------------------------------------------------------------


def test_tokenizer_bytes_chinese_and_truncation():
    ids = tokenizer.encode("数字七", 88)
    assert ids[0] == tokenizer.SOT and ids[-1] == tokenizer.EOT and len(ids) == 2 + 9  # 3 bytes a character
    assert tokenizer.decode(ids) == "数字七"
    assert tokenizer.encode("  The   DIGIT ７ ", 88) == tokenizer.encode("the digit 7", 88)  # NFKC, case, spaces
    cut = tokenizer.encode("数字" * 40, 12)  # room for 10 bytes: three whole characters, never a split one
    assert len(cut) == 2 + 9 and tokenizer.decode(cut) == "数字数"
    assert tokenizer.is_truncated("x" * 87, 88) and not tokenizer.is_truncated("x" * 86, 88)
    batch = tokenizer.tokenize(["a", "数字七"], 88)
    assert batch.shape == (2, 11) and int(batch[0, 3:].abs().sum()) == 0
    assert int(batch.argmax(1)[0]) == 2  # the end token has the largest id: argmax pooling finds it


def test_caption_bank_requirements():
    from engines.data import load_dataset

    shapes = load_dataset("shapes", "train", n=3)
    texts, reqs, attrs = ct.caption_bank(None, shapes, reword=0)
    assert len(texts) == 3 and all(len(b) == ct.CAPTION_VARIANTS for b in texts)
    assert reqs.shape == (3, ct.CAPTION_VARIANTS, len(ct.ATTRS)) and attrs.shape == (3, len(ct.ATTRS))
    a = shapes.attrs[0]
    assert shapes.captions["en"][0] in texts[0] and shapes.captions["zh"][0] in texts[0]
    # Every caption is true of its own image; a short "a red circle" leaves position free.
    assert bool(((reqs[0] == -1) | (reqs[0] == attrs[0])).all())
    short = texts[0].index(f"{'an' if a['color'][0] in 'aeiou' else 'a'} {a['color']} {a['shape']}")
    assert int(reqs[0, short, ct.ATTRS.index("position")]) == -1
    assert ct.digit_caption(8, "{aw}") == "an eight" and ct.digit_caption(7, "数字{z}") == "数字七"


def test_positions_said_other_ways():
    """reword=1: every caption naming the position says it another way than the data set does,
    and asserts the same factors; reword=0 keeps the data set's wording."""
    from engines.data import FACTOR_ZH, POSITIONS, load_dataset
    from engines.data.shapes import _POSITION_EN

    for p in POSITIONS:  # wording 0 is the data set's own
        assert ct.POSITION_WORDINGS["en"][p][0] == _POSITION_EN[p] and ct.POSITION_WORDINGS["zh"][p][0] == FACTOR_ZH["position"][p]
        for lang in ("en", "zh"):
            words = ct.POSITION_WORDINGS[lang][p]
            assert len(set(words)) == len(words)
            others = [w for q in POSITIONS if q != p for w in ct.POSITION_WORDINGS[lang][q]]
            assert not set(words) & set(others), (p, lang)  # no wording names two positions
    shapes = load_dataset("shapes", "train", n=30)
    plain, reqs0, attrs0 = ct.caption_bank(None, shapes, reword=0)
    said, reqs1, attrs1 = ct.caption_bank(None, shapes, reword=1)
    assert torch.equal(reqs0, reqs1) and torch.equal(attrs0, attrs1)
    pos_col = ct.ATTRS.index("position")
    used = set()
    for a, bank0, bank1, req in zip(shapes.attrs, plain, said, reqs0):
        for t0, t1, r in zip(bank0, bank1, req.tolist()):
            if r[pos_col] == -1:
                assert t1 == t0
                continue
            lang = "en" if t0.isascii() else "zh"
            words = ct.POSITION_WORDINGS[lang][a["position"]]
            assert words[0] in t0 and t1 != t0, (t0, t1)
            new = [w for w in words[1:] if t0.replace(words[0], w, 1) == t1]
            assert len(new) == 1, (t0, t1)
            used.add(new[0])
    assert len(used) > 20  # many wordings, not one
    assert ct.reword_position("a red circle in the top left corner", "top left", "en", 0) == "a red circle in the top left"
    # Drawn from the seed: the same bank again, another with another seed.
    assert ct.caption_bank(None, shapes, reword=0.5, seed=1)[0] == ct.caption_bank(None, shapes, reword=0.5, seed=1)[0]
    assert ct.caption_bank(None, shapes, reword=0.5, seed=1)[0] != ct.caption_bank(None, shapes, reword=0.5, seed=2)[0]


def test_hard_negatives_are_false_in_exactly_one_factor():
    from engines.data import FACTOR_ZH, FACTORS, load_dataset

    shapes = load_dataset("shapes", "train", n=40)
    _, _, attrs = ct.caption_bank(None, shapes)
    have = torch.cat([torch.tensor([[ct.SOURCE_MNIST, 3, -1, -1, -1, -1, -1]]), attrs])  # a digit gets none
    draws = torch.randint(1 << 20, (len(have), len(ct.HARD_NEGATIVE_FACTORS), 4), generator=torch.Generator().manual_seed(0))
    texts, reqs = ct.hard_negatives(have, draws)
    assert len(texts) == len(reqs) == 40 * len(ct.HARD_NEGATIVE_FACTORS)
    swapped = []
    for row, (text, req) in enumerate(zip(texts, reqs.tolist())):
        image = attrs[row // len(ct.HARD_NEGATIVE_FACTORS)].tolist()
        differ = [ct.ATTRS[k] for k in range(2, 5) if req[k] != image[k]]
        assert len(differ) == 1 and all(req[k] in (-1, image[k]) for k in (5, 6)), (text, req, image)
        factor = differ[0]
        swapped.append(factor)
        name = FACTORS[factor][req[ct.ATTRS.index(factor)]]
        names = ct.POSITION_WORDINGS["en"][name] + ct.POSITION_WORDINGS["zh"][name] if factor == "position" \
            else (name, FACTOR_ZH[factor][name])
        assert any(n in text for n in names), (text, name)
    assert swapped.count("shape") > len(swapped) / 2  # the factor the batch alone never teaches
    # Their positions are said other ways too (about half of them), as the true captions' are.
    plain, plain_reqs = ct.hard_negatives(have, draws, reword=0)
    said, said_reqs = ct.hard_negatives(have, draws, reword=1)
    assert torch.equal(plain_reqs, reqs) and torch.equal(said_reqs, reqs)
    assert all(a != b for a, b in zip(plain, said))
    kept = sum(a == b for a, b in zip(plain, texts))
    assert 0.25 * len(texts) < kept < 0.75 * len(texts), kept
    # The loss takes them as extra texts: a batch's loss is finite and the images' accuracy counts them.
    loss_fn = ct.make_loss(TINY, *ct.caption_bank(None, shapes))
    model = clip.build(TINY)
    x = torch.nn.functional.interpolate(shapes.float()[:8], size=16)
    loss, logs = loss_fn(model, {"x": x, "y": torch.arange(8)}, torch.Generator().manual_seed(1), 0)
    assert math.isfinite(float(loss.detach())) and 0 <= float(logs["i2t_acc"]) <= 1


def test_contrastive_loss_with_extra_negative_texts():
    gen = torch.Generator().manual_seed(4)
    img = F.normalize(torch.randn(3, 5, generator=gen, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.randn(5, 5, generator=gen, dtype=torch.float64), dim=-1)  # texts 3, 4: extra
    t = torch.tensor(math.log(10.0), dtype=torch.float64)
    pos = torch.zeros(5, 3, dtype=torch.bool)
    pos[4, 1] = True  # extra text 4 happens to be true of image 1; text 3 of none
    logits = 10 * img @ txt.t()  # (3 images, 5 texts)
    i2t = [-(torch.log_softmax(logits[0], 0)[0]), -(torch.log_softmax(logits[1], 0)[[1, 4]].mean()),
           -(torch.log_softmax(logits[2], 0)[2])]
    t2i = [-(torch.log_softmax(logits[:, j], 0)[j]) for j in range(3)] + [-(torch.log_softmax(logits[:, 4], 0)[1])]
    want = (sum(i2t) / 3 + sum(t2i) / 4) / 2
    torch.testing.assert_close(clip.contrastive_loss(img, txt, t, pos), want)


# --- a short training run must learn something ------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny CLIP trained for a few seconds on shapes, saved as a checkpoint folder."""
    from engines.data import load_dataset
    from engines.train import TrainConfig, Trainer

    shapes = load_dataset("shapes", "train", n=600, size=16)
    texts, reqs, attrs = ct.caption_bank(None, shapes)
    # Only the six short captions per image ("a red circle", "左上角的圆形", ...): seconds of training.
    texts, reqs = [bank[12:] for bank in texts], reqs[:, 12:]
    torch.manual_seed(0)
    model = clip.build(TINY)
    # Hard negatives (long full captions) are tested on their own below; here they would cost seconds.
    trainer = Trainer(model, ct.make_loss(TINY, texts, reqs, attrs, negatives=False), shapes.float(),
                      TrainConfig(steps=400, batch_size=64, lr=5e-3, warmup_steps=10, lr_min_ratio=0.1, log_every=50),
                      labels=torch.arange(len(shapes)))
    events = list(trainer.run())
    assert events[-1].kind == "done"
    out = tmp_path_factory.mktemp("clip") / "tiny-clip"
    trainer.save(out, family="clip", config=TINY, card={"name": "tiny-clip"})
    return out


def test_short_training_ranks_matching_captions_first(trained):
    from engines.data import load_dataset

    backend = clip.load_backend(trained)
    test = load_dataset("shapes", "test", n=60, size=16)
    colours = list(dict.fromkeys(a["color"] for a in test.attrs))
    wins = 0
    for i, a in enumerate(test.attrs):
        other = next(c for c in colours if c != a["color"])
        right, wrong = (f"{'an' if c[0] in 'aeiou' else 'a'} {c} {a['shape']}" for c in (a["color"], other))
        cos = backend.similarity(test.numpy_hwc([i]), [right, wrong])["cosine"][0]
        wins += int(cos[0] > cos[1])
    assert wins / len(test.attrs) >= 0.75, wins  # chance is 0.5


def test_checkpoint_round_trip_and_assets(trained):
    ckpt = checkpoint.load(trained, expect_family="clip")
    config, model = ckpt.build()
    assert config == TINY
    x = torch.rand(2, 3, 16, 16)
    b = clip.load_backend(trained)
    torch.testing.assert_close(b.encode_images(x), F.normalize(model.encode_image((x - 0.5) / 0.5), dim=-1))
    assert clip.load_backend(trained) is b  # cached
    assert "genlab-clip" in checkpoint.list_assets("clip")
    shipped = clip.load_backend("genlab")
    assert shipped.kind == "genlab" and shipped.card.get("family") == "clip"


def test_similarity_contract(trained):
    b = clip.load_backend(trained)
    images = np.zeros((3, 20, 24, 1), np.uint8)  # grey, any size
    out = b.similarity(images, ["a red circle", "左上角的圆形"])
    assert out["cosine"].shape == (3, 2) and out["probs"].shape == (3, 2)
    np.testing.assert_allclose(out["probs"].sum(1), 1, rtol=1e-5)
    assert np.all(np.abs(out["cosine"]) <= 1 + 1e-5)
    with pytest.raises(UserError) as e:
        b.similarity(images, ["", "  "])
    assert e.value.key == "clip_captions_empty"
    with pytest.raises(UserError):
        b.similarity(np.zeros((2, 2), np.float32), ["x"])
    with pytest.raises(UserError) as e:
        b.encode_texts([""])
    assert e.value.key == "clip_prompt_empty"
    long = "a red circle " * 60  # 780 characters: cut to the context, not refused
    assert b.truncated(long) and b.encode_texts([long]).shape == (1, TINY.embed_dim)
    with pytest.raises(UserError) as e:
        b.encode_texts(["x" * 2000])
    assert e.value.key == "clip_prompt_too_long"


# --- the pretrained backend offline ------------------------------------------------------------


def test_pretrained_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for spec in ("pretrained", "pretrained:ViT-B-32:laion2b_s34b_b79k"):
        start = time.perf_counter()
        with pytest.raises(UserError) as e:
            clip.load_backend(spec)
        assert time.perf_counter() - start < 1.0
        assert e.value.key == "clip_pretrained_offline"
        assert "GenLab CLIP" in str(e.value) and "GenLab CLIP" in e.value.localized("zh")
    with pytest.raises(UserError) as e:
        clip.load_backend("no-such-clip")
    assert e.value.key == "clip_backend_unknown"


def test_known_weights_match_open_clip():
    import open_clip

    for (arch, tag), cfg in KNOWN_WEIGHTS.items():
        assert open_clip.get_pretrained_cfg(arch, tag)["hf_hub"] == cfg["hf_hub"]
    assert clip.DEFAULT_PRETRAINED in KNOWN_WEIGHTS


# --- guidance ---------------------------------------------------------------------------------------


def _run(backend, **kw):
    return list(clip.guide(backend, clip.GuideSetting(**kw)))


class _FixedBackend:
    """A stand-in CLIP: images embed to fixed unit vectors; a list of contrast embeddings."""

    logit_scale = 10.0

    def __init__(self, image_emb, bank):
        self.image_emb, self.bank = image_emb, bank

    def encode_images(self, views):
        return self.image_emb[: len(views)]

    def contrast(self):
        return self.bank


def test_guidance_objective_is_the_prompts_log_probability_among_rivals():
    import importlib

    guide = importlib.import_module("engines.clip.guide")
    g = torch.Generator().manual_seed(0)
    unit = lambda *s: F.normalize(torch.randn(*s, generator=g, dtype=torch.float64), dim=-1)  # noqa: E731
    img, pos, neg, rivals = unit(3, 8), unit(8), unit(8), unit(5, 8)
    same = F.normalize(pos + 0.05 * unit(8), dim=-1)  # the prompt in other words: not a rival
    bank = torch.cat([rivals, same[None]])
    views = torch.zeros(3, 3, 4, 4)
    objective, score = (v[0] for v in guide.Objective(_FixedBackend(img, bank), pos, neg, contrast=True).per_image(views, 1))
    texts = torch.cat([pos[None], neg[None], rivals])  # `same` left out (cosine > CONTRAST_SAME)
    assert float(same @ pos) > guide.CONTRAST_SAME > float((rivals @ pos).max())
    logp = torch.log_softmax(10.0 * img @ texts.t(), dim=-1)
    want = logp[:, 0].mean() - guide.NEGATIVE_WEIGHT * logp[:, 1].mean()
    torch.testing.assert_close(objective, want)
    torch.testing.assert_close(score, img[0] @ pos)
    # Without a list of rivals (a pretrained CLIP), or contrast off: the plain cosine, minus half the negative's.
    objective = guide.Objective(_FixedBackend(img, None), pos, neg, contrast=True).per_image(views, 1)[0][0]
    torch.testing.assert_close(objective, (img @ pos).mean() - guide.NEGATIVE_WEIGHT * (img @ neg).mean())
    objective = guide.Objective(_FixedBackend(img, bank), pos, neg).per_image(views, 1)[0][0]  # contrast off: the cosine too
    torch.testing.assert_close(objective, (img @ pos).mean() - guide.NEGATIVE_WEIGHT * (img @ neg).mean())


def test_views_of_several_images_are_grouped_per_image():
    """augment_views of a batch lays out each image then its crops; the objective of a group is
    that image's own mean, the same as scoring it alone (one CLIP call for all DDPM chains)."""
    import importlib

    guide = importlib.import_module("engines.clip.guide")
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    views = guide.augment_views(x, 2, torch.Generator().manual_seed(0))
    assert views.shape == (9, 3, 8, 8)
    for b in range(3):
        torch.testing.assert_close(views[3 * b], x[b])  # each group opens with the image itself
        assert not torch.equal(views[3 * b + 1], views[3 * b + 2])

    g = torch.Generator().manual_seed(0)
    unit = lambda *s: F.normalize(torch.randn(*s, generator=g, dtype=torch.float64), dim=-1)  # noqa: E731
    emb, pos, bank = unit(6, 8), unit(8), unit(4, 8)
    obj = guide.Objective(_FixedBackend(emb, bank), pos, None, contrast=True)
    each, cos = obj.per_image(torch.zeros(6, 3, 4, 4), 2)
    assert each.shape == cos.shape == (2,)
    for b in range(2):
        alone = guide.Objective(_FixedBackend(emb[3 * b:3 * b + 3], bank), pos, None, contrast=True)
        o, c = alone.per_image(torch.zeros(3, 3, 4, 4), 1)
        torch.testing.assert_close(each[b], o[0])
        torch.testing.assert_close(cos[b], c[0])


def test_gradient_blur_keeps_flat_fields_and_mass():
    import importlib

    guide = importlib.import_module("engines.clip.guide")
    flat = torch.full((2, 3, 32, 32), 0.7)
    torch.testing.assert_close(guide.blur(flat, 2.0), flat)
    dot = torch.zeros(1, 1, 32, 32)
    dot[0, 0, 16, 16] = 1.0
    out = guide.blur(dot, 2.0)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5) and 0.02 < out.max().item() < 0.05  # 1 / (2 pi 4)
    assert torch.equal(guide.blur(dot, 0.1), dot)  # below a third of a pixel: untouched


def test_training_blur_is_a_gaussian_per_image():
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.0, 1.0, 2.0])
    out = ct.blur_each(x, sigma, 2.0)
    torch.testing.assert_close(out[0], x[0])  # sigma 0: untouched
    # sigma 2 reaches 3 sigma either way, as the guide's fixed blur does: the same numbers
    torch.testing.assert_close(out[2:], guide_blur(x[2:], 2.0), atol=1e-5, rtol=0)
    flat = torch.full((2, 1, 32, 32), 0.3)
    torch.testing.assert_close(ct.blur_each(flat, torch.tensor([0.7, 1.9]), 2.0), flat)
    # a dot away from the edges spreads into the 2-D Gaussian of its sigma: variance sigma^2 per axis
    dot = torch.zeros(1, 1, 32, 32)
    dot[0, 0, 16, 16] = 1.0
    spread = ct.blur_each(dot, torch.tensor([1.0]), 2.0)[0, 0]
    rows = spread.sum(1)
    offsets = torch.arange(32.0) - 16
    assert rows.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert (rows * offsets**2).sum().item() == pytest.approx(1.0, abs=0.01)


def test_ddpm_x0_views_replace_only_shapes_images_with_the_models_guess():
    """make_loss(x0_from=): a shapes image becomes the DDPM's predicted x0 from a noised copy,
    x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar). With a model that predicts eps = 0 the guess is
    x_t / sqrt(abar): at t = 0 the image plus noise of sigma sqrt(beta_1 / abar_1); MNIST images
    (not eligible) are never touched."""
    from types import SimpleNamespace

    from engines.diffusion.process import GaussianDiffusion, make_schedule

    process = GaussianDiffusion(make_schedule("linear", 100))
    engine = SimpleNamespace(process=process, model=lambda x, t, y: torch.zeros_like(x), device=torch.device("cpu"))
    x = 0.25 + 0.5 * torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    eligible = torch.tensor([True, True, False, False])
    near = ct._x0_views(engine, x, eligible, torch.Generator().manual_seed(1), 1.0, 0.005)  # t = 0
    sigma = math.sqrt(float(process.betas[0]) / float(process.alphas_cumprod[0])) / 2  # in [0, 1] units
    assert torch.equal(near[2:], x[2:])
    assert 0.5 * sigma < float((near[:2] - x[:2]).std()) < 1.5 * sigma
    far = ct._x0_views(engine, x, eligible, torch.Generator().manual_seed(1), 1.0, 1.0)
    assert float((far[:2] - x[:2]).abs().mean()) > 0.1 and torch.equal(far[2:], x[2:])
    assert torch.equal(ct._x0_views(engine, x, eligible, torch.Generator().manual_seed(1), 0.0, 1.0), x)


def guide_blur(x, sigma):
    import importlib

    return importlib.import_module("engines.clip.guide").blur(x, sigma)


def test_genlab_clip_knows_its_worlds_captions(trained):
    texts = ct.contrast_captions()
    assert len(texts) == 10 * 16 + 8 * 8 * 9 * 2 and "a red circle in the top left corner" in texts
    assert "数字七" in texts and "左上角的红色圆形" in texts
    assert ct.contrast_captions(shapes=False) == texts[:160]
    b = clip.load_backend(trained)
    assert b.contrast().shape == (len(texts), 32) and b.contrast() is b.contrast()


def test_guidance_raises_the_score(trained):
    b = clip.load_backend(trained)
    frames = _run(b, prompt="a red circle in the centre", generator="pixels", steps=25, size=16, seed=1)
    assert [f.step for f in frames] == list(range(26)) and frames[-1].done and not frames[-2].done
    scores = frames[-1].scores
    assert len(scores) == 26
    assert np.mean(scores[-5:]) > scores[0] + 0.05, scores
    assert frames[-1].best_score == pytest.approx(max(scores))
    assert frames[-1].image.shape == (16, 16, 3) and frames[-1].image.dtype == np.uint8


def test_same_seed_same_images_and_chinese_prompt(trained):
    b = clip.load_backend(trained)
    kw = {"prompt": "左上角的红色圆形", "negative": "蓝色", "steps": 4, "size": 16, "augment": 2}
    a, c = _run(b, seed=5, **kw), _run(b, seed=5, **kw)
    d = _run(b, seed=6, **kw)
    np.testing.assert_array_equal(a[-1].image, c[-1].image)
    assert a[-1].scores == c[-1].scores
    assert not np.array_equal(a[-1].image, d[-1].image)


def test_bad_settings_are_refused(trained):
    b = clip.load_backend(trained)
    for bad, key in (({"prompt": ""}, "clip_prompt_empty"), ({"prompt": "x", "strength": float("nan")}, "value_not_finite"),
                     ({"prompt": "x", "strength": 0}, "value_out_of_range"), ({"prompt": "x", "steps": 0}, "value_out_of_range"),
                     ({"prompt": "x", "steps": 2.5}, "value_out_of_range"), ({"prompt": "x", "augment": 99}, "value_out_of_range"),
                     ({"prompt": "x", "generator": "/no/such/dir"}, "clip_generator_unknown"),
                     ({"prompt": "x", "seed": -1}, "value_out_of_range")):
        with pytest.raises(UserError) as e:
            _run(b, **bad)
        assert e.value.key == key, (bad, e.value.key)
    frames = _run(b, prompt="a red circle " * 60, steps=1, size=16)  # very long: cut, still runs
    assert frames[-1].done


def test_stop_mid_run_keeps_the_best(trained):
    b = clip.load_backend(trained)
    stop = threading.Event()
    frames = []
    for f in clip.guide(b, clip.GuideSetting(prompt="a green star", steps=500, size=16), stop=stop):
        frames.append(f)
        if f.step == 3:
            stop.set()
    last = frames[-1]
    assert last.done and last.stopped and last.step <= 4 and len(frames) <= 6
    assert last.best_score == pytest.approx(max(last.scores))
    # Several images side by side: stopped, the run still ends on one of the kept images, ranked.
    stop.clear()
    frames = []
    for f in clip.guide(b, clip.GuideSetting(prompt="a green star", steps=500, size=16, candidates=3), stop=stop):
        frames.append(f)
        if f.step == 3:
            stop.set()
    last = frames[-1]
    assert last.done and last.stopped and last.step <= 4 and np.array_equal(last.image, last.best_image)
    assert math.isfinite(last.best_score) and last.best_score <= max(f.score for f in frames[:-1]) + 1e-6


def test_nan_score_ends_with_a_message(trained, monkeypatch):
    b = clip.load_backend(trained)
    real = b.encode_images
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        out = real(x)
        return out * float("nan") if calls["n"] > 3 else out

    monkeypatch.setattr(b, "encode_images", flaky)
    frames = _run(b, prompt="a red circle", steps=20, size=16)
    last = frames[-1]
    assert last.done and last.warning is not None and last.warning.key == "clip_guide_nonfinite"
    assert math.isfinite(last.best_score) and last.best_image.shape == (16, 16, 3)


@pytest.mark.parametrize("name,kw", [("mnist-vae-z16", {}), ("mnist-stylegan", {"per_layer": True}),
                                     ("mnist-ddpm", {"label": 7})])
def test_generators_through_the_shipped_models(trained, name, kw):
    b = clip.load_backend(trained)
    folder = checkpoint.ASSETS_DIR / name
    frames = _run(b, prompt="the digit 7", generator=str(folder), steps=3, augment=1, **kw)
    last = frames[-1]
    assert last.done and last.image.dtype == np.uint8 and last.image.ndim == 3
    assert len(last.scores) >= 3 and all(math.isfinite(s) for s in last.scores)
    choices = clip.generator_choices()
    assert choices[0] == ("pixels", "pixels") and (name, str(folder)) in choices


def test_ddpm_candidates_keep_the_best_final_sample(trained, monkeypatch):
    """Several guided chains in one batch; the run keeps the final sample CLIP scores best, never an
    x_0 guess from along the way."""
    b = clip.load_backend(trained)
    kw = {"prompt": "a red circle in the centre", "generator": str(checkpoint.ASSETS_DIR / "shapes-ddpm"),
          "steps": 3, "augment": 1, "seed": 2}
    seen = []
    real = b.encode_images

    def spy(x):
        out = real(x)
        seen.append(out.detach() @ b.encode_texts([kw["prompt"]])[0])
        return out

    monkeypatch.setattr(b, "encode_images", spy)
    last = _run(b, candidates=3, **kw)[-1]
    finals = seen[-1]  # the last call scores the three final samples at once
    assert finals.shape == (3,) and last.score == pytest.approx(float(finals.max()), abs=1e-5)
    assert last.done and last.best_score == last.score and np.array_equal(last.best_image, last.image)
    monkeypatch.undo()
    with pytest.raises(UserError) as e:
        _run(b, candidates=0, **kw)
    assert e.value.key == "value_out_of_range"


@pytest.mark.parametrize("name,kw", [("pixels", {"size": 16}), ("mnist-vae-z16", {}),
                                     ("mnist-stylegan", {"per_layer": True})])
def test_latent_candidates_climb_as_each_would_alone(trained, monkeypatch, name, kw):
    """k images steered side by side in one batch: the first follows exactly the path it takes
    alone (the same seed draws it first; Adam and the prior act per image), and each frame shows
    the one with the best cosine. Each image's best state is kept; the run ends on the one whose
    prompt log-probability among the CLIP's captions is highest."""
    guide_module = importlib.import_module("engines.clip.guide")
    b = clip.load_backend(trained)
    gen = name if name == "pixels" else str(checkpoint.ASSETS_DIR / name)
    prompt = "the digit 4"
    pos = b.encode_texts([prompt])[0]
    seen, embs = [], []
    real = b.encode_images

    def spy(x):
        out = real(x)
        seen.append((out.detach() @ pos).tolist())
        embs.append(out.detach())
        return out

    monkeypatch.setattr(b, "encode_images", spy)
    setting = {"prompt": prompt, "generator": gen, "steps": 6, "augment": 0, "seed": 3, **kw}
    _run(b, **setting)
    assert len(seen) == 7  # one image: no ranking at the end
    cosines_alone, seen[:], embs[:] = [c[0] for c in seen], [], []
    side = _run(b, candidates=3, **setting)
    assert all(len(c) == 3 for c in seen) and len(seen) == 8  # 7 steps, then the kept three ranked
    steps, ranked = seen[:7], embs[7]
    np.testing.assert_allclose([c[0] for c in steps], cosines_alone, atol=2e-4)
    assert [f.score for f in side[:-1]] == pytest.approx([max(c) for c in steps[:-1]], abs=1e-5)
    assert len(set(np.round(steps[0], 4))) == 3  # three different starting images
    tops = np.max(steps, axis=0)  # each image's best cosine
    np.testing.assert_allclose(seen[7], tops, atol=2e-4)  # ... is the state it kept
    logp = guide_module.Objective(b, pos, None, contrast=True)._each(ranked)
    j = int(logp.argmax())
    assert side[-1].done and side[-1].score == pytest.approx(tops[j], abs=1e-5) == side[-1].best_score
    assert np.array_equal(side[-1].image, side[-1].best_image)
    assert side[-1].scores[-1] == pytest.approx(tops[j], abs=1e-5)


def test_cli_guide(tmp_path, trained):
    from engines import cli

    out = tmp_path / "g.npz"
    assert cli.main(["guide", "--prompt", "数字七", "--clip", str(trained), "--steps", "2", "--size", "16",
                     "--n", "2", "--out", str(out)]) == 0
    data = np.load(out)
    assert data["images"].shape == (2, 16, 16, 3) and data["scores"].shape == (2,)
    # A VAE: the generator's default of 4 images side by side, as in the tab.
    vae = str(checkpoint.ASSETS_DIR / "mnist-vae-z16")
    assert cli.main(["guide", "--prompt", "the digit 3", "--clip", str(trained), "--generator", vae, "--steps", "2",
                     "--augment", "1", "--out", str(out)]) == 0
    setting = clip.GuideSetting(prompt="the digit 3", generator=vae, steps=2, augment=1, candidates=4)
    np.testing.assert_array_equal(np.load(out)["images"][0], clip.run_to_end(clip.load_backend(trained), setting).best_image)
    one = clip.run_to_end(clip.load_backend(trained), dataclasses.replace(setting, candidates=1)).best_image
    assert not np.array_equal(np.load(out)["images"][0], one)  # (this seed's run keeps another than the first)
    assert cli.main(["guide", "--prompt", " ", "--clip", str(trained), "--out", str(tmp_path / "x.png")]) == 2
    assert cli.main(["guide", "--prompt", "x", "--clip", str(trained), "--out", str(tmp_path / "x.jpg")]) == 2


def test_runtime_seed_generator_is_the_only_randomness(trained):
    # Global torch RNG state must not change what guidance draws.
    b = clip.load_backend(trained)
    torch.manual_seed(123)
    a = _run(b, prompt="a red circle", steps=2, size=16, seed=9)[-1].image
    torch.manual_seed(456)
    c = _run(b, prompt="a red circle", steps=2, size=16, seed=9)[-1].image
    np.testing.assert_array_equal(a, c)
    assert runtime.MAX_SEED > 0


def test_cli_train_clip_writes_a_loadable_checkpoint(tmp_path):
    from engines import cli

    out = tmp_path / "c"
    assert cli.main(["train", "clip", "--clip-data", "shapes", "--steps", "3", "--n-train", "40", "--n-test", "10",
                     "--batch-size", "8", "--clip-width", "32", "--clip-layers", "1", "--log-every", "1",
                     "--out", str(out)]) == 0
    ckpt = checkpoint.load(out, expect_family="clip")
    assert ckpt.card["steps"] == 3 and ckpt.card["dataset"] == "shapes"
    assert set(ckpt.card["metrics"]["zero_shot"]["shapes"]["zh"]) == {"color", "shape", "position"}
    assert ckpt.build()[0].embed_dim == 32
    assert cli.main(["train", "clip", "--clip-data", "cifar", "--steps", "1", "--out", str(tmp_path / "d")]) == 2


def test_resnet_image_tower_trains_with_hard_negatives(tmp_path):
    """--clip-vision resnet: open_clip's ModifiedResNet, here seeing 64x64 upsampled shapes."""
    from engines import cli
    from open_clip.modified_resnet import ModifiedResNet

    out = tmp_path / "r"
    assert cli.main(["train", "clip", "--clip-data", "shapes", "--steps", "3", "--n-train", "40", "--n-test", "10",
                     "--batch-size", "8", "--clip-width", "32", "--clip-layers", "1", "--clip-vision", "resnet",
                     "--clip-vision-width", "8", "--clip-image-size", "64", "--clip-negatives", "--log-every", "1",
                     "--out", str(out)]) == 0
    config, model = checkpoint.load(out, expect_family="clip").build()
    assert config.vision == "resnet" and config.image_size == 64 and isinstance(model.visual, ModifiedResNet)
    b = clip.load_backend(out)
    x = torch.rand(2, 3, 32, 32)
    emb = b.encode_images(x)  # any input side is resized to the tower's 64
    assert emb.shape == (2, 32) and torch.allclose(emb.norm(dim=-1), torch.ones(2))
    with pytest.raises(ValueError, match="multiple of 32"):
        clip.Config(vision="resnet", image_size=48).validate()


def test_folder_backends_are_cached_a_few_at_a_time(tmp_path):
    """Uploaded or trained CLIPs come and go; the cache keeps only the newest few folders."""
    import shutil

    from engines.checkpoint import ASSETS_DIR
    from engines.clip import backends

    folders = []
    for i in range(backends.MAX_CACHED_FOLDERS + 2):
        folders.append(tmp_path / f"clip{i}")
        shutil.copytree(ASSETS_DIR / "genlab-clip", folders[-1])
    first = backends.load_backend(folders[0])
    assert backends.load_backend(folders[0]) is first
    for folder in folders[1:]:
        backends.load_backend(folder)
    cached = [k for k in backends._CACHE if k.startswith(str(tmp_path))]
    assert len(cached) == backends.MAX_CACHED_FOLDERS
    assert str(folders[0].resolve()) not in cached and str(folders[-1].resolve()) in cached

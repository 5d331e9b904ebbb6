"""Words, a word-level vocabulary and a small text encoder for the scenes captions (latent diffusion).

The vocabulary is the grammar's own words in both languages: English split at spaces and hyphens
(numerals one digit a token), Chinese segmented by the grammar's words, longest first. A prompt's
words the vocabulary lacks are reported (`never_seen`): "never seen: cat, sofa". Chinese text the
grammar has no word for is reported as the run of characters between known words.

The text encoder is a small `transformers` BERT built from a config (nothing downloaded): its
token embeddings (B, T, hidden) are what a latent UNet's cross-attention reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .. import runtime
from .grammar import EN, TEMPLATES, ZH, en_plural

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")   # ids 0-4
PAD, UNK, CLS, SEP = 0, 1, 2, 3
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")


def _lexicon_phrases(lex: dict) -> list[str]:
    out = []
    for key, table in lex.items():
        values = table.values() if isinstance(table, dict) else [table]
        for v in values:
            out.extend([v] if isinstance(v, str) else v)
    return out


def en_words(text: str) -> list[str]:
    """English text -> words: lower case, hyphens split, numerals one per digit."""
    return re.findall(r"[a-z]+|\d", text.lower().replace("-", " "))


@lru_cache(maxsize=1)
def grammar_words() -> dict[str, tuple[str, ...]]:
    """Every word the grammar writes, per language, sorted."""
    en, zh = set(), set()
    for phrase in _lexicon_phrases(EN):
        en.update(en_words(re.sub(r"{\w+}", " ", phrase)))
    en.update(str(d) for d in range(10))
    en.update(en_words(en_plural(p))[-1] for ps in EN["shape"].values() for p in ps)
    for phrase in _lexicon_phrases(ZH):
        zh.update(re.sub(r"{\w+}", " ", phrase).split())
    zh.update(str(d) for d in range(10))
    for name, template in TEMPLATES.items():
        words = re.sub(r"{\w+}", " ", template)
        if name.startswith("en."):
            en.update(en_words(words))
        else:
            zh.update(words.split())
    zh.update(("一", "个", "颗", "的", "在", "有", "，", "和"))   # what the sentence builders add around slots
    en.update(("a", "an", "and", "one"))
    return {"en": tuple(sorted(en)), "zh": tuple(sorted(zh))}


def zh_segment(text: str, words) -> list[tuple[str, bool]]:
    """Chinese text -> [(piece, known)]: the longest known word at each point; characters no word starts
    with are gathered into one unknown piece."""
    words = set(words)
    longest = max(map(len, words))
    out, i, unknown = [], 0, ""
    while i < len(text):
        for k in range(min(longest, len(text) - i), 0, -1):
            if text[i:i + k] in words:
                if unknown:
                    out.append((unknown, False))
                    unknown = ""
                out.append((text[i:i + k], True))
                i += k
                break
        else:
            unknown += text[i]
            i += 1
    return out + ([(unknown, False)] if unknown else [])


def split_words(text: str) -> list[tuple[str, bool]]:
    """Any prompt (English, Chinese or both) -> [(word, known to the grammar)], in order."""
    known_en, known_zh = set(grammar_words()["en"]), grammar_words()["zh"]
    out, pos = [], 0
    for m in _CJK.finditer(text):
        out += [(w, w in known_en) for w in en_words(text[pos:m.start()])]
        out += [(w, ok) for w, ok in zh_segment(m.group(), known_zh) if w.strip()]
        pos = m.end()
    return out + [(w, w in known_en) for w in en_words(text[pos:])]


def never_seen(prompt: str) -> list[str]:
    """The words of `prompt` the vocabulary has never seen, each once, in order: ["cat", "sofa"]."""
    return list(dict.fromkeys(w for w, known in split_words(prompt) if not known))


def never_seen_note(prompt: str, lang: str = "en") -> str:
    """"never seen: cat, sofa" (or 从未见过：猫、沙发), or "" when every word is known."""
    words = never_seen(prompt)
    if not words:
        return ""
    return ("never seen: " + ", ".join(words)) if lang == "en" else ("从未见过：" + "、".join(words))


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]   # id -> token: SPECIALS, then English words, then Chinese words

    @property
    def ids(self) -> dict[str, int]:
        return _index(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, prompt: str, max_len: int = 32) -> list[int]:
        """[CLS] word ids [SEP], unknown words as [UNK], cut to max_len (the [SEP] kept)."""
        ids = self.ids
        body = [ids.get(w, UNK) if known else UNK for w, known in split_words(prompt)]
        return [CLS, *body[:max_len - 2], SEP]

    def batch(self, prompts: list[str], max_len: int = 32):
        """(input_ids, attention_mask): long tensors (B, T), padded with [PAD] to the longest."""
        import torch

        rows = [self.encode(p, max_len) for p in prompts]
        t = max(map(len, rows))
        ids = torch.tensor([r + [PAD] * (t - len(r)) for r in rows], dtype=torch.long)
        return ids, (ids != PAD).long()


@lru_cache(maxsize=4)
def _index(tokens: tuple[str, ...]) -> dict[str, int]:
    return {t: i for i, t in enumerate(tokens)}


def build_vocabulary() -> Vocabulary:
    words = grammar_words()
    return Vocabulary(tokens=SPECIALS + words["en"] + tuple(w for w in words["zh"] if w not in words["en"]))


def text_encoder_config(vocab_size: int, *, hidden: int = 128, layers: int = 4, heads: int = 4, max_len: int = 32):
    """A small BERT config (built from scratch, nothing downloaded): token embeddings (B, T, hidden)."""
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                      intermediate_size=4 * hidden, max_position_embeddings=max_len, pad_token_id=PAD,
                      type_vocab_size=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def build_text_encoder(vocab: Vocabulary, **kw):
    """`transformers.BertModel` from `text_encoder_config`, randomly initialised (torch.manual_seed first)."""
    with runtime.HEAVY_IMPORTS:  # never beside the warm-up thread's import of the same package
        from transformers import BertModel

    return BertModel(text_encoder_config(len(vocab), **kw), add_pooling_layer=False)

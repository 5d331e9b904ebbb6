"""A UTF-8 byte-level tokenizer for the GenLab CLIP.

Why bytes: a 49k-entry BPE vocabulary would be most of a tiny model's weights (49,408 x 96
floats is 4.7M, against 0.36M for both towers of the GenLab CLIP), and it knows no Chinese
it was not trained on. Bytes cover every language with 256 symbols; the price is longer
sequences (a Chinese character is 3 bytes), which a context of 88 holds for every caption
GenLab trains on.

Ids: 0 = padding, 1..256 = byte value + 1, 257 = start of text, 258 = end of text. The end token
has the largest id, so open_clip's "argmax" pooling reads the text's embedding at its end.
Text is NFKC-normalised (full-width letters and digits become ASCII), lower-cased and its
whitespace collapsed before encoding; text longer than the context is cut at a character
boundary (never inside a multi-byte character) and still ends with the end token.
"""

from __future__ import annotations

import unicodedata

import torch

PAD, SOT, EOT = 0, 257, 258
VOCAB_SIZE = 259


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(text)).lower().split())


def encode(text: str, context_length: int) -> list[int]:
    """One text -> [SOT, bytes..., EOT] ids, at most `context_length` long (unpadded)."""
    data = normalize(text).encode("utf-8")
    room = context_length - 2
    if len(data) > room:
        # Cut, then drop a character the cut split (its bytes no longer decode).
        data = data[:room].decode("utf-8", errors="ignore").encode("utf-8")
    return [SOT, *(b + 1 for b in data), EOT]


def is_truncated(text: str, context_length: int) -> bool:
    return len(normalize(text).encode("utf-8")) > context_length - 2


def tokenize(texts: list[str], context_length: int, *, pad_to: int | None = None) -> torch.Tensor:
    """Texts -> long (K, L) ids, padded with 0 to the longest text (or to `pad_to`)."""
    ids = [encode(t, context_length) for t in texts]
    length = pad_to or max(len(i) for i in ids)
    out = torch.zeros(len(ids), length, dtype=torch.long)
    for row, seq in enumerate(ids):
        out[row, :len(seq)] = torch.tensor(seq)
    return out


def decode(ids) -> str:
    data = bytes(int(i) - 1 for i in ids if 1 <= int(i) <= 256)
    return data.decode("utf-8", errors="replace")

"""`scenes`: a richer procedural world for text-to-image (issue 20).

64x64 images with 1-3 objects (shape, colour, size, position on a 3x3 grid) on a background, each
with its structured description (objects, relations, counts); captions from a grammar in English
and Chinese; a held-out split of colour+shape pairs and phrasings; an attribute judge; a word-level
vocabulary and a small text encoder for latent diffusion.

- `world`: `sample_scene`, `sample_scenes`, `render`, `describe`, `STREAMS`.
- `grammar`: the lexicon and templates of both languages; `captions`: `caption`, `scene_captions`,
  `digit_caption`, `parse`.
- `heldout`: `HELD_OUT_PAIRS`, `HELD_OUT_PHRASES`, `scene_is_held_out`, `caption_is_held_out`.
- `judge`: the attribute classifier (`Judge`, `load_judge`, `judge_images`, `score`).
- `text`: `Vocabulary`, `build_vocabulary`, `never_seen`, `text_encoder_config`, `build_text_encoder`.
- `autoencoder`: the KL autoencoder to a 16x16 or 8x8 latent; `dataset`: `load_scenes` (an ImageSet).

Nothing is imported at package import but this docstring.
"""

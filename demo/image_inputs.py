"""Choosing an input image: a held-out example, a random z, an uploaded image or a sketch.

Shared by the tabs that take an image (the VAE tab's endpoints, sliders and reconstruction; the
diffusion tab's forward process, with demo/diffusion_inputs.py). `Picker` is the group of
widgets; `model_input` turns its frozen values into the uint8 image the model takes, `endpoint`
into a latent vector (the posterior mean, or a prior draw).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from engines import data
from engines.errors import UserError

from .forms import widget
from .i18n import Registry

SOURCES = ("example", "seed", "upload", "sketch")
SKETCH_CANVAS = (280, 280)  # pixels; 10x the MNIST canvas


@dataclass(frozen=True)
class Choice:
    """A picker's frozen values."""

    source: str  # one of SOURCES
    example: int | None = None  # index into engine.examples()
    seed: int | None = None
    upload: str | None = None  # file path
    sketch: dict | None = None  # Sketchpad value


@dataclass
class Picker:
    source: gr.Radio
    example: gr.Dropdown
    seed: gr.Number | None
    upload: gr.File
    sketch: gr.Sketchpad

    @property
    def inputs(self) -> list:
        """The picker's components, in the order `choice(*values)` takes them."""
        return [self.source, self.example, self.seed, self.upload, self.sketch] if self.seed is not None \
            else [self.source, self.example, self.upload, self.sketch]

    @property
    def named(self) -> dict:
        """The picker's components by the names a handler reads them (v.source, v.example, ...)."""
        names = ("source", "example", "seed", "upload", "sketch") if self.seed is not None \
            else ("source", "example", "upload", "sketch")
        return dict(zip(names, self.inputs))

    def choice(self, *values) -> Choice:
        if self.seed is None:
            source, example, upload, sketch = values
            seed = None
        else:
            source, example, seed, upload, sketch = values
        return Choice(source=source, example=example, seed=seed, upload=upload, sketch=sketch)


def choice_of(v) -> Choice:
    """A handler's named picker values (v.source, v.example, v.seed?, v.upload, v.sketch) -> Choice."""
    return Choice(source=v.source, example=v.example, seed=getattr(v, "seed", None), upload=v.upload,
                  sketch=v.sketch)


def build_picker(reg: Registry, prefix: str, *, with_seed: bool, source: str = "example",
                 example: int | None = None) -> Picker:
    """The widgets, with only the chosen source's control visible."""
    pairs = [(f"src.{s}", s) for s in SOURCES if with_seed or s != "seed"]
    radio = widget(reg, gr.Radio, choice_keys=pairs, value=source, label="src.label", elem_id=f"{prefix}-source")
    ex = widget(reg, gr.Dropdown, choices=[], value=example, label="src.example.label",
                visible=source == "example", elem_id=f"{prefix}-example",
                allow_custom_value=True)  # the choices arrive with the model, after load
    seed = None
    if with_seed:
        seed = widget(reg, gr.Number, value=0, precision=0, minimum=0, maximum=2**32 - 1, label="src.seed.label",
                      visible=source == "seed", elem_id=f"{prefix}-seed")
    # gr.File without file_types, not gr.Image: the engine decodes the file itself, so a text
    # file or a 20000x20000 image gets the engine's message, in the session's language.
    upload = widget(reg, gr.File, file_count="single", type="filepath", height=90, label="src.upload.label",
                    visible=source == "upload", elem_id=f"{prefix}-upload")
    sketch = widget(reg, gr.Sketchpad, label="src.sketch.label", visible=source == "sketch",
                    canvas_size=SKETCH_CANVAS, fixed_canvas=True, layers=False, height=300,
                    brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                    type="numpy", image_mode="RGBA", format="png", elem_id=f"{prefix}-sketch")
    picker = Picker(source=radio, example=ex, seed=seed, upload=upload, sketch=sketch)

    def show(src):
        out = [gr.update(visible=src == "example")]
        if with_seed:
            out.append(gr.update(visible=src == "seed"))
        return out + [gr.update(visible=src == "upload"), gr.update(visible=src == "sketch")]

    radio.change(show, radio, [c for c in (ex, seed, upload, sketch) if c is not None],
                 queue=False, show_progress="hidden", api_visibility="private")
    return picker


def not_given(source: str, upload, sketch) -> bool:
    """True while the chosen source has nothing yet (no file; a sketchpad never drawn on)."""
    if source == "upload":
        return not upload
    if source == "sketch":
        if sketch is None:
            return True
        if isinstance(sketch, dict):
            return sketch.get("composite") is None and sketch.get("background") is None \
                and not any(layer is not None for layer in sketch.get("layers") or [])
    return False


def example_choices(engine) -> list[tuple[str, int]]:
    """Dropdown (label, index) pairs for the shipped held-out examples: 'class · #index'."""
    images, labels = engine.examples()
    if labels is None:
        return [(f"#{i}", i) for i in range(len(images))]
    names = engine.class_names  # the card's (engines.families.class_names)

    def name(label: int) -> str:
        return names[label] if names is not None and 0 <= label < len(names) else str(label)

    order = np.argsort(labels, kind="stable")
    return [(f"{name(int(labels[i]))} · #{i}", int(i)) for i in order]


def default_examples(engine) -> tuple[int | None, int | None]:
    """Two example indices with different labels (or the first and last), for sensible defaults."""
    _, labels = engine.examples()
    n = len(labels) if labels is not None else len(engine.examples()[0])
    if n == 0:
        return None, None
    if labels is None:
        return 0, n - 1
    other = next((i for i in range(n) if labels[i] != labels[0]), n - 1)
    return 0, int(other)


def fit(engine, image: np.ndarray) -> np.ndarray:
    """Any uint8 image -> the model's (size, size, channels); digits prepared like MNIST."""
    c = engine.config
    if image.shape == (c.image_size, c.image_size, c.channels):
        return image
    return data.to_model_input(image, size=c.image_size, channels=c.channels, mnist_style=c.channels == 1)


def example_at(images: np.ndarray, index) -> np.ndarray:
    """The held-out example the dropdown picked; UserError image_missing for none or a wrong one."""
    try:
        index = int(index)
    except (TypeError, ValueError):
        raise UserError("image_missing") from None
    if not 0 <= index < len(images):
        raise UserError("image_missing")
    return images[index]


def model_input(engine, choice: Choice) -> np.ndarray:
    """The chosen image, ready for the model: uint8 (size, size, channels)."""
    if choice.source == "example":
        return example_at(engine.examples()[0], choice.example)
    if choice.source == "upload":
        if not choice.upload:
            raise UserError("image_missing")
        return fit(engine, data.decode_image(choice.upload))
    if choice.source == "sketch":
        if choice.sketch is None:
            raise UserError("sketch_empty")
        return fit(engine, data.sketch_to_digit(choice.sketch))
    raise UserError("image_missing")


def endpoint(engine, choice: Choice) -> np.ndarray:
    """A latent vector (D,): a prior draw for 'seed', else the posterior mean of the chosen image."""
    if choice.source == "seed":
        seed = 0 if choice.seed is None else choice.seed
        if isinstance(seed, float) and not np.isfinite(seed):
            raise UserError("value_not_finite", what="seed", value=seed)
        return engine.prior_sample(1, seed)[0]
    mu, _ = engine.encode(model_input(engine, choice))
    return mu[0]

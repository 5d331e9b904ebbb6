"""What every family's Config shares: reading it back from a checkpoint's config.json."""

from __future__ import annotations

import dataclasses
import math
import types
import typing

MAX_TUPLE_LEN = 16  # no family has more levels, widths or attention sides than this


def _typed(key: str, value, hint):
    """A JSON value checked against the field's type hint (ints, finite floats, strings, tuples of
    ints, Literals, Optional): a ValueError naming the field, before any arithmetic sees it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _typed(key, value, hint)
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{key} must be one of {list(args)}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) > MAX_TUPLE_LEN:
            raise ValueError(f"{key} must be a list of at most {MAX_TUPLE_LEN} values, not {_short(value)}")
        item = args[0] if args else None
        return tuple(_typed(key, v, item) if item in (int, float, str) else v for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, not {_short(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be a whole number, not {_short(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{key} must be a finite number, not {_short(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str) or len(value) > 200:
            raise ValueError(f"{key} must be a short text, not {_short(value)}")
        return value
    return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_range(name: str, value, low, high) -> None:
    """ValueError unless low <= value <= high: the upper bounds keep a config.json from asking
    for a model (or a piece of work) far beyond anything GenLab trains or ships."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, not {value}")


class FamilyConfig:
    """Mixin for a family's frozen Config dataclass.

    `from_dict` refuses keys the dataclass does not know (a config from another family or a newer
    version), checks every value's type against the field's hint (turning JSON lists back into
    the tuples the fields declare), and runs `validate()`, which bounds every size.
    """

    @classmethod
    def from_dict(cls, d: dict):
        if not isinstance(d, dict):
            raise ValueError("config.json must hold a JSON object")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)[:10]}")
        hints = typing.get_type_hints(cls)
        config = cls(**{key: _typed(key, value, hints[key]) for key, value in d.items()})
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ValueError when the values cannot describe a working model."""

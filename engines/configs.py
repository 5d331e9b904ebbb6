"""What every family's Config shares: reading it back from a checkpoint's config.json."""

from __future__ import annotations

import dataclasses
import typing


class FamilyConfig:
    """Mixin for a family's frozen Config dataclass.

    `from_dict` refuses keys the dataclass does not know (a config from another family or a newer
    version), turns JSON lists back into the tuples the fields declare, and runs `validate()`.
    """

    @classmethod
    def from_dict(cls, d: dict):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        hints = typing.get_type_hints(cls)
        values = {}
        for key, value in d.items():
            if isinstance(value, list) and typing.get_origin(hints[key]) is tuple:
                args = typing.get_args(hints[key])
                item = args[0] if args and args[0] in (int, float) else None
                value = tuple(item(v) if item else v for v in value)
            values[key] = value
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ValueError when the values cannot describe a working model."""

"""Reading configuration dataclasses back from plain mappings (JSON files, checkpoints)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

from rlsv.errors import ConfigError

__all__ = ["dataclass_kwargs"]


def dataclass_kwargs(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as keyword arguments of the dataclass ``cls``; unknown keys raise a ``ValueError`` naming them."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"Unknown {cls.__name__} fields {sorted(unknown)}; known: {sorted(known)}.")
    return dict(data)

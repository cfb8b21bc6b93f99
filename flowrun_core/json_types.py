"""The recursive JSON alias and the one deep-copy helper every layer shares."""

from __future__ import annotations

from typing import TypeAlias

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
"""Any JSON value as Python's :mod:`json` module produces it."""


def copy_json(value: JSON) -> JSON:
    """Return a deep copy of a JSON tree (dicts and lists are copied, scalars shared)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def copy_json_object(value: dict[str, JSON]) -> dict[str, JSON]:
    """Return a deep copy of a JSON object."""
    return {k: copy_json(v) for k, v in value.items()}

"""Prefect's lax booleans (pydantic's): ``0``/``1`` and a few words stand for true and false.

Used where Prefect reads a field as a boolean from JSON: the request's
``enforce_parameter_schema`` (the wire layer) and a deployment's flags when it is created
(:class:`~flowrun_core.seeding.Seeder`, for callers that pass JSON values as they come).
"""

from __future__ import annotations

import math
from typing import Final, Literal

__all__ = ["NotABoolean", "lax_bool"]

_TRUE_WORDS: Final = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS: Final = frozenset({"0", "off", "f", "false", "n", "no"})
_I64: Final = range(-(2**63), 2**63)


class NotABoolean(ValueError):
    """The value does not stand for a boolean.

    ``kind`` is pydantic's error type: ``bool_parsing`` for a number or text it tried to
    read, ``bool_type`` for anything else.
    """

    def __init__(self, kind: Literal["bool_parsing", "bool_type"]) -> None:
        super().__init__(kind)
        self.kind: Literal["bool_parsing", "bool_type"] = kind


def lax_bool(value: object) -> bool:
    """``value`` as a boolean, as pydantic reads one in lax mode.

    ``0``/``1`` (also as floats) and the words pydantic knows, in any ASCII case
    (``yes``/``no``, ``on``/``off``, ``t``/``f``, ``true``/``false``, ``y``/``n``).

    Raises:
        NotABoolean: any other value.
    """
    if value is True or value is False:
        return value
    if type(value) is int:
        if value in {0, 1}:
            return value == 1
        if value in _I64:
            raise NotABoolean("bool_parsing")
    elif type(value) is float:
        if value in {0.0, 1.0}:
            return value == 1.0
        if math.isfinite(value) and value.is_integer() and -(2.0**63) < value < 2.0**63:
            raise NotABoolean("bool_parsing")
    elif type(value) is str:
        word = value.lower() if value.isascii() else value
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise NotABoolean("bool_parsing")
    raise NotABoolean("bool_type")

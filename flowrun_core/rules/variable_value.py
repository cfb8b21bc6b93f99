"""A workspace variable's value as Prefect 3.9.1 reads it back for hydration.

Prefect keeps a variable's value as JSON text in a column declared ``JSON``, which SQLite
(Prefect's default database) gives NUMERIC affinity: text that is a whole number literal is
stored as an INTEGER. A value that is a bare float with no fractional part, strictly
between -2**63 and 2**63, therefore comes back as an ``int`` (``3.0`` as ``3``, ``-0.0``
as ``0``, ``1e16`` as ``10000000000000000``). Floats inside a list or an object, fractional
floats, floats outside that range, and every other type come back unchanged.
"""

from __future__ import annotations

from typing import Final

from flowrun_core.json_types import JSON

__all__ = ["as_read_back"]

_INT64_BOUND: Final = 2.0**63


def as_read_back(value: JSON) -> JSON:
    """``value`` as hydration sees it after Prefect stored it (see the module's text)."""
    if type(value) is float and value.is_integer() and -_INT64_BOUND < value < _INT64_BOUND:
        return int(value)
    return value

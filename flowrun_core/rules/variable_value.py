"""A workspace variable's value as Prefect 3.9.1 reads it back for hydration.

Prefect keeps a variable's value as JSON text in a column declared ``JSON``, which SQLite
(Prefect's default database) gives NUMERIC affinity: text that is a whole number literal is
stored as an INTEGER, and a whole number too large for 64 bits as a REAL. So a bare value
(not inside a list or an object) comes back changed in two cases:

* a float with no fractional part, strictly between -2**63 and 2**63, as an ``int``
  (``3.0`` as ``3``, ``-0.0`` as ``0``, ``1e16`` as ``10000000000000000``);
* an ``int`` outside the 64-bit range as a ``float`` (``2**63`` as ``9.223372036854776e18``;
  Prefect's variables API accepts whole numbers up to ``2**64 - 1``).

Everything else comes back unchanged. (SQLite's own text-to-float conversion is not always
correctly rounded; that is not reproduced, so a float comes back exactly as stored.)
"""

from __future__ import annotations

from typing import Final

from flowrun_core.json_types import JSON, TWO_TO_THE_63

__all__ = ["as_read_back"]

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def as_read_back(value: JSON) -> JSON:
    """``value`` as hydration sees it after Prefect stored it (see the module's text)."""
    if isinstance(value, float):
        if value.is_integer() and -TWO_TO_THE_63 < value < TWO_TO_THE_63:
            return int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and not _in_int64(value):
        try:
            return float(value)
        except OverflowError:  # beyond any float: Prefect refuses such a variable
            return value
    return value


def _in_int64(value: int) -> bool:
    return _INT64_MIN <= value <= _INT64_MAX

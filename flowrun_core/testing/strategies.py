"""Hypothesis strategies for flowrun-core's inputs.

Each strategy states what it guarantees in its docstring. They generate values, never
touch storage, and are deterministic under hypothesis's own seeding.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "hostile_text",
    "idempotency_keys",
    "json_objects",
    "json_scalars",
    "json_values",
    "label_values",
]

_HOSTILE = [
    "",
    " ",
    "'; DROP TABLE flow_runs; --",
    '" OR 1=1 --',
    "%_\\",
    "\x00",
    "a\x00b",
    "\u2028",
    "\U0001f600",
    "\U0001f9ea\U0001f525",
    "\ud7ff\ue000",
    "null",
    "{{ 1 + 1 }}",
]


def hostile_text(max_size: int = 20) -> st.SearchStrategy[str]:
    """Strings that break naive storage: SQL metacharacters, NUL, non-BMP emoji, and any text.

    Guarantees: valid Python ``str`` values (no lone surrogates, so they encode as UTF-8).
    """
    return st.sampled_from(_HOSTILE) | st.text(
        alphabet=st.characters(exclude_categories=["Cs"]), max_size=max_size
    )


def json_scalars(*, allow_nan: bool = False) -> st.SearchStrategy[Any]:
    """``None``, booleans, integers (64-bit and beyond), floats and strings.

    Guarantees: every value survives ``json.dumps``/``json.loads`` with its type; no NaN or
    infinity unless ``allow_nan``.
    """
    return (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=allow_nan, allow_infinity=allow_nan)
        | hostile_text()
    )


def json_values(*, allow_nan: bool = False, max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON tree of lists and string-keyed objects over :func:`json_scalars`."""
    return st.recursive(
        json_scalars(allow_nan=allow_nan),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(hostile_text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def json_objects(*, allow_nan: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object (``dict[str, JSON]``) of up to five keys."""
    return st.dictionaries(hostile_text(max_size=8), json_values(allow_nan=allow_nan), max_size=5)


def label_values() -> st.SearchStrategy[bool | int | float | str]:
    """A label value Prefect accepts: a strict bool, an int, a finite float or a string."""
    return (
        st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | hostile_text()
    )


def idempotency_keys() -> st.SearchStrategy[str | None]:
    """``None``, ``""`` or a short key drawn from a small alphabet so that keys repeat."""
    return (
        st.none()
        | st.just("")
        | st.text(alphabet=string.ascii_lowercase[:3], min_size=1, max_size=2)
    )

"""Reading an adapter option from a URL's query string, or saying which one is wrong.

``sqlite:///runs.db?read_only=ture`` must not open the file for writing, and
``?pool_max=many`` should name ``pool_max`` rather than repeat ``int()``'s message.
"""

from __future__ import annotations

from flowrun_core.rules.booleans import NotABoolean, lax_bool

__all__ = ["url_flag", "url_float", "url_int", "url_text"]


def url_flag(key: str, text: str) -> bool:
    """``text`` as a boolean, read as Prefect reads one (:func:`lax_bool`), else ``ValueError``.

    true/false, 1/0, yes/no, on/off, t/f and y/n, in any case; the error names ``key``.
    """
    try:
        return lax_bool(text.strip())
    except NotABoolean:
        raise ValueError(
            f"URL option {key} must be true or false (or 1/0, yes/no, on/off), not {text!r}"
        ) from None


def url_int(key: str, text: str) -> int:
    """``text`` as an integer, or ``ValueError`` naming ``key``."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"URL option {key} must be an integer, not {text!r}") from None


def url_float(key: str, text: str) -> float:
    """``text`` as a number, or ``ValueError`` naming ``key``."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"URL option {key} must be a number, not {text!r}") from None


def url_text(key: str, text: str) -> str:
    """``text`` itself (for a table of option readers)."""
    del key
    return text

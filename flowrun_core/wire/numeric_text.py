"""Numbers written as strings, read as pydantic-core (Prefect 3.9.1's validator) reads them.

pydantic's lax mode accepts ``"42"`` for an integer field and ``"1.5"`` for a float, but its
rules are those of its Rust core, not Python's ``int()`` and ``float()``:

* Whitespace is what Rust's ``str::trim`` removes (Unicode ``White_Space``), which leaves the
  ASCII information separators U+001C to U+001F that Python's ``str.strip`` removes.
* An integer is first read as a JSON integer from the untrimmed text; over 4,300 digits that
  reading fails as too large (``int_parsing_size``). Otherwise the text is cleaned (trimmed,
  a ``+`` dropped, leading zeros and the underscores among them skipped, ``.0+`` cut off,
  single inner underscores removed) and read again as a JSON integer. Text the cleaning does
  not change is refused. The cleaning skips a ``-`` met after leading zeros (``"0-1"`` is
  ``-1``), as pydantic-core does.
* A float is Rust's ``f64`` grammar on the trimmed text; failing that, the untrimmed text
  without its underscores (none at either end, none doubled), in the same grammar.

Recorded on 3.9.1 and checked against its validator string by string.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "MAX_INT_DIGITS",
    "RUST_WHITESPACE",
    "NumberTextError",
    "float_from_text",
    "int_from_text",
    "rust_trim",
]

RUST_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""The characters with Unicode's ``White_Space`` property: what Rust's ``trim`` removes."""

MAX_INT_DIGITS: Final = 4300
"""The most digits an integer string may have (CPython's own limit, which pydantic mirrors)."""

_JSON_INT: Final = re.compile(r"-?(0|[1-9][0-9]*)")
_RUST_FLOAT: Final = re.compile(
    r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)


class NumberTextError(ValueError):
    """The text is not a number of the kind asked for; ``kind`` is pydantic's error type."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def rust_trim(text: str) -> str:
    """``text`` without the leading and trailing whitespace Rust's ``str::trim`` removes."""
    return text.strip(RUST_WHITESPACE)


def _without_underscores(text: str) -> str | None:
    """``text`` with its underscores removed, when they are all single and inner."""
    if "_" not in text or text[0] == "_" or text[-1] == "_" or "__" in text:
        return None
    return text.replace("_", "")


def _json_int(text: str) -> int | None:
    """``text`` read as a JSON integer; ``None`` when it is not one."""
    match = _JSON_INT.fullmatch(text)
    if match is None or len(match[1]) > MAX_INT_DIGITS:
        return None
    return int(text)


def _skip_leading_zeros(text: str) -> str | None:
    """pydantic-core's leading-zero skip: ``None`` when the text cannot be a number."""
    if not text or text[0] not in "0123456789-":
        return None
    if text[0] != "0":
        return text
    for index in range(1, len(text)):
        char = text[index]
        if char in "0_":
            continue
        if char in "123456789-":
            return text[index:]
        if char == ".":
            return text[index - 1 :]
        return None
    return text[-1]


def _cleaned(original: str) -> str | None:
    """The integer text pydantic-core reads after its first reading failed, or ``None``."""
    text = rust_trim(original)
    if text.startswith("+"):
        if text.startswith("+-"):
            return None
        text = text[1:]
    sign = ""
    if text.startswith("-"):
        if text.startswith(("--", "-+")):
            return None
        sign, text = "-", text[1:]
    skipped = _skip_leading_zeros(text)
    if skipped is None:
        return None
    text = skipped
    dot = text.find(".")
    if dot != -1:
        decimals = text[dot + 1 :]
        if decimals and decimals.strip("0") == "":
            text = text[:dot]
    plain = _without_underscores(text)
    if plain is not None:
        return sign + plain
    if not sign and len(text) == len(original):
        return None  # nothing was cleaned: the first reading's failure stands
    return sign + text


def int_from_text(text: str) -> int:
    """An integer from a string, or :class:`NumberTextError` (``int_parsing[_size]``)."""
    first = _JSON_INT.match(text)
    if first is not None and len(first[1]) > MAX_INT_DIGITS:
        raise NumberTextError("int_parsing_size")
    if first is not None and first.end() == len(text):
        return int(text)
    cleaned = _cleaned(text)
    value = None if cleaned is None else _json_int(cleaned)
    if value is None:
        raise NumberTextError("int_parsing")
    return value


def float_from_text(text: str) -> float:
    """A float from a string, or :class:`NumberTextError` (``float_parsing``)."""
    trimmed = rust_trim(text)
    if _RUST_FLOAT.fullmatch(trimmed):
        return float(trimmed)
    plain = _without_underscores(text)
    if plain is not None and _RUST_FLOAT.fullmatch(plain):
        return float(plain)
    raise NumberTextError("float_parsing")

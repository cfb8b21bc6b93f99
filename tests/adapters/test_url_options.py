"""Adapter options read from a URL's query string (``flowrun_adapters._url_options``)."""

from __future__ import annotations

import pytest
from flowrun_adapters._url_options import url_flag, url_float, url_int, url_text
from hypothesis import given
from hypothesis import strategies as st

TRUE_WORDS = frozenset({"1", "true", "yes", "on", "t", "y"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "f", "n"})


@given(st.sampled_from(sorted(TRUE_WORDS | FALSE_WORDS)), st.sampled_from([str.upper, str.title]))
def test_a_flag_word_reads_in_any_case(word: str, case: object) -> None:
    spelled = case(word)  # type: ignore[operator]
    assert url_flag("read_only", f" {spelled} ") is (word in TRUE_WORDS)


@given(st.text().filter(lambda t: t.strip().lower() not in TRUE_WORDS | FALSE_WORDS))
def test_anything_else_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        url_flag("read_only", text)
    assert str(caught.value) == (
        f"URL option read_only must be true or false (or 1/0, yes/no, on/off), not {text!r}"
    )


def test_numbers_name_their_option() -> None:
    assert url_int("pool_max", "16") == 16
    assert url_float("busy_timeout", "2.5") == 2.5
    assert url_text("schema", "x y") == "x y"
    with pytest.raises(ValueError, match=r"^URL option pool_max must be an integer, not 'many'$"):
        url_int("pool_max", "many")
    with pytest.raises(ValueError, match=r"^URL option checkpoint_every must be an integer"):
        url_int("checkpoint_every", "1.5")
    with pytest.raises(ValueError, match=r"^URL option busy_timeout must be a number, not 'abc'$"):
        url_float("busy_timeout", "abc")

"""Property-based checks of number and quote normalisation (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from briefgen._grounding import normalize_text, parse_quantity, supports_quote, supports_value

counts = st.integers(min_value=0, max_value=10**12)


@given(counts)
def test_grouped_and_plain_digits_are_one_number(n: int) -> None:
    assert parse_quantity(f"{n:,}") == parse_quantity(str(n))
    assert parse_quantity(f"{n:,}").value == Decimal(n)  # type: ignore[union-attr]


@given(counts, counts)
def test_a_different_number_never_verifies(n: int, m: int) -> None:
    sentence = f"Officials said {n:,} people had left."
    assert supports_value(f"{m:,}", [sentence]) == (n == m)


@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=9))
def test_millions_match_their_digits(whole: int, tenth: int) -> None:
    sentence = f"More than {whole}.{tenth} million Afghans were hosted."
    assert supports_value(f"{whole * 1_000_000 + tenth * 100_000:,}", [sentence])
    assert supports_value(f"{whole}.{tenth}m", [sentence])


words = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=8
)


@given(st.lists(words, min_size=1, max_size=12), st.sampled_from([" ", "  ", "\n", "\t "]))
def test_quotes_match_whatever_the_whitespace(tokens: list[str], gap: str) -> None:
    sentence = "“" + " ".join(tokens) + ",” she said."
    assert supports_quote(gap.join(tokens), [sentence])


@given(st.text(max_size=60))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert not any(ch in once for ch in "“”‘’–—")

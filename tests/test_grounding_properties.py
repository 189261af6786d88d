"""Property-based checks of number and quote normalisation (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from briefgen._grounding import (
    normalize_text,
    parse_quantity,
    qualifier_problem,
    supports_quote,
    supports_value,
)

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


small = st.integers(min_value=1, max_value=999)
hedges = st.sampled_from(["nearly", "more than", "at least", "about", "over", "around", "some"])


@given(small, small, st.sampled_from(["between {} and {}", "{} to {}", "{}-{}"]))
def test_ranges_parse_to_both_ends_and_only_match_themselves(a: int, b: int, form: str) -> None:
    assume(a != b)
    low, high = sorted((a, b))
    sentence = "Officials said " + form.format(low, high) + " million had left."
    value = f"{low} to {high} million"
    parsed = parse_quantity(value)
    assert parsed is not None
    assert (parsed.value, parsed.upper) == (Decimal(low * 10**6), Decimal(high * 10**6))
    assert supports_value(value, [sentence])
    assert not supports_value(f"{low} to {high + 1} million", [sentence])
    assert not supports_value(f"{high} million", [sentence])


@given(counts, hedges)
def test_a_hedge_is_required_exactly_as_written(n: int, hedge: str) -> None:
    sentence = f"The ministry said {hedge} {n:,} people had left."
    assert qualifier_problem(f"{n:,}", None, [sentence]) is not None
    assert qualifier_problem(f"{n:,}", hedge, [sentence]) is None
    assert qualifier_problem(f"{hedge} {n:,}", None, [sentence]) is None
    other = "fewer than" if hedge != "fewer than" else "nearly"
    assert qualifier_problem(f"{n:,}", other, [sentence]) is not None


marks = st.sampled_from(["“”", '""', "‘’", "''", "«»"])
dashes = st.sampled_from(["-", "–", "—", "‒", "−"])


@given(st.lists(words, min_size=2, max_size=8), marks, dashes, dashes)
def test_quotes_match_whatever_the_quote_marks_and_dashes(
    tokens: list[str], mark: str, dash_in_text: str, dash_in_quote: str
) -> None:
    sentence = f"{mark[0]}{tokens[0]} {dash_in_text} {' '.join(tokens[1:])}{mark[1]} he said."
    quote = f"{tokens[0]} {dash_in_quote} {' '.join(tokens[1:])}"
    assert supports_quote(quote, [sentence])
    assert not supports_quote(quote + " indeed", [sentence])

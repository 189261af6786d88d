"""Matching numbers, quotes and names against the sentences an item cites."""

from __future__ import annotations

from decimal import Decimal

import pytest

from briefgen._grounding import (
    Quantity,
    find_quantities,
    mentions,
    normalize_text,
    parse_quantity,
    supports_quote,
    supports_value,
)

S1 = (
    "ISLAMABAD: Pakistan’s State Minister for Interior, Talal Chaudhry, said on Friday "
    "907,391 Afghans had been deported since the government launched an expulsion drive."
)
S7 = (
    "“Pakistan has sent back 907,351 people in a dignified manner to Afghanistan as of "
    "today, this includes both the first and second phases,” Chaudhry told reporters."
)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("907,391", Quantity(Decimal(907391))),
        ("907391", Quantity(Decimal(907391))),
        ("2.8 million", Quantity(Decimal(2800000))),
        ("2.8m", Quantity(Decimal(2800000))),
        ("84%", Quantity(Decimal(84), percent=True)),
        ("84 per cent", Quantity(Decimal(84), percent=True)),
        ("half a million", Quantity(Decimal(500000))),
        ("five million", Quantity(Decimal(5000000))),
    ],
)
def test_a_number_parses_however_it_is_written(written: str, expected: Quantity) -> None:
    assert parse_quantity(written) == expected


def test_close_digits_do_not_verify() -> None:
    assert supports_value("907,391", [S1])
    assert not supports_value("907,351", [S1])
    assert supports_value("907,351", [S7])


def test_a_value_verifies_against_any_spelling_in_the_sentence() -> None:
    sentence = "Pakistan has hosted more than 2.8 million Afghan nationals."
    assert supports_value("2,800,000", [sentence])
    assert supports_value("2.8 million", [sentence])
    assert not supports_value("2.9 million", [sentence])


def test_a_percentage_is_not_a_count() -> None:
    assert not supports_value("84%", ["Officials counted 84 people at the border."])
    assert supports_value("84 per cent", ["Gallup found that 84% of the respondents approved."])


def test_text_without_a_number_supports_nothing() -> None:
    assert parse_quantity("many") is None
    assert not supports_value("many", [S1])
    assert find_quantities("a significant number") == []


@pytest.mark.parametrize(
    "quote",
    [
        "Pakistan has sent back 907,351 people in a dignified manner",
        '"Pakistan has sent back 907,351 people in a dignified manner"',
        "Pakistan  has sent back\n907,351 people",
        "Pakistan has sent back ... both the first and second phases",
    ],
)
def test_quotes_match_across_quote_marks_whitespace_and_ellipses(quote: str) -> None:
    assert supports_quote(quote, [S7])


@pytest.mark.parametrize(
    "quote",
    [
        "Pakistan has returned 907,351 people in a dignified manner",  # paraphrase
        "both the first and second phases ... Pakistan has sent back",  # parts out of order
        "",
    ],
)
def test_paraphrases_and_reordered_parts_do_not_match(quote: str) -> None:
    assert not supports_quote(quote, [S7])


def test_normalisation_folds_curly_quotes_and_dashes() -> None:
    assert normalize_text("‘Illegal Foreigners’ — “plan”…") == "'Illegal Foreigners' - \"plan\"..."


def test_names_match_ignoring_case_and_apostrophes() -> None:
    assert mentions(S1, ["talal chaudhry"])
    assert mentions("Pakistan’s plan", ["Pakistan's"])
    assert not mentions(S1, ["Mumtaz Zahra Baloch"])

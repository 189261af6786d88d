"""Matching what a model claims against the sentences it cites: numbers, quotes, names.

Pure functions only. Text from articles and models is data here: it is normalised and
compared, never turned into a regular expression or a template.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_QUOTE_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
    }
)


def normalize_text(text: str) -> str:
    """Text with quotes, dashes, ellipses and whitespace in one canonical form."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTE_MAP)
    return re.sub(r"\s+", " ", text).strip()


# --- numbers ----------------------------------------------------------------------------

_SCALES = {
    "hundred": Decimal(100),
    "thousand": Decimal(1_000),
    "k": Decimal(1_000),
    "lakh": Decimal(100_000),
    "million": Decimal(1_000_000),
    "m": Decimal(1_000_000),
    "mn": Decimal(1_000_000),
    "crore": Decimal(10_000_000),
    "billion": Decimal(1_000_000_000),
    "bn": Decimal(1_000_000_000),
    "b": Decimal(1_000_000_000),
}
_UNITS: dict[str, int | Decimal] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "a": 1,
    "an": 1,
    "half": Decimal("0.5"),
    "dozen": 12,
}
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_WORD = "|".join(sorted((w for w in _UNITS if w not in {"a", "an", "half"}), key=len, reverse=True))
_SCALE = r"hundred|thousand|lakh|million|crore|billion|mn|bn|m|k|b"
_PERCENT = r"%|\s?per\s?cent\b|\s?percent\b"
_NUMBER = re.compile(
    rf"(?<![\w.,])(?P<digits>{_DIGITS})(?:\s?(?P<scale>{_SCALE})\b)?(?P<percent>{_PERCENT})?"
    rf"|\b(?P<words>half(?:\s+an?)?|an?|(?:{_WORD})(?:[\s-]+(?:{_WORD}))*)\b"
    rf"(?:\s+(?P<wscale>hundred|thousand|million|billion)\b)?(?P<wpercent>{_PERCENT})?",
    re.IGNORECASE,
)


@dataclass(frozen=True, order=True)
class Quantity:
    """A number as a value, with whether it was a percentage."""

    value: Decimal
    percent: bool = False

    def __str__(self) -> str:
        text = f"{self.value.normalize():,f}"
        return text + ("%" if self.percent else "")


def _words_value(words: str) -> Decimal | None:
    if words.lower().startswith("half"):
        return Decimal("0.5")
    total = Decimal(0)
    current = Decimal(0)
    seen = False
    for token in re.split(r"[\s-]+", words.lower()):
        if token in {"and", ""}:
            continue
        if token in _UNITS:
            current += Decimal(_UNITS[token])
            seen = True
        elif token in _SCALES:
            current = (current or Decimal(1)) * _SCALES[token]
            total += current
            current = Decimal(0)
        else:
            return None
    return total + current if seen else None


def find_quantities(text: str) -> list[Quantity]:
    """Every number in `text`, however it is written (907,391; 2.8 million; 84 per cent)."""
    found: list[Quantity] = []
    for match in _NUMBER.finditer(normalize_text(text)):
        if match.group("digits"):
            try:
                value = Decimal(match.group("digits").replace(",", ""))
            except InvalidOperation:  # pragma: no cover - the pattern only admits digits
                continue
            scale = match.group("scale")
            if scale:
                value *= _SCALES[scale.lower()]
            found.append(Quantity(value, bool(match.group("percent"))))
            if scale:  # "2.8m" also supports a figure written "2.8"
                found.append(Quantity(value / _SCALES[scale.lower()]))
        else:
            words = match.group("words")
            wscale = match.group("wscale")
            if not wscale and re.fullmatch(r"half( an?)?|an?|dozen", words.lower()):
                continue
            parsed = _words_value(words)
            if parsed is None:
                continue
            if wscale:
                parsed *= _SCALES[wscale.lower()]
            found.append(Quantity(parsed, bool(match.group("wpercent"))))
    return found


def parse_quantity(value: str) -> Quantity | None:
    """The single number a figure's `value` states, or None if it states none or several."""
    quantities = find_quantities(value)
    if not quantities:
        return None
    first = quantities[0]
    # "2.8 million" yields 2,800,000 and its mantissa 2.8; the first is what was meant.
    if any(q != first for q in quantities[1:]) and len(find_numbers_raw(value)) > 1:
        return None
    return first


def find_numbers_raw(text: str) -> list[str]:
    """The number expressions in `text`, as written (used to spot uncited numbers in prose)."""
    return [
        m.group(0).strip()
        for m in _NUMBER.finditer(normalize_text(text))
        if m.group("digits")
        or m.group("wscale")
        or not re.fullmatch(r"half( an?)?|an?|dozen", (m.group("words") or "").lower())
    ]


def supports_value(value: str, sentences: Iterable[str]) -> bool:
    """Whether the number in `value` is stated in one of `sentences` (907,351 ≠ 907,391)."""
    wanted = parse_quantity(value)
    if wanted is None:
        return False
    return any(wanted in find_quantities(sentence) for sentence in sentences)


# --- quotes and names -------------------------------------------------------------------


def _strip_outer_quotes(text: str) -> str:
    return text.strip().strip("\"'").strip()


def supports_quote(quote: str, sentences: Iterable[str]) -> bool:
    """Whether `quote` is verbatim in the cited sentences; an ellipsis matches part by part."""
    haystack = normalize_text(" ".join(sentences))
    parts = [_strip_outer_quotes(p) for p in normalize_text(quote).split("...")]
    parts = [p for p in parts if p]
    if not parts:
        return False
    position = 0
    for part in parts:
        found = haystack.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def mentions(text: str, names: Iterable[str]) -> bool:
    """Whether any of `names` occurs in `text`, ignoring case, quotes, dashes and spacing."""
    folded = normalize_text(text).casefold()
    return any(name.strip() and normalize_text(name).casefold() in folded for name in names)

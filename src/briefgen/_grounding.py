"""Matching what a model claims against the sentences it cites: numbers, quotes, names.

Pure functions only. Text from articles and models is data here: it is normalised and
compared, never turned into a regular expression or a template.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

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


@lru_cache(maxsize=131_072)
def normalize_text(text: str) -> str:
    """Text with quotes, dashes, ellipses and whitespace in one canonical form (cached: the
    same sentences are checked item after item)."""
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


# Hedges a sentence can put right before a number. A figure must carry the text's own hedge
# as its qualifier: "nearly 800,000" reported as a bare 800,000 would overstate it.
_HEDGES = (
    r"nearly|almost|about|around|approximately|approx\.?|roughly|some|over|under|below|above|"
    r"(?:just|well) (?:over|under|above|below)|more than|less than|fewer than|no (?:more|fewer|"
    r"less) than|at least|at most|up to|close to|upwards of|in excess of|(?:an )?estimated|"
    r"as (?:many|much|few|little) as|between|circa|c\."
)
_HEDGE_AT_END = re.compile(rf"(?:^|(?<=[\s(]))(?P<hedge>{_HEDGES})\s*$", re.IGNORECASE)
_HEDGE_AT_START = re.compile(rf"^\s*(?P<hedge>{_HEDGES})\s+(?=\S)", re.IGNORECASE)
# What joins the two ends of a range: "4-5 million", "three to four", "between 4 and 5 million".
_RANGE_JOIN = re.compile(r"^\s*(?:-|to)\s*$|^\s+and\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A number, or a range of numbers, as a value with whether it was a percentage."""

    value: Decimal
    percent: bool = False
    upper: Decimal | None = None  # set for a range: `value` is its low end

    def __str__(self) -> str:
        text = f"{self.value.normalize():,f}"
        if self.upper is not None:
            text += f"–{self.upper.normalize():,f}"
        return text + ("%" if self.percent else "")


@dataclass(frozen=True)
class _Hit:
    """One number expression found in a text, with where it stands."""

    start: int
    end: int
    number: Decimal  # as written, before the scale word
    scale: Decimal | None  # "million" in "2.8 million"
    percent: bool
    upper: Decimal | None = None  # for a range, its high end (scaled)
    in_words: bool = False

    @property
    def quantity(self) -> Quantity:
        return Quantity(self.number * (self.scale or 1), self.percent, self.upper)

    def quantities(self) -> list[Quantity]:
        """What this expression states; "2.8m" also supports a figure written "2.8"."""
        if self.scale is None or self.upper is not None or self.in_words:
            return [self.quantity]
        return [self.quantity, Quantity(self.number, self.percent)]


def _words_value(words: str) -> Decimal | None:
    if words.lower().startswith("half"):
        return Decimal("0.5")
    total = Decimal(0)
    current = Decimal(0)
    seen = False
    for token in re.split(r"[\s-]+", words.lower()):
        if token in {"and", ""}:
            continue
        if token == "dozen":  # "two dozen" is 24, not 14
            current = (current or Decimal(1)) * 12
            seen = True
        elif token in _UNITS:
            current += Decimal(_UNITS[token])
            seen = True
        elif token in _SCALES:
            current = (current or Decimal(1)) * _SCALES[token]
            total += current
            current = Decimal(0)
        else:
            return None
    return total + current if seen else None


def _single(match: re.Match[str]) -> _Hit | None:
    if match.group("digits"):
        try:
            number = Decimal(match.group("digits").replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the pattern only admits digits
            return None
        scale = match.group("scale")
        percent = bool(match.group("percent"))
    else:
        words, scale = match.group("words"), match.group("wscale")
        if not scale and re.fullmatch(r"half( an?)?|an?|dozen", words.lower()):
            return None
        parsed = _words_value(words)
        if parsed is None:
            return None
        number, percent = parsed, bool(match.group("wpercent"))
    factor = _SCALES[scale.lower()] if scale else None
    return _Hit(match.start(), match.end(), number, factor, percent, in_words=not match["digits"])


def _range(text: str, low: _Hit, high: _Hit, bare: bool) -> _Hit | None:
    """`low` and `high` as one range, if the text joins them as one ("four to five million").

    `bare`: the text is a figure's value with its "between" moved to the qualifier, so a
    leading "four and five million" is a range too.
    """
    join = text[low.end : high.start]
    if not _RANGE_JOIN.match(join):
        return None
    before = text[: low.start].rstrip().casefold()
    between = before.endswith("between") or (bare and not before)
    if join.strip().casefold() == "and" and not between:
        return None
    if join.strip().casefold() == "to" and before.endswith("from"):
        return None  # "rose from 500 to 600" is a change, not a range
    if (low.percent and not high.percent) or (low.scale and low.scale != high.scale):
        return None
    scale = high.scale or Decimal(1)
    start, end = low.number * scale, high.number * scale
    if start >= end:
        return None  # "2023-24", "11-01": not a range of amounts
    return _Hit(low.start, high.end, low.number, high.scale, high.percent, end)


# Quantities written as words of amount, and the range each is read as: a figure may be
# "a few dozen" (it is verified like any other value, and shown as written), and code
# compares and adds it by this range. A dozen is 12, a score 20 and half a dozen 6; "a
# couple" is two of a unit, "a few" two to five, "several" three to nine, and a further
# scale multiplies ("a few hundred thousand" is 200,000–500,000); a plural unit ("dozens",
# "hundreds of thousands") is two of it up to the next unit. ("Half a million" is a number,
# 500,000, read as such.)
_VAGUE_UNITS = {
    "dozen": 12,
    "score": 20,
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
}
_VAGUE = re.compile(
    r"\b(?:(?P<tens>tens) of (?P<tunit>thousands|millions|billions)"
    r"|(?P<hundreds>hundreds) of (?P<hunit>thousands|millions|billions)"
    r"|(?P<few>a few|several|a couple(?: of)?) (?P<funit>dozen|hundred|thousand|million|billion)"
    r"(?: (?P<fscale>thousand|million|billion))?"
    r"|(?:half a |a half[- ])(?P<half>dozen)"
    r"|(?P<plural>dozens|scores(?= of|\s*$)|hundreds|thousands|millions|billions)"
    r"|(?P<handful>a handful)"
    r"|(?P<one>a (?:dozen|score)))\b",
    re.IGNORECASE,
)


def _vague(match: re.Match[str]) -> tuple[Decimal, Decimal]:
    """The range a vague amount is read as (low, high), from the table above."""
    g = {k: (v.lower() if v else v) for k, v in match.groupdict().items()}
    if g["one"]:
        n = Decimal(_VAGUE_UNITS[g["one"].split()[1]])
        return n, n
    if g["half"]:
        return Decimal(6), Decimal(6)
    if g["handful"]:
        return Decimal(2), Decimal(5)
    if g["few"]:
        unit = Decimal(_VAGUE_UNITS[g["funit"]]) * _VAGUE_UNITS.get(g["fscale"] or "", 1)
        low, high = {"a few": (2, 5), "several": (3, 9)}.get(g["few"], (2, 2))
        return unit * low, unit * high
    if g["plural"]:
        unit = Decimal(_VAGUE_UNITS[g["plural"].rstrip("s")])
        upper = {12: 99, 20: 99}.get(int(unit), int(unit) * 10 - 1)
        return unit * 2, Decimal(upper)
    unit = Decimal(_VAGUE_UNITS[(g["tunit"] or g["hunit"]).rstrip("s")])
    factor = 10 if g["tens"] else 100
    return unit * factor * 2, unit * factor * 10 - 1


def _scan(text: str, bare: bool = False) -> list[_Hit]:
    """Every number expression in (normalised) `text`, ranges joined into one; amounts in
    words ("dozens", "a few hundred") as the range they are read as."""
    vague = [
        _Hit(m.start(), m.end(), low, None, False, high if high != low else None, True)
        for m in _VAGUE.finditer(text)
        for low, high in [_vague(m)]
    ]
    if vague:  # blank them out, so "a few hundred" is not also read as "a" and "hundred"
        masked = list(text)
        for hit in vague:
            masked[hit.start : hit.end] = " " * (hit.end - hit.start)
        text = "".join(masked)
    found = [h for m in _NUMBER.finditer(text) if (h := _single(m)) is not None]
    hits: list[_Hit] = []
    for hit in sorted([*found, *vague], key=lambda h: h.start):
        joined = _range(text, hits[-1], hit, bare) if hits and hits[-1].upper is None else None
        if joined is not None:
            hits[-1] = joined
        else:
            hits.append(hit)
    return hits


def find_quantities(text: str) -> list[Quantity]:
    """Every number in `text`, however it is written (907,391; 2.8 million; 84 per cent)."""
    return list(_quantities(text))


@lru_cache(maxsize=131_072)
def _quantities(text: str) -> tuple[Quantity, ...]:
    return tuple(q for hit in _scan(normalize_text(text)) for q in hit.quantities())


@lru_cache(maxsize=256)
def stated_quantities(sources: tuple[str, ...]) -> frozenset[Quantity]:
    """Every number `sources` state; cached, as every prose field is checked against the same
    article (or corpus) sentences."""
    return frozenset(q for source in sources for q in find_quantities(source))


def find_numbers_raw(text: str) -> list[str]:
    """The number expressions in `text`, as written (used to spot uncited numbers in prose)."""
    return list(_numbers_raw(text))


@lru_cache(maxsize=65_536)
def _numbers_raw(text: str) -> tuple[str, ...]:
    normal = normalize_text(text)
    return tuple(normal[hit.start : hit.end] for hit in _scan(normal))


def split_qualifier(value: str) -> tuple[str | None, str]:
    """A leading hedge and the number it hedges: "more than 1,000" → ("more than", "1,000")."""
    normal = normalize_text(value)
    match = _HEDGE_AT_START.match(normal)
    if match is None:
        return None, normal
    return match["hedge"], normal[match.end() :]


def parse_quantity(value: str) -> Quantity | None:
    """The single number or range a figure's `value` states, or None if none or several."""
    hits = _scan(split_qualifier(value)[1], bare=True)
    return hits[0].quantity if len(hits) == 1 else None


def supports_value(value: str, sentences: Iterable[str]) -> bool:
    """Whether the number in `value` is stated in one of `sentences` (907,351 ≠ 907,391)."""
    wanted = parse_quantity(value)
    return wanted is not None and any(wanted in find_quantities(s) for s in sentences)


def qualifier_problem(value: str, qualifier: str | None, sentences: Iterable[str]) -> str | None:
    """Why `qualifier` misstates the hedge the sentences put on `value`, or None if it is right.

    The qualifier must be the words right before the number in a cited sentence, and a number
    the text hedges ("nearly 800,000") must not be reported bare.
    """
    lead, rest = split_qualifier(value)
    wanted = parse_quantity(rest)
    given = " ".join(normalize_text(q) for q in (qualifier, lead) if q and q.strip()).casefold()
    hedges: list[str | None] = []
    for sentence in sentences:
        normal = normalize_text(sentence)
        for hit in _scan(normal):
            if wanted is not None and wanted in hit.quantities():
                before = normal[: hit.start].rstrip()
                if given:
                    if re.search(rf"(?:^|\W){re.escape(given)}$", before.casefold()):
                        return None
                else:
                    found = _HEDGE_AT_END.search(before)
                    hedges.append(found["hedge"].casefold() if found else None)
    if given:
        return (
            f"qualifier {given!r} is not what the cited sentence writes right before {rest!r}; "
            "copy the text's own words"
        )
    if hedges and None not in hedges:
        return f"the cited sentence says {hedges[0]!r} {rest}; give {hedges[0]!r} as the qualifier"
    return None


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


def mentions(text: str, names: Iterable[str], pairs: Iterable[tuple[str, str]] = ()) -> bool:
    """Whether any of `names` is named in `text`, as whole words, ignoring case, "the",
    possessives ("Nations’"), hyphens, quotes and spacing; `pairs` (acronym, expansion) that
    the article declares count as one name ("UN" is "United Nations")."""
    tokens, padded, found = _spellings(text, tuple(pairs))
    for name in names:
        stripped = _undot(name.strip())
        if stripped.isupper() and len(stripped) <= 8 and " " not in stripped:
            if stripped in tokens or any(stripped == a for a, _ in found):
                return True
            continue  # an acronym is matched in capitals only
        wanted = re.sub(r"^the ", "", _canon(name))
        if wanted and any(f" {wanted} " in v for v in padded):
            return True
    return False


def _undot(text: str) -> str:
    """Dotted initials as one word: "U.N." is "UN", "U.S." is "US"."""
    return re.sub(r"\b(?:[A-Z]\.){2,}", lambda m: m[0].replace(".", ""), text)


@lru_cache(maxsize=65_536)
def _spellings(
    text: str, pairs: tuple[tuple[str, str], ...]
) -> tuple[frozenset[str], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The words of `text` as written; `text` as names are compared — once as written, once
    more for each declared acronym swapped with its expansion — padded with spaces; and the
    declared pairs it uses."""
    tokens = frozenset(re.findall(r"\w+", _undot(normalize_text(text))))
    # An acronym counts only written in capitals: "who" is not WHO, "is" is not IS.
    found = [(a, e) for a, e in pairs if a in tokens or _canon(e) in _canon(text)]
    variants = {_canon(text)}
    for acronym, expansion in found:
        for v in list(variants):
            variants.add(_swap(v, _canon(acronym), _canon(expansion)))
            variants.add(_swap(v, _canon(expansion), _canon(acronym)))
    return tokens, tuple(f" {v} " for v in variants), tuple(found)


@lru_cache(maxsize=131_072)
def _canon(text: str) -> str:
    """`text` as names are compared: folded case, dotted initials joined, "&" as "and",
    no possessive endings, hyphens and punctuation as spaces."""
    folded = _undot(normalize_text(text)).replace("&", " and ").casefold()
    folded = re.sub(r"(?<=\w)'s\b|(?<=s)'(?!\w)", "", folded)
    folded = re.sub(r"[^\w]+", " ", folded)
    folded = re.sub(r"\b(\w) (?=\w\b)", r"\1", folded)  # "J. D. Vance" is "JD Vance"
    return re.sub(r"\s+", " ", folded).strip()


def _swap(text: str, old: str, new: str) -> str:
    if not old or not new:
        return text
    return f" {text} ".replace(f" {old} ", f" {new} ").strip()


# An expansion and its acronym in brackets: capitalised words, with up to two small words
# between them ("Democratic Republic of the Congo (DRC)"). It starts at a capital, so a
# long line without one is passed over at once.
_CONNECTOR = r"(?:of|for|and|the|on|in|de|des|du|la|le|&)"
_DECLARED = re.compile(
    rf"(?<![\w’'-])((?:[A-Z][\w’'-]*[\s,]+(?:{_CONNECTOR}\s+){{0,2}}){{1,8}})"
    r"\((?P<acronym>[A-Z]{2,8})\)"
)


@lru_cache(maxsize=256)
def declared_acronyms(text: str) -> tuple[tuple[str, str], ...]:
    """The (acronym, expansion) pairs `text` declares: "Tehreek-i-Taliban Pakistan (TTP)",
    "the United Nations’ (UN) refugee agency". The expansion is the shortest run of words
    before the brackets whose capitalised parts spell the acronym — or spell it but for a
    closing "and ..." it leaves out ("Centers for Disease Control and Prevention (CDC)")."""
    pairs = []
    for match in _DECLARED.finditer(normalize_text(text)):
        acronym = match["acronym"]
        words = re.findall(r"[\w’'&-]+", match.group(1))
        for start in range(len(words) - 1, -1, -1):
            run = words[start:]
            cut = run[: run.index("and")] if "and" in run[1:] else run
            if acronym in {_initials(run), _initials(cut)} and run[0][:1].isupper():
                pairs.append((acronym, " ".join(run)))
                break
    return tuple(pairs)


def _initials(words: Sequence[str]) -> str:
    return "".join(part[0] for w in words for part in w.split("-") if part[:1].isupper())


def echoes(text: str, source: str, words: int = 4) -> bool:
    """Whether `text` repeats a run of `words` consecutive words of `source`."""

    def runs(s: str) -> set[tuple[str, ...]]:
        tokens = re.findall(r"\w+", normalize_text(s).casefold())
        return {tuple(tokens[i : i + words]) for i in range(len(tokens) - words + 1)}

    return bool(runs(text) & runs(source))


# --- dates ----------------------------------------------------------------------------------

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def states_date(text: str, iso: str, year: str | None = None) -> bool:
    """Whether `text` states the date `iso` (2024, 2024-11 or 2024-11-07) at its precision.

    A month or day must carry its own year ("November 2024", "7 November, 2024") — a month
    and a year written apart date different things — or none, when `year` stands in for
    the year the text leaves implicit ("on November 7"), such as the publication year.
    """
    folded = normalize_text(text).casefold()
    if iso in folded:
        return True
    parts = iso.split("-")
    if len(parts) == 1:
        return bool(re.search(rf"(?<!\d){parts[0]}(?!\d)", folded))
    name = _MONTHS[int(parts[1]) - 1]
    short = name[:3] + ("|sept" if name == "september" else "")
    month = rf"\b(?:{name}|{short})\b\.?"
    number = r"\d{1,2}" if len(parts) == 2 else rf"0?{int(parts[2])}"
    day = rf"{number}(?:st|nd|rd|th)?\b"
    when = rf"(?:{month},?\s*(?:{day},?\s*)?|\b{day}\s+(?:of\s+)?{month},?\s*)"
    if len(parts) == 2:  # "March 2020", "March and April 2020"
        more = rf"(?:(?:and|or|to|-|–)\s*(?:{_MONTH_NAMES})\b\.?,?\s*)?"
        when = rf"(?:{when}|{month},?\s*{more})"
    if re.search(rf"{when}(?:of\s+)?{parts[0]}(?!\d)", folded):
        return True
    # The year left implicit: the month (and day) followed by no year at all.
    return parts[0] == year and bool(re.search(rf"{when}(?!\s*,?\s*(?:of\s+)?\d{{4}})", folded))


_MONTH_NAMES = "|".join(
    sorted({*_MONTHS, *(m[:3] for m in _MONTHS), "sept"}, key=len, reverse=True)
)
# A date the text attaches to a state of things: "in November 2018", "as of March",
# "by the end of 2023", "on 5 March 2024" — not "since 2021" or "from May", starting points.
_DATED = re.compile(
    rf"\b(?:in|on|as of|as at|by|until|till|through|at the end of|by the end of|end of|"
    rf"during|for)\s+(?:(?:early|mid|late)[- ]?)?(?:(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+)?"
    rf"(?:(?P<month>{_MONTH_NAMES})\b\.?\s*(?:\d{{1,2}}(?:st|nd|rd|th)?\b,?\s*)?)?"
    rf"(?P<year>(?:19|20)\d\d)?(?!\d)",
)


def _clause_of(text: str, value: str) -> str:
    """The clause of `text` that holds the number `value` (split at dashes and semicolons;
    a comma often sets off the figure's own date: "In November 2018, the agency counted"),
    with phrases that date another thing in it left out."""
    wanted = parse_quantity(value)
    normal = normalize_text(text)
    for clause in re.split(r"\s+-{1,2}\s+|;|\s-\s", normal):
        if wanted is None or wanted not in find_quantities(clause):
            continue
        # What the figure is compared with is another figure's, with its own date: "down
        # from 5,000 in March", "up from 2,900 in 2022", "than in 2019".
        clause = _COMPARED.sub(" ", clause)
        clause = _OTHER_THING.sub(" ", clause)
        return _other_numbers_dates(clause, wanted)
    return ""


def _other_numbers_dates(clause: str, wanted: Quantity) -> str:
    """`clause` without the date phrases that stand right after another number ("5,000 in
    March", when the figure is 1,200): that date is the other number's."""
    out = clause
    for hit in reversed(_scan(clause)):
        if wanted in hit.quantities():
            continue
        rest = clause[hit.end :]
        date = _DATED.match(" " + rest.lstrip().casefold())
        if date and date.group(0).strip():
            start = hit.end + (len(rest) - len(rest.lstrip()))
            out = out[:start] + " " * (date.end() - 1) + out[start + date.end() - 1 :]
    return out


_COMPARED = re.compile(
    r"\b(?:(?:up|down|rising|falling|rose|fell)\s+)?(?:from|compared (?:with|to)|than|against)"
    r"\b(?:[^,;]|,(?=\d))*",  # to the clause's end; a comma inside "5,000" is no end
    re.IGNORECASE,
)


# "the record set in 1977", "a plan announced in May": the date is that thing's.
_OTHER_THING = re.compile(
    r"\b(?:\w+ed|set|built|held|opened|founded|previous|last|since|born)\s+"
    r"(?:in|on|by|during)\s+\S+(?:\s+\d{1,2},?)?(?:\s+\d{4})?",
    re.IGNORECASE,
)


def dates_claimed(text: str) -> list[tuple[str | None, int | None]]:
    """The (year, month) each date phrase of `text` gives a state of things, at the
    precision written: ("2018", 11) for "in November 2018", (None, 3) for "as of March"."""
    out = []
    for m in _DATED.finditer(normalize_text(text).casefold()):
        if not (m["month"] or m["year"]):
            continue
        month = None
        if m["month"]:
            name = m["month"].rstrip(".")
            month = next(i for i, full in enumerate(_MONTHS, 1) if full.startswith(name[:3]))
        out.append((m["year"], month))
    return out


def contradicts(text: str, iso: str, value: str | None = None) -> list[str]:
    """The dates `text` gives the figure `value` that `iso` is not (nor within): a figure
    the text dates "in November 2018" cannot hold as of 2019-08. Only a date in the same
    clause as the number counts, and not one that dates something else in it ("beating the
    record set in 1977"). Empty if the text dates nothing, or agrees."""
    year, month = iso[:4], int(iso[5:7]) if len(iso) >= 7 else None
    claims = dates_claimed(_clause_of(text, value) if value else text)

    def agrees(claim: tuple[str | None, int | None]) -> bool:
        c_year, c_month = claim
        if c_year and c_year != year:
            return False
        return not (c_month and month and c_month != month)

    if not claims or any(agrees(c) for c in claims):
        return []
    return [
        " ".join(filter(None, [_MONTHS[c[1] - 1].capitalize() if c[1] else None, c[0]]))
        for c in claims
    ]


# --- prose that is prose ----------------------------------------------------------------

# Atomic groups and possessive quantifiers: a model's "S1.S2.S3...." must not backtrack.
_ID_ONLY = re.compile(
    r"^(?:[\s\[\](),;.]|\band\b)*+(?:(?>S\d++|[\w-]+\.[AFPDS]\d++)(?:[\s\[\](),;.]|\band\b)*+)++$"
)
_PLACEHOLDER = frozenset({"null", "none", "n/a", "na", "undefined", "nan", "true", "false", "tbd"})
# A JSON fragment: braces, a key's colon, or a string that opens on a quote and a comma —
# not quoted words in a list ('calls it "cruel", "unlawful"').
_JSON = re.compile(r"[{}]|\"\s*:|^\s*\"?\s*,\s*\"")
_PROMPT_ECHO = re.compile(
    r"^\s*Article [\w-]+ \(|\[S\d+\]|\bsentences:\s*$|From the page, not the sentences"
)
# "U.S.", "U.K.", "e.g.": an abbreviation of two or three dotted letters is one word.
_DOTTED = re.compile(r"(?<![A-Za-z]\.)\b(?:[A-Za-z]\.){2,3}(?![A-Za-z]\.)")


@lru_cache(maxsize=256)
def proper_words(text: str) -> frozenset[str]:
    """Words `text` writes capitalised where a sentence does not begin: its names."""
    return frozenset(
        part
        for line in re.split(r"(?<=[.!?])\s+|\n", normalize_text(text))
        for m in re.finditer(r"(?<=\S)\s+\W*([A-Z][\w-]*)", line)
        for part in m[1].split("-")
        if part[:1].isupper()
    )


@lru_cache(maxsize=65_536)
def unreadable(text: str, sentence: bool = False, names: str | None = None) -> str | None:
    """Why model-written `text` is not readable prose of the kind asked for — an id ("S1"),
    a JSON fragment (', "type"'), a run of letters and dots ("S.S.S.S."), an echo of the
    prompt's own header, or, where a sentence is asked for (a stance, a claim), a string of
    names with no word in lower case ("Kakar Anwaar ul Haq") — or None if it reads as words.
    Given the article's text as `names`, a capitalised word counts as a name only if the
    article writes it as one ("Opposes NATO" is a sentence; "Kakar Haq" is not)."""
    if _ID_ONLY.match(text):
        return "is an id, not words"
    if text.strip().strip(".").casefold() in _PLACEHOLDER:
        return "is a placeholder, not words"
    if _JSON.search(text):
        return "is a fragment of JSON, not words"
    if _PROMPT_ECHO.search(text):
        return "repeats the prompt's own header"
    tokens = re.findall(r"\w+", _DOTTED.sub("Abbr", text))
    words = re.findall(r"[^\W\d_]{2,}", text)
    if not words:
        return "has no words"
    single = sum(len(t) == 1 and t.isalpha() for t in tokens)
    if len(tokens) >= 4 and single / len(tokens) > 0.5:
        return "is not readable text"
    visible = [c for c in text if not c.isspace()]
    if sum(c.isalnum() for c in visible) / len(visible) < 0.6:
        return "is mostly punctuation, not words"
    if sentence and not re.search(r"\b[a-z]{3,}\b", text):
        proper = proper_words(names) if names is not None else frozenset()
        named = [w for w in re.findall(r"[^\W\d_]+", text) if not w.islower()]
        if names is None or all(w in proper or w.isupper() for w in named):
            return "is a string of names, not a sentence"
    return None


# --- agreement within rounding --------------------------------------------------------------

_ABOUT = {
    "about",
    "around",
    "approximately",
    "approx",
    "approx.",
    "roughly",
    "some",
    "circa",
    "c.",
    "an estimated",
    "estimated",
}
_JUST_BELOW = frozenset({"nearly", "almost", "close to", "just under", "just below"})
_BELOW = frozenset(
    [
        "under",
        "below",
        "less than",
        "fewer than",
        "up to",
        "at most",
        "no more than",
        "well under",
        "well below",
        "as many as",
        "as much as",
    ]
)
_ABOVE = {
    "more than",
    "over",
    "above",
    "upwards of",
    "in excess of",
    "at least",
    "no fewer than",
    "no less than",
    "just over",
    "well over",
    "well above",
    "just above",
}
_INFINITY = Decimal("Infinity")


def _rounding_unit(number: Decimal) -> Decimal:
    """One unit of the last significant digit a number is written to: 3,500 → 100,
    3,450 → 10, 397 → 1, 2.8 (million) → 0.1 (million)."""
    _, _, exponent = number.normalize().as_tuple()
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(exponent)


def interval(value: str, qualifier: str | None = None) -> tuple[Decimal, Decimal, bool] | None:
    """What a figure allows the true amount to be, as (low, high, percent), from its value
    and hedge: a round number may be rounded at its last significant digit (3,500 is
    3,450–3,550), "about" widens it by one such unit either way (about 3,500: 3,400–3,600),
    "nearly" and "up to" bound it from above, "more than" and "at least" from below; a range
    or a vague amount ("dozens") is its own interval."""
    lead, rest = split_qualifier(value)
    hedge = " ".join(normalize_text(q) for q in (qualifier, lead) if q).casefold().strip()
    hits = _scan(rest, bare=True)
    if len(hits) != 1:
        return None
    hit = hits[0]
    q = hit.quantity
    if q.upper is not None:
        return q.value, q.upper, q.percent
    scale = hit.scale or Decimal(1)
    value_ = q.value
    # A bare number is exact as written (10 is not 14); only a number written with a scale
    # word ("2.8 million") or a hedge may be rounded at its last significant digit — and
    # never by more than a tenth of itself ("about 1,000" is 900–1,100, not 0–2,000).
    rounded = hit.scale is not None or bool(hedge)
    if hit.in_words and hit.scale is None:
        unit = Decimal(1)  # "six", "two dozen": counted in ones
    else:  # "2.8 million", "half a million": rounded at the last digit written
        unit = (_rounding_unit(hit.number) if rounded else Decimal(1)) * scale
    if value_:
        unit = min(unit, abs(value_) / 10)
    half = unit / 2
    # Rounding intervals are half-open: the upper end is taken a hair below, so 3,500 and
    # 3,600 written "about" do not meet at their shared edge. A bound ("more than 1,000",
    # "nearly 3,500") includes its number: two reports of one count often differ so.
    hair = unit / 1000
    if hedge in _ABOUT:
        return value_ - unit, value_ + unit, q.percent
    if hedge in _JUST_BELOW:  # "nearly 3,500" is below 3,500, by up to a unit
        return value_ - unit, value_, q.percent
    if hedge in _BELOW:  # "up to 3,500", "fewer than 350": anything from none to it
        return Decimal(0), value_, q.percent
    if hedge in _ABOVE:  # "more than 1,000" is above 1,000: a floor, not a rounding
        return value_, _INFINITY, q.percent
    if not rounded:
        return value_, value_, q.percent
    return value_ - half, value_ + half - hair, q.percent


def agree(intervals: Iterable[tuple[Decimal, Decimal, bool]]) -> bool:
    """Whether the amounts can all be true at once: every pair of intervals overlaps (for
    intervals on a line, that is the same as one amount lying in all) and all are counts or
    all percentages."""
    spans = list(intervals)
    if len({percent for _, _, percent in spans}) > 1:
        return False
    return all(a[0] <= b[1] and b[0] <= a[1] for a in spans for b in spans)


def add(intervals: Iterable[tuple[Decimal, Decimal, bool]]) -> tuple[Decimal, Decimal]:
    """The interval a sum of amounts lies in: the lows added and the highs added."""
    spans = list(intervals)
    return sum((s[0] for s in spans), Decimal(0)), sum((s[1] for s in spans), Decimal(0))

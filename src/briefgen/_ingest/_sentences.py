"""Splitting cleaned lines into the sentences the model cites."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "capt", "sgt", "st"),
        *("sen", "rep", "gov", "h.e", "no", "vs", "etc", "e.g", "i.e", "u.s", "u.k", "u.n"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
        *("inc", "ltd", "co", "corp", "approx", "est"),
    }
)
_BOUNDARY = re.compile(r"(?<=[.!?])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
# "(AFP/File)", "(Reuters)": a photo or agency credit left standing as its own sentence.
_CREDIT = re.compile(r"^\([A-Z][\w/ .&-]{0,40}\)$")


def split_sentences(lines: Iterable[str]) -> list[str]:
    """Split cleaned lines into sentences; a line never joins the next one."""
    sentences: list[str] = []
    for line in lines:
        start = 0
        for match in _BOUNDARY.finditer(line):
            end = match.start() + len(match.group(1))
            candidate = line[start:end]
            if _ends_with_abbreviation(candidate):
                continue
            sentences.append(candidate.strip())
            start = match.end()
        rest = line[start:].strip()
        if rest:
            sentences.append(rest)
    return [s for s in sentences if not _CREDIT.match(s)]


def _ends_with_abbreviation(text: str) -> bool:
    stripped = text.rstrip("\"'”’)]")
    if not stripped.endswith("."):
        return False
    written = stripped[:-1].rsplit(maxsplit=1)[-1].lstrip("\"'“‘([")
    word = written.lower()
    # An initial ("F."), dotted capitals ("J.D."): part of a name, not a sentence's end.
    initials = re.fullmatch(r"(?:[A-Z]\.)+[A-Z]", written) is not None
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or initials

"""Saved web pages: the main text and the page's metadata, by trafilatura.

trafilatura is the reference main-content extractor (it leads the public extraction
benchmarks and is maintained); it drops the chrome a page wraps around an article
(navigation, cookie banners, share widgets, comments, footers) and reads the title, date,
author and site name from the page's metadata (JSON-LD, Open Graph, meta tags). What it
leaves in the text (an inline "Also read:" teaser, a caption in the body) goes through the
same line cleaning as a text file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from briefgen._ingest._article import Found, Metadata, planted_instructions
from briefgen._ingest._text import is_prose, iso_date

HTML_SUFFIXES = (".html", ".htm")
_SOURCE = "page metadata"


@dataclass(frozen=True)
class Page:
    """What a web page holds: its main text (lines) and its metadata."""

    text: str
    meta: Metadata


def read_page(data: bytes) -> Page | None:
    """The main text and metadata of the page in `data`; None if it holds no article."""
    import trafilatura

    # trafilatura logs a warning for every page it finds little in; briefgen says it once.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    try:
        document = trafilatura.bare_extraction(
            data,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            # Headings and list items keep their marks (#, -), so the cleaner knows them
            # for the article's structure, not teasers or labels.
            include_formatting=True,
            # Only dates the page's markup states count: not a guess from its text.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception:  # a page it cannot parse is no article; the caller says so
        return None
    text = _plain(str(getattr(document, "text", "") or ""))
    if document is None or not any(is_prose(line) for line in text.splitlines()):
        return None  # a page of menus and labels, not one sentence: no article
    meta = Metadata(
        title=_found(document, "title"),
        date=_found(document, "date"),
        byline=_found(document, "author"),
        outlet=_found(document, "sitename"),
    )
    return Page(text=_with_headline(text, meta), meta=meta)


def _plain(text: str) -> str:
    """trafilatura's Markdown without its emphasis marks (**bold**, *italic*): the words of
    the page, not its styling. Heading and list marks stay for the cleaner."""
    text = re.sub(r"\*\*(\S(?:.*?\S)?)\*\*", r"\1", text)
    return re.sub(r"(?<![\w*])\*(\S(?:.*?\S)?)\*(?![\w*])", r"\1", text)


def _found(document: Any, name: str) -> Found | None:
    """A metadata field as one line of text; None if empty, if it addresses AI systems
    (a planted instruction in a page's title is still one), or, for the date, if it is no
    real date."""
    value = " ".join(str(getattr(document, name, None) or "").split())
    if name == "date":
        value = iso_date(value) or ""
    if not value or planted_instructions([value]):
        return None
    return Found(value, _SOURCE)


def _with_headline(text: str, meta: Metadata) -> str:
    """The text with the headline as its first line: the headline is reporting (it often
    carries the figure), and some pages keep it outside the element trafilatura reads."""
    if meta.title is None or meta.title.value in text:
        return text
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.startswith("#"):  # the page's own headline (<h1>) opens the text already
        return text
    return f"{meta.title.value}\n{text}"

"""Files → articles: which files are articles, reading text and saved web pages, page
furniture out (and into metadata), numbered sentences.

Rooms: `_files` (which files), `_html` (web pages, by trafilatura), `_text` (furniture out of
lines), `_sentences` (splitting), `_article` (what an article is), `_load` (putting it
together).
"""

from __future__ import annotations

from briefgen._ingest._article import Article, Cleaning, Found, Metadata, planted_instructions
from briefgen._ingest._files import SUFFIXES, article_id, find_files
from briefgen._ingest._load import load, read
from briefgen._ingest._sentences import split_sentences
from briefgen._ingest._text import Cleaned, clean, clean_lines, iso_date

__all__ = [
    "SUFFIXES",
    "Article",
    "Cleaned",
    "Cleaning",
    "Found",
    "Metadata",
    "article_id",
    "clean",
    "clean_lines",
    "find_files",
    "iso_date",
    "load",
    "planted_instructions",
    "read",
    "split_sentences",
]

"""briefgen: turn a folder of news articles into a brief an analyst can trust.

>>> from briefgen import summarize          # doctest: +SKIP
>>> result = summarize(["seeds/"])           # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from briefgen._document import Document, build
from briefgen._errors import (
    BriefgenError,
    ConfigError,
    InputError,
    ModelError,
    PartialError,
    ReplayMissError,
    StrictError,
)
from briefgen._ingest import Article, load
from briefgen._pipeline import summarize
from briefgen._render import to_json, to_markdown
from briefgen._schema import ArticleBrief, CorpusBrief
from briefgen._verify import ArticleResult, CorpusResult, Dropped

__all__ = [
    "Article",
    "ArticleBrief",
    "ArticleResult",
    "BriefgenError",
    "ConfigError",
    "CorpusBrief",
    "CorpusResult",
    "Document",
    "Dropped",
    "InputError",
    "ModelError",
    "PartialError",
    "ReplayMissError",
    "StrictError",
    "__version__",
    "build",
    "load",
    "summarize",
    "to_json",
    "to_markdown",
]

"""Reading article files: text or web page, cleaned, with metadata, numbered."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from briefgen._errors import InputError
from briefgen._ingest._article import Article, Cleaning, planted_instructions
from briefgen._ingest._files import article_id, find_files, quiet
from briefgen._ingest._html import HTML_SUFFIXES, read_page
from briefgen._ingest._sentences import split_sentences
from briefgen._ingest._text import clean

# C0 control characters other than tab, newline, form feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def load(
    paths: Sequence[Path],
    *,
    exclude: Sequence[Path] = (),
    warn: Callable[[str], None] | None = None,
) -> list[Article]:
    """Read, clean and number every article under `paths`.

    A file found in a folder that is not an article (empty, binary, not UTF-8, the same text
    as another) is skipped with a one-line message to `warn`; a file named in `paths` that is
    not an article is an InputError, since the user asked for it.
    """
    say = warn or quiet
    files = find_files(paths, exclude=exclude, warn=say)
    named = {os.path.abspath(p) for p in paths if not p.is_dir()}
    by_text: dict[str, Article] = {}
    by_id: dict[str, Article] = {}
    for article in _readable(files, named, say):
        if (kept := by_text.get(article.sha256)) is not None:
            say(f"{article.path} has the same text as {kept.path}; read once")
            continue
        if (other := by_id.get(article.id)) is not None:
            raise InputError(
                f"{article.path} and {other.path} both give article id {article.id!r}; "
                "rename one of them."
            )
        by_text[article.sha256] = by_id[article.id] = article
    if not by_id:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(
            f"no readable articles in {shown}: every file found is empty, binary, not UTF-8 "
            "text or page parts only; give files with article text."
        )
    return list(by_id.values())


class _NotArticle(Exception):
    """Why a file is not an article: a warning for a file found, an error for a file named."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def _readable(
    files: Iterable[Path], named: set[str], say: Callable[[str], None]
) -> Iterator[Article]:
    """The articles among `files`, skipping (or refusing, if named) those that are not."""
    for path in files:
        try:
            yield read(path)
        except _NotArticle as err:
            if os.path.abspath(path) in named:
                raise InputError(f"{path} {err.reason}; {err.fix}.") from err
            say(f"{path} {err.reason}; skipped")


def read(path: Path) -> Article:
    """The article in `path` (text or a saved web page), cleaned and numbered."""
    data = _bytes(path)
    if path.suffix.lower() in HTML_SUFFIXES:
        page = read_page(data)
        if page is None:
            raise _NotArticle("has no article text in it", "give a saved news page")
        cleaned = clean(page.text, known=page.meta)
    else:
        cleaned = clean(_text(data))
    sentences = tuple(split_sentences(cleaned.lines))
    if not sentences:
        raise _NotArticle(
            "has no article text left after cleaning", "give the article text, not only page parts"
        )
    return Article(
        id=article_id(path),
        path=path,
        sentences=sentences,
        sha256=hashlib.sha256("\n".join(sentences).encode()).hexdigest(),
        instructions=planted_instructions(sentences),
        meta=cleaned.meta,
        cleaning=Cleaning(kept=len(cleaned.lines), removed=cleaned.removed),
    )


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise _NotArticle(
            f"cannot be read ({err.strerror or type(err).__name__})", "check its permissions"
        ) from err


def _text(data: bytes) -> str:
    """`data` as text, without a byte-order mark or stray NULs."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _NotArticle("is not UTF-8 text", "convert it to UTF-8 first") from err
    # A few NULs are debris (a bad copy or export) in a text file; many mean it is not text.
    if len(_CONTROL.findall(text)) > len(text) / 10:
        raise _NotArticle("looks binary", "give articles as plain text")
    text = text.replace("\0", "")
    if not text.strip():
        raise _NotArticle("is empty", "give a file with article text")
    return text

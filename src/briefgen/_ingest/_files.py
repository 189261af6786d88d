"""Which files under the given paths are articles: never hidden, version-control, backup or
temporary files, and no link out of the given folders."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from briefgen._errors import InputError

SUFFIXES = (".txt", ".md", ".html", ".htm")
_TEXT_NAMES = ".txt, .md or .html"

# Never articles when found in a folder: version control keeps old copies of every article,
# and editors and downloads leave partial or backup copies beside them.
_VCS = frozenset({".git", ".hg", ".svn", "CVS", "_darcs", ".bzr"})
_BACKUPS = (
    "*~",
    ".#*",
    "#*#",
    "*.bak",
    "*.swp",
    "*.swo",
    "*.tmp",
    "*.orig",
    "*.part",
    "*.crdownload",
)
# C0 control characters other than tab, newline, form feed and carriage return.


def find_files(
    paths: Sequence[Path],
    *,
    exclude: Sequence[Path] = (),
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """The article files under `paths` (folders searched recursively), in a stable order.

    Inside folders, hidden, version-control and editor-backup names are passed over, and a
    link is followed only to somewhere inside the given folders. `exclude` is never returned.
    """
    say = warn or quiet
    roots = tuple(p.resolve() for p in paths if p.is_dir())
    excluded = {p.resolve() for p in exclude}
    walked: set[Path] = set()
    found: dict[str, Path] = {}
    for path in paths:
        files = _walk(path, roots, walked, say) if path.is_dir() else [_named(path)]
        for file in files:
            if file.resolve() not in excluded:
                found.setdefault(os.path.abspath(file), file)
    if not found:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"no {_TEXT_NAMES} articles found in {shown}.")
    return sorted(found.values(), key=lambda p: (p.name, str(p)))


def _named(path: Path) -> Path:
    """A file the user named: read whatever its name, so long as it is text by suffix."""
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(
                f"{path} is not a {_TEXT_NAMES} file; give articles as text or web pages."
            )
        return path
    raise InputError(f"{path} does not exist; give a folder or {_TEXT_NAMES} files.")


def _walk(
    root: Path, roots: tuple[Path, ...], walked: set[Path], say: Callable[[str], None]
) -> Iterator[Path]:
    """The candidate article files under the folder `root`."""
    real = root.resolve()
    if real in walked:  # given twice, or inside a folder already walked
        return
    walked.add(real)
    for top, dirs, files in os.walk(root, followlinks=True):
        here = Path(top)
        # Pruning `dirs` in place is how os.walk is told not to descend.
        dirs[:] = [d for d in dirs if _enter(here / d, roots, walked, say)]
        for name in files:
            path = here / name
            if _is_article_name(name) and _may_follow(path, roots, say) and path.is_file():
                yield path


def _is_article_name(name: str) -> bool:
    """Whether a name found in a folder can be an article, not a hidden or backup file."""
    if name.startswith(".") or any(fnmatch.fnmatchcase(name.lower(), p) for p in _BACKUPS):
        return False
    return Path(name).suffix.lower() in SUFFIXES


def _enter(
    path: Path, roots: tuple[Path, ...], walked: set[Path], say: Callable[[str], None]
) -> bool:
    """Whether to walk the folder `path`: never hidden or VCS folders, never one twice."""
    if path.name.startswith(".") or path.name in _VCS or not _may_follow(path, roots, say):
        return False
    real = path.resolve()
    if real in walked:  # a link back up the tree would otherwise be walked forever
        return False
    walked.add(real)
    return True


def _may_follow(path: Path, roots: tuple[Path, ...], say: Callable[[str], None]) -> bool:
    """Whether `path` stays inside the given folders; a link out of them could read anything."""
    if not path.is_symlink():
        return True
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a link loop
        say(f"{path} is a broken link; skipped")
        return False
    if any(target.is_relative_to(root) for root in roots):
        return True
    say(f"{path} links outside the given folders; skipped")
    return False


def article_id(path: Path) -> str:
    """The id items are named by (`001.F2`): a leading number if the name has one, else the stem."""
    stem = path.stem
    match = re.match(r"^(\d+)(?:[_\-.\s]|$)", stem)
    if match:
        return match.group(1)
    return re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-").lower() or "article"


def quiet(message: str) -> None:
    """The default `warn`: callers that pass none (the library API) hear nothing."""

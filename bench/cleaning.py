"""How fast saved pages become clean articles: 1,000 pages, text and HTML, read from disk.

    python bench/cleaning.py [--pages N]

Copies the real pages of the sample corpus and the held-out cleaning sets (tests/cleaning)
N times over into a temporary folder, each copy made distinct by one added sentence (so
none is skipped as a duplicate), then times `briefgen`'s `load` over the folder: finding
the files, trafilatura on the HTML, line cleaning, sentence splitting. Prints articles per
second, overall and for text and HTML apart, and as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from briefgen._ingest import clean, load  # noqa: E402

SOURCES = [
    ROOT / "samples" / "louisiana-2016",
    ROOT / "tests" / "cleaning" / "heldout",
    ROOT / "tests" / "cleaning" / "heldout2",
    ROOT / "tests" / "cleaning" / "heldout3",
]
# Lines built to make a careless regular expression backtrack: the worst a page could hold.
ADVERSARIAL = ["cookies and more ", "Reuters/Abc ", "[AP/x ", "newsletter and more ", "Home World "]


def pages() -> list[Path]:
    return sorted(
        p for folder in SOURCES for p in folder.iterdir() if p.suffix in {".txt", ".html"}
    )


def build(folder: Path, count: int) -> None:
    """`count` distinct pages in `folder`, cycling through the real ones."""
    originals = pages()
    for n in range(count):
        source = originals[n % len(originals)]
        extra = f"The count was revised {n} times, officials said."
        text = source.read_text(encoding="utf-8")
        if source.suffix == ".html":  # a paragraph of the article's own, after its first
            first = text.index("</p>", text.index("<h1"))
            text = f"{text[:first]}</p>\n<p>{extra}{text[first:]}"
        else:  # a paragraph of its own among the article's first lines
            head, _, rest = text.strip().partition("\n")
            text = f"{head}\n{extra}\n{rest}\n"
        (folder / f"{n:04d}_{source.stem}{source.suffix}").write_text(text, encoding="utf-8")


def timed(folder: Path) -> tuple[float, int]:
    started = time.perf_counter()
    articles = load([folder])
    return time.perf_counter() - started, len(articles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    args = parser.parse_args()
    figures: dict[str, float | int] = {"pages": args.pages}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.pages)
        seconds, read = timed(root)
        figures |= {"articles": read, "seconds": round(seconds, 3)}
        figures["articles_per_s"] = round(read / seconds, 1)
        for kind in ("txt", "html"):
            subset = root / kind
            subset.mkdir()
            for page in root.glob(f"*.{kind}"):
                page.rename(subset / page.name)
            kind_seconds, kind_read = timed(subset)
            figures[f"{kind}_articles_per_s"] = round(kind_read / kind_seconds, 1)
    worst = 0.0
    for unit in ADVERSARIAL:  # one 200 KB line each, then a sentence
        line = unit * (200_000 // len(unit))
        started = time.perf_counter()
        clean(f"{line}\nThe river rose again on Monday, officials said.\n")
        worst = max(worst, time.perf_counter() - started)
    figures["worst_200kb_line_s"] = round(worst, 2)
    print(
        f"cleaning: {figures['articles']} of {args.pages} pages in {figures['seconds']} s, "
        f"{figures['articles_per_s']} articles/s (text {figures['txt_articles_per_s']}/s, "
        f"HTML {figures['html_articles_per_s']}/s); worst 200 KB line {worst:.2f} s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Markdown and JSON rendering of a resolved document: pure and deterministic."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from briefgen._document import Document, build
from briefgen._ingest import load
from briefgen._render import to_json, to_markdown
from briefgen._schema import ArticleBrief, CorpusBrief, TimelineEvent
from briefgen._verify import ArticleResult, CorpusResult, Dropped


@pytest.fixture
def result(tmp_path: Path) -> CorpusResult:
    (tmp_path / "001_a.txt").write_text(
        "Officials said 1,200 families left | fled on Monday.\n"
        "A later count said 1,300 families left.\n"
        "“We will rebuild: every home,” Mayor Ana Ruiz said.\n",
        encoding="utf-8",
    )
    article = load([tmp_path])[0]
    brief = ArticleBrief.model_validate(
        {
            "title": "Floods",
            "published": {"date": "2024-05", "inferred": True, "basis": "flood season"},
            "summary": "Counts differ.",
            "actors": [
                {
                    "name": "Ana Ruiz",
                    "kind": "person",
                    "role": "mayor",
                    "aliases": ["Ruiz"],
                    "sentences": [3],
                },
            ],
            "figures": [
                {
                    "value": "1,200",
                    "qualifier": None,
                    "measures": "families left",
                    "unit": "families",
                    "as_of": "2024-05",
                    "sentences": [1],
                },
                {
                    "value": "1,300",
                    "measures": "families left",
                    "unit": "families",
                    "sentences": [2],
                },
            ],
            "positions": [
                {
                    "actor": "Ana Ruiz",
                    "issue": "rebuilding",
                    "stance": "will rebuild",
                    "quote": "We will rebuild: every home",
                    "sentences": [3],
                },
            ],
            "disputes": [],
        },
        context={"article": article},
    )
    corpus = CorpusBrief(
        overview="Counts differ.",
        actors=[{"name": "Ana Ruiz", "members": ["001.A1"]}],
        figure_groups=[
            {
                "metric": "families left",
                "relation": "internal_discrepancy",
                "members": ["001.F2", "001.F1"],
            }
        ],
        disputes=[],
        timeline=[{"date": "2024-05", "event": "Floods: families leave", "sources": ["001.F1"]}],
    )
    dropped = [Dropped("001.figures[3]", "value '9' does not occur")]
    return CorpusResult(brief=corpus, articles=[ArticleResult(article, brief, dropped)])


def test_a_discrepancy_is_flagged_and_ordered_by_date(result: CorpusResult) -> None:
    md = to_markdown(build(result))
    assert "### families left — ⚠ internal discrepancy" in md
    assert md.index("| 1,200 |") < md.index("| 1,300 |")  # dated first, undated last


def test_every_figure_and_quote_has_a_file_sentence_footnote(result: CorpusResult) -> None:
    md = to_markdown(build(result))
    assert "| 1,200 | families left | 2024-05 | 001:S1 [^1] |" in md
    assert "[^1]: `001_a.txt:S1` “Officials said 1,200 families left \\| fled on Monday.”" in md
    assert "“We will rebuild: every home” | 001:S3 [^3] |" in md


def test_table_cells_and_mermaid_lines_are_escaped(result: CorpusResult) -> None:
    md = to_markdown(build(result))
    # The event's only date is the article's inferred publication date, so it says so.
    assert "    2024-05 (inferred) : Floods — families leave" in md
    assert "- **2024-05 (inferred)** — Floods: families leave (001.F1)" in md


def test_the_verification_line_counts_verified_and_dropped(result: CorpusResult) -> None:
    md = to_markdown(build(result))
    # 1 actor, 2 figures, 1 position; 1 actor group, 1 figure group, 1 event
    assert "Verification: 7 items verified, 1 dropped." in md
    # What failed verification never appears in the brief, not even as a dropped item.
    assert "value '9'" not in md
    assert "`--verbose`" in md


def test_json_carries_ids_citations_and_drops(result: CorpusResult) -> None:
    data = json.loads(to_json(build(result)))
    figure = data["articles"][0]["figures"][0]
    assert figure["id"] == "001.F1"
    assert figure["citations"] == [
        {
            "article": "001",
            "file": "001_a.txt",
            "sentence": 1,
            "text": "Officials said 1,200 families left | fled on Monday.",
        }
    ]
    assert data["corpus"]["actors"][0]["aliases"] == ["Ruiz"]
    assert data["verification"]["dropped"][0]["where"] == "001.figures[3]"


def test_rendering_is_a_pure_function(result: CorpusResult) -> None:
    assert to_markdown(build(result)) == to_markdown(build(result))
    assert to_json(build(result)) == to_json(build(result))


# Text a model or an article wrote, each a way Markdown could turn data into markup.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src=http://evil></iframe>",
    "[x](javascript:alert(1))",
    "![i](http://x/y.png)",
    "a `code` span and a ``` fence",
    "left | right",
    "<http://evil>",
    "&lt;script&gt; &#60;b&#62;",
    "**bold** _em_ ~~gone~~ \\<script>",
]
SENTENCE = "Officials said 1,200 families left."


def document(text: str, file: str = "001_a.txt", lead: str = "") -> Document:
    """A resolved brief with `text` in every field a model or an article writes."""
    cite = [{"article": "001", "file": file, "sentence": 1, "text": f"{SENTENCE} {text}"}]
    position = {"actor": text, "issue": text, "stance": text, "quote": text, "citations": cite}
    article = {
        "id": "001",
        "file": file,
        "sha256": "0" * 64,
        "instructions": [],
        "title": text,
        "published": {"date": None, "inferred": True, "basis": text},
        "summary": lead + text,
        "actors": [
            {"id": "001.A1", "name": text, "kind": "person", "role": text, "aliases": [text]}
            | {"citations": cite}
        ],
        "figures": [
            {"id": "001.F1", "value": "1,200", "qualifier": text, "measures": text, "unit": text}
            | {"amount": {"low": 1200, "high": 1200, "percent": False}, "as_of": None}
            | {"citations": cite}
        ],
        "positions": [{"id": "001.P1", **position}, {"id": "001.P2", **position}],
        "disputes": [
            {
                "id": "001.D1",
                "topic": text,
                "sides": [{"actor": text, "claim": text} | {"citations": cite}],
            }
        ],
    }
    corpus = {
        "overview": lead + text,
        "actors": [{"name": text, "aliases": [text], "members": ["001.A1"]}],
        "figure_groups": [
            {"metric": text, "relation": "consistent", "note": text, "members": ["001.F1"]}
        ],
        "issues": [{"issue": text, "positions": ["001.P1"]}],  # 001.P2 goes to "Other positions"
        "disputes": [
            {"topic": text, "sides": [{"label": text, "positions": ["001.P1"]}], "settle": text}
        ],
        "timeline": [{"date": "2024", "inferred": False, "event": text, "sources": ["001.F1"]}],
    }
    return Document.model_validate(
        {"articles": [article], "corpus": corpus, "verification": {"verified": 1, "dropped": []}}
    )


def unescaped(markdown: str, chars: str) -> list[str]:
    """The characters of `chars` in `markdown` that no backslash escapes."""
    return [t for t in re.findall(rf"\\.|[{re.escape(chars)}]", markdown) if t[0] != "\\"]


def html(markdown: str) -> str:
    markdown_it = pytest.importorskip("markdown_it")
    return str(markdown_it.MarkdownIt("commonmark").enable("table").render(markdown))


def outside_mermaid(markdown: str) -> str:
    # Inside the fence nothing is markup; its own rules are tested on their own.
    return re.sub(r"```mermaid\n.*?\n```\n", "", markdown, flags=re.S)


def markup(markdown: str) -> list[str]:
    """The renderer's own markup: unescaped special characters outside the mermaid fence."""
    return unescaped(outside_mermaid(markdown), "<>[]`|&*_~")


def tags(page: str) -> Counter[str]:
    return Counter(re.findall(r"</?\w+", page))


def table_shapes(markdown: str) -> list[set[int]]:
    """For each table, the set of cell counts of its rows: one count if no row was split."""
    markdown_it = pytest.importorskip("markdown_it")
    shapes: list[set[int]] = []
    cells = 0
    for token in markdown_it.MarkdownIt("commonmark").enable("table").parse(markdown):
        if token.type == "table_open":
            shapes.append(set())
        elif token.type in {"th_open", "td_open"}:
            cells += 1
        elif token.type == "tr_close":
            shapes[-1].add(cells)
            cells = 0
    return shapes


PLAIN = to_markdown(document("Families left."))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_model_text_adds_no_markup_to_the_raw_markdown(payload: str) -> None:
    md = to_markdown(document(payload))
    assert markup(md) == markup(PLAIN)
    prose = outside_mermaid(md)
    assert "](" not in prose.replace("\\](", "")
    assert "<script" not in prose.replace("\\<script", "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_model_text_renders_as_text_not_html(payload: str) -> None:
    md = to_markdown(document(payload))
    page = html(md)
    for tag in ("<script", "<img", "<iframe", "<a "):
        assert tag not in page
    assert tags(page) == tags(html(PLAIN))  # every element is one the renderer wrote
    assert table_shapes(md) == table_shapes(PLAIN)


def test_escaped_markup_is_shown_as_the_characters_it_was_written_with() -> None:
    page = html(to_markdown(document("<script>alert(1)</script> [x](javascript:alert(1))")))
    assert "&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))" in page


def test_a_pipe_in_a_table_cell_stays_in_its_cell() -> None:
    md = to_markdown(document("left | right"))
    assert "| left \\| right 1,200 | left \\| right | — | 001:S1 [^1] |" in md
    assert table_shapes(md) == [{4}, {3}, {2}, {4}]  # figures, actors, positions, other positions


@pytest.mark.parametrize(
    "lead", ["# ", "## ", "> ", "- ", "+ ", "* ", "= ", "1. ", "12) ", "--- ", "    "]
)
def test_a_line_of_model_text_cannot_start_a_block(lead: str) -> None:
    md = to_markdown(document("Families left.", lead=lead))
    overview = md.split("## Overview\n\n")[1].splitlines()[0]
    assert overview != lead + "Families left."  # the marker is escaped (or the indent gone)
    page = html(md)
    assert "<h2>Overview</h2>\n<p>" in page
    assert "<p><code>001_a.txt</code> · date unknown (Families left.)</p>\n<p>" in page
    for block in ("<blockquote>", "<ol", "<hr", "<h1>Families", "<h2>Families"):
        assert block not in page


def test_a_file_name_cannot_break_out_of_its_code_span() -> None:
    name = "00`1 ``` <img src=x onerror=alert(1)> [x](y).txt"
    md = to_markdown(document("Families left.", file=name))
    assert f"- 001: ````{name}```` (sha256" in md  # a fence longer than any run inside
    page = html(md)
    assert "<img" not in page and "<a " not in page
    escaped = "00`1 ``` &lt;img src=x onerror=alert(1)&gt; [x](y).txt"
    assert f"<code>{escaped}</code>" in page
    assert f"<code>{escaped}:S1</code>" in page  # the footnote's file:sentence


def test_a_file_name_starting_with_a_backtick_is_padded() -> None:
    md = to_markdown(document("Families left.", file="`evil`.txt"))
    assert "- 001: `` `evil`.txt `` (sha256" in md
    assert "<code>`evil`.txt</code>" in html(md)


def test_mermaid_labels_cannot_close_the_fence_or_open_a_tag() -> None:
    md = to_markdown(document("x\n```\n<script>alert(1)</script> `a` & b: c; #d"))
    start = md.index("```mermaid\n") + len("```mermaid\n")
    body = md[start : md.index("\n```\n", start)]
    assert "    2024 (month unknown) : x ''' ‹script›alert(1)‹/script› 'a' ＆ b — c, ,d" in body
    for char in "`<>&":
        assert char not in body
    assert html(md).count("<pre>") == 1


def test_bare_urls_are_not_left_for_a_renderer_to_link() -> None:
    md = to_markdown(document("See https://evil.example/x and www.evil.example today."))
    assert "See https\\://evil.example/x and www\\.evil.example today." in md
    assert "https://evil" not in outside_mermaid(md)


def test_ordinary_prose_is_written_as_it_came() -> None:
    prose = "The mayor’s plan — a ‘dignified’, well-run return (phase 2) — “starts now”, she said."
    md = to_markdown(document(prose))
    assert f"## Overview\n\n{prose}\n" in md
    assert f"| {prose} | {prose} | 001 |" in md  # the actors row
    assert "\\" not in md


def test_an_event_known_only_to_its_year_follows_that_years_dated_events(
    result: CorpusResult,
) -> None:
    events = [
        {"date": "2024", "event": "Relief funds pledged", "sources": ["001.F1"]},
        {"date": "2024-05", "event": "Floods: families leave", "sources": ["001.F1"]},
    ]
    brief = result.brief.model_copy(update={"timeline": [TimelineEvent(**e) for e in events]})
    document = build(CorpusResult(brief=brief, articles=result.articles))
    assert [e.date for e in document.corpus.timeline] == ["2024-05", "2024"]
    md = to_markdown(document)
    assert md.index("**2024-05 (inferred)**") < md.index("**2024 (month unknown, inferred)**")

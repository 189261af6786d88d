"""Markdown and JSON rendering of a resolved document: pure and deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from briefgen._corpus import load
from briefgen._document import build
from briefgen._render import to_json, to_markdown
from briefgen._schema import ArticleBrief, CorpusBrief
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
                    "unit": "x",
                    "as_of": "2024-05",
                    "sentences": [1],
                },
                {"value": "1,300", "measures": "families left", "unit": "x", "sentences": [2]},
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

"""The second sample corpus end to end: saved pages, text and HTML, junk left in, replayed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from briefgen import Document
from briefgen._cli import app
from conftest import CASSETTES, ROOT

LOUISIANA = ROOT / "samples" / "louisiana-2016"
CASSETTE = CASSETTES / "louisiana.yaml"


@pytest.fixture(scope="module")
def brief() -> str:
    result = CliRunner().invoke(app, ["summarize", str(LOUISIANA), "--replay", str(CASSETTE)])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_every_page_is_read_and_nothing_is_dropped(brief: str) -> None:
    assert "# Brief: 6 articles" in brief
    assert "0 dropped." in brief and "could not be read" not in brief


def test_the_notes_show_outlet_byline_and_date_with_where_each_came_from(brief: str) -> None:
    assert (
        "`104_upi.html` · UPI (page metadata) · by Andrew V Pestano (page metadata) · "
        "published 2016-08-16 (page metadata)" in brief
    )
    assert "`103_vietnamnews.txt` · published 2016-08-16 (timestamp line)" in brief
    assert "`105_greenbaypressgazette.txt` · by John Bacon (byline line)" in brief


def test_the_death_toll_across_outlets_is_one_time_series(brief: str) -> None:
    section = brief[brief.index("— time series") :]
    table = section[: section.index("###")]
    for value in ("| three |", "| at least six |", "| at least eight |", "| 11 |", "| 13 |"):
        assert value in table


def test_no_figure_rests_on_page_furniture() -> None:
    result = CliRunner().invoke(
        app, ["summarize", str(LOUISIANA), "--replay", str(CASSETTE), "--format", "json"]
    )
    document = Document.model_validate(json.loads(result.stdout))
    texts = [c.text for a in document.articles for f in a.figures for c in f.citations]
    assert texts
    for junk in ("Photo", "Share", "cookies", "©", "Also read", "Leave a comment", "App Store"):
        assert not any(junk in text for text in texts)


def test_verbose_reports_how_each_page_was_cleaned() -> None:
    result = CliRunner().invoke(app, ["summarize", str(LOUISIANA), "--replay", str(CASSETTE), "-v"])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("briefgen: read ")]
    assert len(lines) == 6
    vietnam = next(line for line in lines if "103_vietnamnews.txt" in line)
    assert "lines kept" in vietnam and "caption 1" in vietnam and "timestamp 2" in vietnam
    assert "date '2016-08-16' (timestamp line)" in vietnam

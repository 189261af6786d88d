"""The `briefgen` command end to end, on the recorded seed run, with the network blocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefgen import Document, __version__
from briefgen._cli import app
from conftest import SEED_CASSETTE, SEEDS

runner = CliRunner()


def summarize(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["summarize", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def seed_brief() -> str:
    result = CliRunner().invoke(app, ["summarize", str(SEEDS), "--replay", str(SEED_CASSETTE)])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_seed_brief_shows_the_internal_discrepancy_with_its_sentences(seed_brief: str) -> None:
    assert "internal discrepancy" in seed_brief
    assert "| 907,391 |" in seed_brief and "| 907,351 |" in seed_brief
    assert "001:S1" in seed_brief and "001:S7" in seed_brief
    assert "`001_251bd8e93c77d919.txt:S1` “ISLAMABAD" in seed_brief
    assert "`001_251bd8e93c77d919.txt:S7` ““Pakistan has sent back 907,351" in seed_brief


def test_the_seed_brief_has_every_section(seed_brief: str) -> None:
    sections = [
        "## Overview",
        "## Key figures",
        "## Timeline",
        "```mermaid",
        "## Actors",
        "## Positions",
        "## Open disputes",
        "## Per-article notes",
        "## Sources",
        "## Verification",
    ]
    positions = [seed_brief.index(s) for s in sections]
    assert positions == sorted(positions)
    assert "Verification: " in seed_brief and " items verified, 0 dropped." in seed_brief


@pytest.mark.parametrize(
    "row",
    [
        "| Mumtaz Zahra Baloch | Baloch, foreign ministry spokeswoman, Foreign Ministry "
        "spokesperson, foreign office spokesperson | 000, 002, 004 |",
        "| TTP | Tehreek-i-Taliban Pakistan, Tehreek-e-Taliban Pakistan, Pakistani Taliban | "
        "000, 001 |",
        "| Islamic Emirate of Afghanistan | Kabul interim government, Afghan authorities, Kabul, "
        "interim Afghan government, Taliban administration, Taliban government, Taliban | "
        "000, 001, 003, 004 |",
    ],
)
def test_the_seed_brief_merges_actors_with_their_aliases(seed_brief: str, row: str) -> None:
    assert row in seed_brief


def test_the_seed_brief_reconciles_figures_per_metric(seed_brief: str) -> None:
    # "more than 2.8 million" and "around 3.2 million" can both be true: the scripted answer
    # called them conflicting, and the numbers re-label the group (issue 10).
    assert (
        "### Afghans in Pakistan according to the UN — consistent within rounding "
        "(2,800,000–3,200,000)" in seed_brief
    )
    assert (
        "### Afghans with Afghan Citizen Cards or other legal status — ⚠ conflicting" in seed_brief
    )
    assert "— consistent" in seed_brief and "— time series" in seed_brief
    series = seed_brief[seed_brief.index("— time series") :]
    series = series[: series.index("###")]
    dates = [
        line.split(" | ")[2]
        for line in series.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]
    from briefgen._document import _date_order

    # Ordered by as-of date, a year alone after that year's months.
    assert dates == sorted(dates, key=_date_order) and dates != sorted(dates)
    assert "_Definitions differ: some counts are deportations only" in seed_brief


def test_the_seed_brief_pivots_positions_by_issue(seed_brief: str) -> None:
    section = seed_brief[seed_brief.index("## Positions") : seed_brief.index("## Open disputes")]
    header = section.splitlines()[2]
    assert header.startswith("| Actor | Whether the deportations should go on |")
    assert header.count(" | ") == 7  # the actor column and seven issues
    row = next(line for line in section.splitlines() if line.startswith("| Anwaar-ul-Haq Kakar |"))
    assert "Pakistan will not deport at-risk groups (003:S9) [^" in row
    assert "### Other positions" not in seed_brief  # every seed position is under an issue


def test_the_seed_timeline_holds_events_series_and_inferred_dates(seed_brief: str) -> None:
    timeline = seed_brief[seed_brief.index("## Timeline") : seed_brief.index("## Actors")]
    assert "    2021-08 : The Taliban take political control of Afghanistan." in timeline
    assert (
        "    2024-10 : Foreign ministry gives the count sent back since November 2023. : "
        in timeline
    )
    assert "- **2024-10** — Afghans who left Pakistan since the crackdown began" in timeline
    assert "- **2025 (month unknown, inferred)** — " in timeline


def test_the_seed_disputes_say_what_would_settle_them(seed_brief: str) -> None:
    disputes = seed_brief[seed_brief.index("## Open disputes") : seed_brief.index("## Per-article")]
    assert disputes.count("### ") == 3
    assert "- _What would settle it:_ A joint mechanism agreed by both countries" in disputes


def test_every_seed_figure_reaches_the_brief_with_its_source(seed_brief: str) -> None:
    result = runner.invoke(
        app, ["summarize", str(SEEDS), "--replay", str(SEED_CASSETTE), "--format", "json"]
    )
    document = Document.model_validate_json(result.stdout)
    figures = [f for a in document.articles for f in a.figures]
    assert len(figures) >= 30
    for f in figures:
        short = ", ".join(f"{c.article}:S{c.sentence}" for c in f.citations)
        assert f"| {f'{f.qualifier} ' if f.qualifier else ''}{f.value} |" in seed_brief
        assert short in seed_brief


def test_the_recording_holds_a_re_ask_that_fixed_a_failed_answer(seed_brief: str) -> None:
    recorded = SEED_CASSETTE.read_text(encoding="utf-8")
    assert "Validation Error found" in " ".join(recorded.replace("\\\n", "").split())
    code, _, err = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE))
    assert code == 0
    assert "1 re-asks" in err


def test_the_same_run_twice_gives_byte_identical_briefs(seed_brief: str) -> None:
    code, again, _ = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE))
    assert code == 0
    assert again == seed_brief


def test_run_information_goes_to_stderr_not_stdout(seed_brief: str) -> None:
    _, out, err = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE))
    assert "calls" in err and "tokens" in err and "cache hits" in err
    assert "briefgen:" not in out and "cache hits" not in out


def test_json_resolves_every_citation_to_file_sentence_and_text() -> None:
    code, out, _ = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE), "--format", "json")
    assert code == 0
    data = json.loads(out)
    document = Document.model_validate(data)
    seeds = {p.name: p for p in SEEDS.iterdir()}
    for article in document.articles:
        for item in [*article.actors, *article.figures, *article.positions]:
            assert item.citations
            for c in item.citations:
                assert c.file in seeds and c.text
    assert {g.relation for g in document.corpus.figure_groups} >= {"internal_discrepancy"}


def test_output_file_option_writes_the_brief(tmp_path: Path, seed_brief: str) -> None:
    target = tmp_path / "out" / "brief.md"
    code, out, _ = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE), "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8") == seed_brief


def test_single_files_can_be_given(tmp_path: Path) -> None:
    files = sorted(str(p) for p in SEEDS.glob("*.txt"))
    code, out, _ = summarize(*files, "--replay", str(SEED_CASSETTE))
    assert code == 0 and "# Brief: 5 articles" in out


def test_own_prompt_copies_are_used(tmp_path: Path) -> None:
    from briefgen._prompts import default_dir

    for template in default_dir().glob("*.j2"):
        (tmp_path / template.name).write_text(template.read_text(encoding="utf-8"))
    code, _, _ = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE), "--prompts", str(tmp_path))
    assert code == 0
    extract = tmp_path / "extract_system.j2"
    extract.write_text(extract.read_text() + "\nBe brief.", encoding="utf-8")
    code, _, err = summarize(str(SEEDS), "--replay", str(SEED_CASSETTE), "--prompts", str(tmp_path))
    assert code == 1
    assert "ReplayMissError: the recording has no answer for article 000_" in err


def test_a_replay_missing_a_request_names_the_article(tmp_path: Path) -> None:
    changed = tmp_path / "articles"
    changed.mkdir()
    for p in SEEDS.glob("*.txt"):
        (changed / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    target = changed / "003_2e9b2f382b13ee11.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nA new sentence was added.\n")
    code, out, err = summarize(str(changed), "--replay", str(SEED_CASSETTE))
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert "no answer for article 003_2e9b2f382b13ee11.txt" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere/"], "nowhere does not exist"),
        (["--format", "pdf", "seeds/"], "pdf"),
        (["seeds/", "--replay", "missing.yaml"], "recording missing.yaml does not exist"),
        (["seeds/", "--replay", "x.yaml", "--record", "y.yaml"], "exclude each other"),
    ],
)
def test_bad_input_is_exit_code_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = summarize(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_no_key_no_url_no_replay_is_one_line_naming_all_three() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    done = subprocess.run(
        [sys.executable, "-m", "briefgen", "summarize", str(SEEDS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    for name in ("OPENAI_API_KEY", "--base-url", "--replay"):
        assert name in lines[0]


def test_debug_shows_the_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"OPENAI_API_KEY", "OPENAI_BASE_URL"}}
    done = subprocess.run(
        [sys.executable, "-m", "briefgen", "summarize", str(SEEDS), "--debug"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_version_help_and_schema() -> None:
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"briefgen {__version__}"
    top = runner.invoke(app, ["--help"]).stdout
    assert "Examples:" in top and "--replay tests/cassettes/seeds.yaml" in top
    sub = runner.invoke(app, ["summarize", "--help"]).stdout
    for option in (
        "--output",
        "--format",
        "--model",
        "--base-url",
        "--replay",
        "--record",
        "--prompts",
        "--debug",
        "BRIEFGEN_MODEL",
        "OPENAI_BASE_URL",
    ):
        assert option in sub
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    assert schema == Document.model_json_schema()
    assert "articles" in schema["properties"] and "verification" in schema["properties"]

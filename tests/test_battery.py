"""The recorded battery of wrong answers: every way a model gets it wrong is caught.

`cassettes/battery.yaml` replays a scripted model that errs on purpose and keeps erring on
every re-ask (see `cassettes/script/battery/`, each wrong item marked `_error`). These tests
prove each error was sent back to the model, dropped on its own, reported with its reason,
and that nothing from it reaches the brief.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from briefgen._cli import app
from conftest import CASSETTES, TESTS

ARTICLES = TESTS / "battery" / "articles"
CASSETTE = CASSETTES / "battery.yaml"

# Each wrong answer, where it was dropped, and what the reason says.
CAUGHT = {
    "fabricated figure": ("101.figures[2]", "value '560,000' does not occur in its cited"),
    "right figure, wrong sentence": ("101.figures[3]", "'541,000' does not occur in its cited"),
    "hedged figure reported bare": ("101.figures[4]", "give 'nearly' as the qualifier"),
    "sentence id past the end": ("101.figures[5]", "cites S12, but the article has sentences"),
    "paraphrased quote": ("101.positions[2]", "is not verbatim in its cited sentences"),
    "actor never named": ("101.positions[4]", "'Amnesty International', who is not named"),
    "obeyed instruction: made-up figure": ("103.figures[1]", "value '0' does not occur"),
    "obeyed instruction: quoted it": ("103.positions[1]", "cites S4, an instruction planted"),
    "obeyed instruction: summary": ("103.summary", "repeats the instruction planted in S4"),
    "corpus cites a missing item": ("corpus.figure_groups[3]", "'101.F9' is not an item id"),
    "corpus dated by the instruction": ("corpus.timeline[2]", "'103.S4' is an instruction"),
}
# What the wrong answers say; none of it may reach the brief.
WRONG = ["560,000", "no one was deported", "forced out", "Amnesty", "101.F9", "103.S4"]


def run(*options: str) -> Any:
    args = ["summarize", str(ARTICLES), "--replay", str(CASSETTE), *options]
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result = run("--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def markdown() -> str:
    result = run()
    assert result.exit_code == 0, result.output
    return str(result.stdout)


@pytest.mark.parametrize("error", list(CAUGHT))
def test_each_wrong_answer_is_dropped_with_its_reason(document: dict[str, Any], error: str) -> None:
    where, reason = CAUGHT[error]
    dropped = {d["where"]: d["reason"] for d in document["verification"]["dropped"]}
    assert reason in dropped[where]


def test_nothing_else_is_dropped(document: dict[str, Any]) -> None:
    dropped = [d["where"] for d in document["verification"]["dropped"]]
    assert sorted(dropped) == sorted(where for where, _ in CAUGHT.values())


def test_each_error_was_sent_back_to_the_model_before_it_was_dropped() -> None:
    bodies = [
        json.loads(interaction["request"]["body"])
        for interaction in yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))["interactions"]
    ]
    reasks = [
        str(message["content"])
        for body in bodies
        for message in body["messages"]
        if "Validation Error found" in str(message.get("content"))
    ]
    for where, reason in CAUGHT.values():
        assert any(reason in text for text in reasks), where


def test_what_the_wrong_answers_say_never_reaches_the_brief(
    markdown: str, document: dict[str, Any]
) -> None:
    shown = {key: value for key, value in document.items() if key != "verification"}
    for text in WRONG:
        assert text not in markdown
        assert text not in json.dumps(shown, ensure_ascii=False)


def test_right_items_beside_the_wrong_ones_survive(document: dict[str, Any]) -> None:
    figures = {f["id"]: f for a in document["articles"] for f in a["figures"]}
    assert figures["101.F2"]["qualifier"] == "between"
    assert figures["101.F2"]["amount"] == {"low": 3_000_000, "high": 4_000_000, "percent": False}
    assert figures["103.F1"]["value"] == "2,000"
    quotes = [p["quote"] for a in document["articles"] for p in a["positions"]]
    assert "People are being pushed out ... that is not a choice" in quotes
    assert "We left everything behind" in quotes
    relations = [g["relation"] for g in document["corpus"]["figure_groups"]]
    assert relations == ["consistent", "consistent"]  # the second re-labelled from conflicting


def test_the_planted_instruction_is_flagged_without_repeating_it(
    markdown: str, document: dict[str, Any]
) -> None:
    assert [a["instructions"] for a in document["articles"]] == [[], [], [4]]
    assert "⚠ S4 of this article reads as an instruction to AI systems" in markdown


def test_the_verification_line_counts_the_drops(markdown: str) -> None:
    assert f"items verified, {len(CAUGHT)} dropped." in markdown


def test_verbose_lists_the_drops_and_strict_fails_on_them() -> None:
    verbose = run("-v")
    assert verbose.exit_code == 0
    for where, reason in CAUGHT.values():
        assert f"dropped {where}: " in verbose.stderr
        assert reason in verbose.stderr
    strict = run("--strict")
    assert strict.exit_code == 1
    assert f"{len(CAUGHT)} items failed verification" in strict.stderr


def test_a_group_mislabelled_conflicting_is_re_labelled_not_dropped(
    document: dict[str, Any],
) -> None:
    # The scripted corpus answer marks a group of equal values "conflicting" (issue 10:
    # the smallest repair is the label, which the values decide).
    groups = {g["metric"]: g for g in document["corpus"]["figure_groups"]}
    assert groups["Afghans who left Pakistan"]["relation"] == "consistent"
    assert not groups["Afghans who left Pakistan"]["within_rounding"]

"""The corpus step past the context budget: parts, a merge, and nothing lost on the way."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from briefgen._cli import app
from briefgen._ingest import load
from briefgen._llm import Settings
from briefgen._pipeline import Pipeline, brief_view, carry_over
from briefgen._schema import ActorGroup, ArticleBrief, CorpusBrief, FigureGroup
from briefgen._tokens import count_tokens
from briefgen._verify import ArticleResult, ItemIndex
from conftest import CASSETTES, DUMMY_KEY, SEED_CASSETTE, SEED_SCRIPT, SEEDS

TREE = CASSETTES / "seeds-tree.yaml"
BUDGET = "3000"  # as tests/cassettes/record.py records it


def _replay(cassette: Any, *options: str) -> Any:
    args = ["summarize", str(SEEDS), "--replay", str(cassette), "--format", "json", *options]
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def tree() -> Any:
    return _replay(TREE, "--context-budget", BUDGET)


@pytest.fixture(scope="module")
def flat() -> dict[str, Any]:
    result = _replay(SEED_CASSETTE)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _recorded_answers(kind: str) -> list[dict[str, Any]]:
    """The corpus answers in the tree recording whose prompt is of `kind` (article|partial)."""
    answers = []
    for interaction in yaml.safe_load(TREE.read_text(encoding="utf-8"))["interactions"]:
        request = json.loads(interaction["request"]["body"])
        user = next(m["content"] for m in request["messages"] if m["role"] == "user")
        if f" {kind} briefs follow (" in user:
            body = json.loads(interaction["response"]["body"]["string"])
            call = body["choices"][0]["message"]["tool_calls"][0]
            answers.append(json.loads(call["function"]["arguments"]))
    return answers


def test_a_small_budget_forces_two_levels(tree: Any) -> None:
    assert tree.exit_code == 0, tree.output
    assert "in 2 corpus levels" in tree.stderr
    assert len(_recorded_answers("article")) == 2  # two parts ...
    assert len(_recorded_answers("partial")) == 1  # ... and one merge


def test_every_verified_figure_is_still_reachable(tree: Any, flat: dict[str, Any]) -> None:
    data = json.loads(tree.stdout)
    figures = {f["id"] for a in data["articles"] for f in a["figures"]}
    assert figures == {f["id"] for a in flat["articles"] for f in a["figures"]}
    assert len(figures) == 30
    grouped = {m for g in data["corpus"]["figure_groups"] for m in g["members"]}
    # Whatever any part grouped is grouped in the final brief, merged or carried over.
    for part in _recorded_answers("article"):
        for group in part["figure_groups"]:
            assert set(group["members"]) <= grouped
    # And the merge joined across parts: the time series spans both.
    series = next(g for g in data["corpus"]["figure_groups"] if g["relation"] == "timeline")
    assert {m.split(".")[0] for m in series["members"]} == {"000", "001", "002", "003", "004"}


def test_the_merged_brief_has_every_actor_once_and_every_part_kept(tree: Any) -> None:
    corpus = json.loads(tree.stdout)["corpus"]
    members = [m for g in corpus["actors"] for m in g["members"]]
    assert len(members) == len(set(members))
    parts = _recorded_answers("article")
    assert set(members) == {m for p in parts for g in p["actors"] for m in g["members"]}
    positions = {p for i in corpus["issues"] for p in i["positions"]}
    assert positions >= {p for part in parts for i in part["issues"] for p in i["positions"]}
    events = {(e["date"], tuple(e["sources"])) for e in corpus["timeline"] if not e["series"]}
    for part in parts:
        assert {(e["date"], tuple(e["sources"])) for e in part["timeline"]} <= events


def test_the_merge_left_out_parts_on_purpose() -> None:
    # The recording is only a proof of carry-over if the merge really left things out.
    merge = _recorded_answers("partial")[0]
    assert not any(g["relation"] == "internal_discrepancy" for g in merge["figure_groups"])
    assert merge["timeline"] == []


def test_the_default_budget_replays_the_one_call_recording(flat: dict[str, Any]) -> None:
    assert len(flat["corpus"]["figure_groups"]) == 5


def test_a_budget_too_small_for_one_brief_is_a_one_line_error() -> None:
    result = _replay(SEED_CASSETTE, "--context-budget", "1000")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "BudgetError: --context-budget 1,000 is too small: article 000's brief" in result.stderr


@pytest.fixture(scope="module")
def results() -> list[ArticleResult]:
    from scripted import _clean

    out = []
    for article in load([SEEDS]):
        script = json.loads((SEED_SCRIPT / f"{article.id}.json").read_text(encoding="utf-8"))
        brief = ArticleBrief.model_validate(
            _clean(script["answers"][-1]), context={"article": article}
        )
        out.append(ArticleResult(article, brief))
    return out


def test_partitions_keep_order_and_fit_the_budget(results: list[ArticleResult]) -> None:
    pipeline = Pipeline(Settings(api_key=DUMMY_KEY), context_budget=int(BUDGET))
    units = [brief_view(r) for r in results]
    chunks = pipeline.partition("corpus", units)
    assert [[u["id"] for u in c] for c in chunks] == [["000"], ["001", "002", "003", "004"]]
    for chunk in chunks:
        system, user = pipeline._prompts("corpus", chunk)
        assert count_tokens(system) + count_tokens(user) <= int(BUDGET)
    pipeline.context_budget = 100_000
    assert len(pipeline.partition("corpus", units)) == 1


def test_carry_over_keeps_what_a_merge_left_out(results: list[ArticleResult]) -> None:
    index = ItemIndex(results)
    part = CorpusBrief(
        overview="",
        actors=[ActorGroup(name="Baloch", members=["000.A1", "002.A1"])],
        figure_groups=[
            FigureGroup(metric="m", relation="internal_discrepancy", members=["001.F1", "001.F2"])
        ],
        disputes=[],
        timeline=[],
    )
    merged = CorpusBrief(
        overview="o",
        actors=[ActorGroup(name="Mumtaz Zahra Baloch", members=["002.A1", "004.A4"])],
        figure_groups=[],
        disputes=[],
        timeline=[],
    )
    final = carry_over(merged, [part], index)
    assert [g.members for g in final.actors] == [["002.A1", "004.A4"], ["000.A1"]]
    # The carried group keeps a name its remaining member goes by.
    assert final.actors[1].name == "Baloch"
    assert final.figure_groups == part.figure_groups
    assert final.overview == "o"


def test_tokens_are_counted_offline_and_the_same_everywhere() -> None:
    # cl100k_base, bundled: the suite runs with the network blocked.
    assert count_tokens("907,391 Afghans") == 6
    assert count_tokens("<|endoftext|>") > 1  # article text, not a special token

"""The grounding validators: what they accept and what they send back to the model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from briefgen._corpus import Article, load
from briefgen._schema import ArticleBrief, CorpusBrief, Figure, Position
from briefgen._verify import ArticleResult, ItemIndex
from conftest import SEEDS


@pytest.fixture(scope="module")
def article() -> Article:
    return {a.id: a for a in load([SEEDS])}["001"]


def brief(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Pakistan says 907,391 Afghans deported",
        "published": {"date": "2025", "inferred": True, "basis": "second phase this year"},
        "summary": "A minister gave a deportation count.",
        "actors": [
            {
                "name": "Talal Chaudhry",
                "kind": "person",
                "role": "State Minister",
                "aliases": ["Chaudhry"],
                "sentences": [1],
            }
        ],
        "figures": [
            {
                "value": "907,391",
                "measures": "Afghans deported",
                "unit": "people",
                "sentences": [1],
            },
            {
                "value": "907,351",
                "measures": "people sent back",
                "unit": "people",
                "sentences": [7],
            },
        ],
        "positions": [
            {
                "actor": "Chaudhry",
                "issue": "conduct of returns",
                "stance": "dignified",
                "quote": "Pakistan has sent back 907,351 people in a dignified manner",
                "sentences": [7],
            }
        ],
        "disputes": [],
    }
    base.update(changes)
    return base


def test_a_grounded_brief_validates(article: Article) -> None:
    parsed = ArticleBrief.model_validate(brief(), context={"article": article})
    assert [f.value for f in parsed.figures] == ["907,391", "907,351"]


def test_a_figure_citing_the_wrong_sentence_is_rejected(article: Article) -> None:
    figure = {"value": "907,351", "measures": "sent back", "unit": "people", "sentences": [1]}
    with pytest.raises(ValidationError, match="'907,351' does not occur in its cited sentences S1"):
        Figure.model_validate(figure, context={"article": article})


def test_a_sentence_id_past_the_end_is_rejected(article: Article) -> None:
    figure = {"value": "907,391", "measures": "x", "unit": "people", "sentences": [1, 99]}
    with pytest.raises(ValidationError, match="cites S99, but the article has sentences S1 to S20"):
        Figure.model_validate(figure, context={"article": article})


def test_a_figure_must_cite_something(article: Article) -> None:
    with pytest.raises(ValidationError):
        Figure.model_validate(
            {"value": "907,391", "measures": "x", "unit": "p", "sentences": []},
            context={"article": article},
        )


def test_a_paraphrased_quote_is_rejected(article: Article) -> None:
    position = {
        "actor": "Chaudhry",
        "issue": "returns",
        "stance": "dignified",
        "quote": "We have deported 907,351 people with dignity",
        "sentences": [7],
    }
    with pytest.raises(ValidationError, match="not verbatim"):
        Position.model_validate(position, context={"article": article})


def test_a_position_held_by_someone_the_article_never_names_is_rejected(article: Article) -> None:
    bad = brief(
        positions=[
            {"actor": "Imran Khan", "issue": "returns", "stance": "against", "sentences": [7]}
        ]
    )
    with pytest.raises(ValidationError, match="'Imran Khan', who is not named"):
        ArticleBrief.model_validate(bad, context={"article": article})


def test_a_number_in_the_summary_must_be_in_the_article(article: Article) -> None:
    with pytest.raises(ValidationError, match="summary states '1,000,000'"):
        ArticleBrief.model_validate(
            brief(summary="About 1,000,000 Afghans left."), context={"article": article}
        )


def test_dates_must_be_iso_at_a_known_precision(article: Article) -> None:
    ok = brief(published={"date": "2024-11", "inferred": True, "basis": "x"})
    ArticleBrief.model_validate(ok, context={"article": article})
    with pytest.raises(ValidationError, match="not an ISO date"):
        ArticleBrief.model_validate(
            brief(published={"date": "Nov 2024", "inferred": True, "basis": "x"}),
            context={"article": article},
        )


@pytest.fixture(scope="module")
def index(article: Article) -> ItemIndex:
    parsed = ArticleBrief.model_validate(brief(), context={"article": article})
    return ItemIndex([ArticleResult(article, parsed)])


def corpus(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "overview": "Pakistan reports deportations.",
        "actors": [{"name": "Talal Chaudhry", "members": ["001.A1"]}],
        "figure_groups": [
            {
                "metric": "Afghans sent back",
                "relation": "internal_discrepancy",
                "members": ["001.F1", "001.F2"],
            }
        ],
        "disputes": [],
        "timeline": [{"date": "2023-11", "event": "Campaign launched", "sources": ["001.S2"]}],
    }
    base.update(changes)
    return base


def check(index: ItemIndex, answer: dict[str, Any]) -> CorpusBrief:
    return CorpusBrief.model_validate(answer, context={"check_corpus": index.check})


def test_a_corpus_answer_in_existing_ids_validates(index: ItemIndex) -> None:
    assert check(index, corpus()).figure_groups[0].relation == "internal_discrepancy"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"actors": [{"name": "Talal Chaudhry", "members": ["001.A7"]}]}, "'001.A7' is not an"),
        ({"actors": [{"name": "Shehbaz Sharif", "members": ["001.A1"]}]}, "not a name any member"),
        (
            {
                "figure_groups": [
                    {"metric": "m", "relation": "consistent", "members": ["001.F1", "001.F2"]}
                ]
            },
            "marked consistent",
        ),
        (
            {
                "figure_groups": [
                    {"metric": "m", "relation": "conflicting", "members": ["001.F1", "001.F1"]}
                ]
            },
            "all its values are equal",
        ),
        (
            {
                "figure_groups": [
                    {"metric": "m", "relation": "timeline", "members": ["001.F1", "001.P1"]}
                ]
            },
            "not a figure id",
        ),
        ({"overview": "Some 1,000,000 left."}, "'1,000,000' is not stated"),
        ({"timeline": [{"date": "2019", "event": "x", "sources": ["001.S2"]}]}, "date 2019"),
        (
            {
                "disputes": [
                    {
                        "topic": "t",
                        "sides": [
                            {"label": "a", "positions": ["001.P1"]},
                            {"label": "b", "positions": ["009.P1"]},
                        ],
                    }
                ]
            },
            "'009.P1' is not an item id",
        ),
    ],
)
def test_corpus_answers_that_do_not_rest_on_the_items_are_rejected(
    index: ItemIndex, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        check(index, corpus(**changes))

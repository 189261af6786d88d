"""Checks on real-world wordings: each rule on sentences as newspapers write them, with
what a careful analyst would answer — items that must verify (a false rejection if they do
not) and items that must not (a false acceptance if they do).

The sentences are from real reporting (paraphrased where only the wording matters); the
counts of false rejections and false acceptances are pinned at zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from briefgen._document import _amount
from briefgen._ingest import Article, load
from briefgen._schema import Figure


def article(tmp_path: Path, *sentences: str) -> Article:
    (tmp_path / "001_a.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    return load([tmp_path])[0]


def verifies(model: Any, item: dict[str, Any], source: Article) -> bool:
    try:
        model.model_validate(item, context={"article": source})
    except ValidationError:
        return False
    return True


# --- vague quantities ------------------------------------------------------------------------

VAGUE_ACCEPT = [
    ("Of the 1,500 families told to register, only a few dozen have done so.", "a few dozen"),
    ("Dozens of homes were swept away when the river burst its banks.", "dozens"),
    ("A dozen villages remain cut off, the district officer said.", "a dozen"),
    (
        "Hundreds of thousands of people have fled the fighting since March.",
        "hundreds of thousands",
    ),
    ("Only a handful of shops reopened on Monday.", "a handful"),
    ("Scores of protesters were detained outside the parliament.", "scores"),
    ("Tens of thousands marched through the capital on Saturday.", "tens of thousands"),
    ("Several hundred migrants were moved to a camp near the border.", "several hundred"),
    ("Two dozen patients were evacuated from the hospital.", "two dozen"),
]
VAGUE_REJECT = [
    ("Of the 1,500 families told to register, only a few dozen have done so.", "dozens"),
    ("Dozens of homes were swept away when the river burst its banks.", "hundreds"),
    ("Tens of thousands marched through the capital on Saturday.", "hundreds of thousands"),
    ("Two dozen patients were evacuated from the hospital.", "a dozen"),
]


def figure(value: str) -> dict[str, Any]:
    return {"value": value, "measures": "people", "unit": "people", "sentences": [1]}


@pytest.mark.parametrize(("sentence", "value"), VAGUE_ACCEPT)
def test_a_vague_quantity_as_written_is_a_figure(tmp_path: Path, sentence: str, value: str) -> None:
    assert verifies(Figure, figure(value), article(tmp_path, sentence))


@pytest.mark.parametrize(("sentence", "value"), VAGUE_REJECT)
def test_a_vague_quantity_the_sentence_does_not_write_is_rejected(
    tmp_path: Path, sentence: str, value: str
) -> None:
    assert not verifies(Figure, figure(value), article(tmp_path, sentence))


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ("a dozen", 12, 12),
        ("two dozen", 24, 24),
        ("dozens", 24, 99),
        ("a few dozen", 24, 60),
        ("scores", 40, 99),
        ("a handful", 2, 5),
        ("several hundred", 300, 900),
        ("hundreds", 200, 999),
        ("thousands", 2_000, 9_999),
        ("tens of thousands", 20_000, 99_999),
        ("hundreds of thousands", 200_000, 999_999),
        ("millions", 2_000_000, 9_999_999),
    ],
)
def test_a_vague_quantity_is_read_as_its_documented_range(value: str, low: int, high: int) -> None:
    amount = _amount(value)
    assert (amount.low, amount.high) == (low, high)


def test_a_vague_quantity_in_the_models_own_words_must_be_the_articles(tmp_path: Path) -> None:
    from briefgen._schema import unsupported_numbers

    source = article(tmp_path, "Dozens of homes were swept away, officials said.")
    assert unsupported_numbers("Dozens of homes were lost.", source.sentences) == []
    assert unsupported_numbers("Hundreds of homes were lost.", source.sentences) == ["Hundreds"]


# --- names -------------------------------------------------------------------------------------

NAME_ACCEPT = [
    (
        "The United Nations’ (UN) refugee agency said 3,000 families had returned.",
        "UN refugee agency",
    ),
    (
        "The United Nations’ (UN) refugee agency said 3,000 families had returned.",
        "United Nations refugee agency",
    ),
    ("Pakistan’s foreign ministry said the deadline would not move.", "Pakistan foreign ministry"),
    ("The ministry’s spokeswoman Mumtaz Zahra Baloch spoke in Islamabad.", "Mumtaz Zahra Baloch"),
    ("Tehreek-i-Taliban Pakistan (TTP) fighters crossed the border.", "Tehreek i Taliban Pakistan"),
    ("The Red Cross opened 12 shelters on Monday.", "the Red Cross"),
    ("Officials at the red cross opened 12 shelters.", "Red Cross"),
]
NAME_REJECT = [
    ("Doctors who treated the patients said 40 had died.", "WHO"),
    ("The fund paid out 3,000 grants in March.", "UN"),
    ("The Red Crescent opened 12 shelters on Monday.", "Red Cross"),
    ("Pakistan’s foreign ministry said the deadline would not move.", "Afghan foreign ministry"),
]


def actor(name: str) -> dict[str, Any]:
    return {"name": name, "kind": "organisation", "role": "agency", "sentences": [1]}


@pytest.mark.parametrize(("sentence", "name"), NAME_ACCEPT)
def test_an_actor_verifies_however_the_text_inflects_its_name(
    tmp_path: Path, sentence: str, name: str
) -> None:
    from briefgen._schema import Actor

    assert verifies(Actor, actor(name), article(tmp_path, sentence))


@pytest.mark.parametrize(("sentence", "name"), NAME_REJECT)
def test_an_actor_the_text_does_not_name_is_rejected(
    tmp_path: Path, sentence: str, name: str
) -> None:
    from briefgen._schema import Actor

    assert not verifies(Actor, actor(name), article(tmp_path, sentence))


def test_an_acronym_counts_only_in_capitals(tmp_path: Path) -> None:
    from briefgen._schema import Actor

    source = article(
        tmp_path,
        "The World Health Organization (WHO) sent teams to the region.",
        "Doctors who treated the patients said 40 had died.",
    )
    assert not verifies(Actor, {**actor("WHO"), "sentences": [2]}, source)
    assert verifies(Actor, {**actor("WHO"), "sentences": [1]}, source)


def test_an_acronym_the_article_declares_is_an_alias_elsewhere_in_it(tmp_path: Path) -> None:
    from briefgen._schema import Actor

    source = article(
        tmp_path,
        "The United Nations High Commissioner for Refugees (UNHCR) opened an office in Kabul.",
        "UNHCR said 3,000 people had returned in March.",
    )
    item = {**actor("United Nations High Commissioner for Refugees"), "sentences": [2]}
    assert verifies(Actor, item, source)


# --- dates -------------------------------------------------------------------------------------

AS_OF_ACCEPT = [
    # (sentence, value, as_of, publication date)
    ("The agency counted 3,500 returnees in November 2018.", "3,500", "2018-11", "2019-08-02"),
    ("In November 2018, the agency counted 3,500 returnees.", "3,500", "2018-11", "2019-08-02"),
    (
        "Some 1,200 people are still in shelters, officials said.",
        "some 1,200",
        "2019-08",
        "2019-08-02",
    ),
    (
        "Since 2021, more than 500,000 Afghans have returned.",
        "more than 500,000",
        "2024-10",
        "2024-10-03",
    ),
    (
        "The Amite River in Magnolia crested at more than 58.56 feet -- beating the previous "
        "record by more than 6 feet set in 1977.",
        "more than 6",
        "2016-08",
        "2016-08-16",
    ),
    ("As of March, 12,000 people were in shelters.", "12,000", "2024-03", "2024-05-01"),
    # Dates of other things in the sentence: a compared figure's, an office's, a building's.
    (
        "Some 1,200 people remain in shelters, down from 5,000 in March.",
        "some 1,200",
        "2024-05",
        "2024-05-02",
    ),
    ("Cases rose to 3,500 this year, up from 2,900 in 2022.", "3,500", "2024", "2024-05-02"),
    (
        "Mayor Ana Ruiz, elected in 2019, said 1,200 homes remain damaged.",
        "1,200",
        "2024-05",
        "2024-05-02",
    ),
    ("The school, which opened in 2015, has 900 pupils.", "900", "2024-05", "2024-05-02"),
]
AS_OF_REJECT = [
    ("The agency counted 3,500 returnees in November 2018.", "3,500", "2019-08", "2019-08-02"),
    ("In November 2018, the agency counted 3,500 returnees.", "3,500", "2019-08", "2019-08-02"),
    ("At the end of 2023 there were 1.3 million refugees.", "1.3 million", "2024-02", "2024-02-10"),
    ("As of March, 12,000 people were in shelters.", "12,000", "2024-05", "2024-05-01"),
]


def dated_figure(value: str, as_of: str) -> dict[str, Any]:
    return {**figure(value), "as_of": as_of}


@pytest.mark.parametrize(("sentence", "value", "as_of", "published"), AS_OF_ACCEPT)
def test_an_as_of_the_sentence_states_or_leaves_to_the_publication_date_verifies(
    tmp_path: Path, sentence: str, value: str, as_of: str, published: str
) -> None:
    from briefgen._schema import Published, as_of_problem

    source = article(tmp_path, sentence)
    item = Figure.model_validate(dated_figure(value, as_of), context={"article": source})
    when = Published(date=published, inferred=False, basis="stated")
    assert as_of_problem(item, when, source) is None


@pytest.mark.parametrize(("sentence", "value", "as_of", "published"), AS_OF_REJECT)
def test_an_as_of_the_sentence_contradicts_is_rejected(
    tmp_path: Path, sentence: str, value: str, as_of: str, published: str
) -> None:
    from briefgen._schema import Published, as_of_problem

    source = article(tmp_path, sentence)
    item = Figure.model_validate(dated_figure(value, as_of), context={"article": source})
    when = Published(date=published, inferred=False, basis="stated")
    assert as_of_problem(item, when, source) is not None


# --- prose that is prose -------------------------------------------------------------------------

from briefgen._grounding import unreadable  # noqa: E402

READABLE = [
    "Pakistan will not deport at-risk groups",
    "Caretaker Prime Minister of Pakistan",
    "people sent back to Afghanistan since November 2023",
    "Whether the deportations should go on",
    "UN refugee agency",
    "mayor",
]
UNREADABLE = [
    "S1",
    "[S4], [S5]",
    '", "type"',
    ', "type": "person"',
    "S.S.S.S.S.S.S.S.",
    "001.F2",
    "Article 001 (001_a.txt), 3 sentences:",
    "…, —, ;",
    "—",
]


@pytest.mark.parametrize("text", READABLE)
def test_model_words_that_read_as_words_pass(text: str) -> None:
    assert unreadable(text) is None


@pytest.mark.parametrize("text", UNREADABLE)
def test_ids_json_letter_runs_and_prompt_echoes_are_not_prose(text: str) -> None:
    assert unreadable(text) is not None


def test_a_position_whose_stance_is_an_id_is_rejected(tmp_path: Path) -> None:
    from briefgen._schema import Position

    source = article(tmp_path, "“We will rebuild every home,” Mayor Ana Ruiz said.")
    item = {"actor": "Ana Ruiz", "issue": "rebuilding", "stance": "S1", "sentences": [1]}
    assert not verifies(Position, item, source)
    assert verifies(Position, {**item, "stance": "Promises to rebuild"}, source)


# --- agreement within rounding -----------------------------------------------------------------

from decimal import Decimal  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from briefgen._grounding import agree, interval  # noqa: E402

AGREE = [
    [("3,500", "some"), ("3,500", "nearly"), ("3,450", None), ("3,000", "more than")],
    [("400", "around"), ("397", None)],
    [("2.8 million", None), ("2,800,000", None)],
    [("six", None), ("6", "at least")],
    [("dozens", None), ("40", None)],
    [("more than 2.8 million", None), ("3.2 million", "around")],
    [("3,500", "up to"), ("2,000", None)],
    [("350", "fewer than"), ("200", None)],
]
DISAGREE = [
    [("907,391", None), ("907,351", None)],
    [("3,500", "nearly"), ("3,600", None)],
    [("6", None), ("8", "at least")],
    [("84%", None), ("84", None)],
    [("a dozen", None), ("20", None)],
    [("10", None), ("14", None)],  # a bare count is exact: a crash killed 10, or 14
    [("100", None), ("149", None)],
]


def spans(values: list[tuple[str, str | None]]) -> list[tuple[Decimal, Decimal, bool]]:
    out = [interval(v, q) for v, q in values]
    assert None not in out
    return [s for s in out if s is not None]


@pytest.mark.parametrize("values", AGREE)
def test_values_that_can_all_be_true_agree(values: list[tuple[str, str | None]]) -> None:
    assert agree(spans(values))


@pytest.mark.parametrize("values", DISAGREE)
def test_values_that_cannot_all_be_true_disagree(values: list[tuple[str, str | None]]) -> None:
    assert not agree(spans(values))


numbers = st.integers(min_value=1, max_value=10_000_000).map(lambda n: f"{n:,}")
hedges = st.sampled_from([None, "about", "nearly", "more than", "at least", "up to", "some"])


@given(numbers, hedges, numbers, hedges)
def test_agreement_is_symmetric(a: str, ha: str | None, b: str, hb: str | None) -> None:
    first, second = interval(a, ha), interval(b, hb)
    assert first is not None and second is not None
    assert agree([first, second]) == agree([second, first])


@given(numbers, hedges)
def test_a_value_agrees_with_itself(value: str, hedge: str | None) -> None:
    span = interval(value, hedge)
    assert span is not None and agree([span, span])


@given(numbers, st.sampled_from(["about", "some", "around", "more than", "at least", "nearly"]))
def test_a_value_agrees_with_a_looser_hedge_of_itself(value: str, hedge: str) -> None:
    exact, hedged = interval(value), interval(value, hedge)
    assert exact is not None and hedged is not None
    assert agree([exact, hedged])


# --- attribution -------------------------------------------------------------------------------

ATTRIBUTED = [
    # (sentences, holder, role, cited)
    (["“We will rebuild every home,” Mayor Ana Ruiz said."], "Ana Ruiz", "mayor", [1]),
    (
        ["Kakar wrote in an article for Arab News:", "“We will not deport at-risk groups.”"],
        "Kakar",
        "caretaker prime minister",
        [2],
    ),
    (
        ["Kakar spoke in Islamabad on Monday.", "He said Pakistan would not back down."],
        "Kakar",
        "caretaker prime minister",
        [2],
    ),
    (
        [
            "Mumtaz Zahra Baloch briefed reporters on Thursday.",
            "The spokeswoman said the plan would go ahead.",
        ],
        "Mumtaz Zahra Baloch",
        "foreign ministry spokeswoman",
        [2],
    ),
]
MISATTRIBUTED = [
    (
        [
            "Kakar spoke in Islamabad on Monday.",
            "The weather was cold.",
            "Rain fell.",
            "The ministry said the plan would go ahead.",
        ],
        "Kakar",
        "caretaker prime minister",
        [4],
    ),
    (
        ["“We will rebuild every home,” Mayor Ana Ruiz said.", "Governor Tom Lee visited."],
        "Tom Lee",
        "governor",
        [1],
    ),
]


def attributed(
    tmp_path: Path, sentences: list[str], holder: str, role: str, cited: list[int]
) -> bool:
    from briefgen._schema import Actor, Position, attribution_problems

    source = article(tmp_path, *sentences)
    mentions_at = next(i for i, s in enumerate(sentences, 1) if holder.split()[-1] in s)
    actor = Actor.model_construct(
        name=holder, kind="person", role=role, aliases=[], sentences=[mentions_at]
    )
    position = Position.model_construct(
        actor=holder, issue="the plan", stance="Backs the plan", quote=None, sentences=cited
    )
    return attribution_problems(position, [actor], source) == []


@pytest.mark.parametrize(("sentences", "holder", "role", "cited"), ATTRIBUTED)
def test_a_position_whose_sentences_attribute_it_belongs_to_its_holder(
    tmp_path: Path, sentences: list[str], holder: str, role: str, cited: list[int]
) -> None:
    assert attributed(tmp_path, sentences, holder, role, cited)


@pytest.mark.parametrize(("sentences", "holder", "role", "cited"), MISATTRIBUTED)
def test_a_position_whose_sentences_never_name_its_holder_is_rejected(
    tmp_path: Path, sentences: list[str], holder: str, role: str, cited: list[int]
) -> None:
    assert not attributed(tmp_path, sentences, holder, role, cited)


def test_a_figure_resting_only_on_the_headline_is_rejected(tmp_path: Path) -> None:
    source = article(
        tmp_path, "Floods force 20,000 from their homes", "More than 20,000 people have fled."
    )
    assert source.headline == 1
    assert not verifies(Figure, figure("20,000"), source)
    assert verifies(
        Figure, {**figure("20,000"), "qualifier": "More than", "sentences": [2]}, source
    )


# --- breakdowns ----------------------------------------------------------------------------------


def breakdown_of(tmp_path: Path, sentences: list[str], values: list[str]) -> Any:
    from briefgen._document import build
    from briefgen._schema import ArticleBrief, CorpusBrief
    from briefgen._verify import ArticleResult, CorpusResult

    source = article(tmp_path, *sentences)
    figures = [
        {**figure(v.split(" ", 1)[-1] if " " in v and v[0].isalpha() else v), "sentences": [n]}
        | ({"qualifier": v.rsplit(" ", 1)[0]} if v[0].isalpha() else {})
        for n, v in enumerate(values, start=1)
    ]
    brief = ArticleBrief.model_validate(
        {
            "title": "Families moved",
            "published": {"date": None, "inferred": True, "basis": "no date in the text"},
            "summary": "",
            "actors": [],
            "figures": figures,
            "positions": [],
            "disputes": [],
        },
        context={"article": source},
    )
    corpus = CorpusBrief(
        overview="",
        actors=[],
        figure_groups=[],
        breakdowns=[{"total": "001.F1", "parts": [f"001.F{n}" for n in range(2, len(values) + 1)]}],
        issues=[],
        disputes=[],
        timeline=[],
    )
    return build(CorpusResult(brief=corpus, articles=[ArticleResult(source, brief)])).corpus


def test_parts_that_add_to_the_total_account_for_it(tmp_path: Path) -> None:
    corpus = breakdown_of(
        tmp_path,
        ["Officials moved 1,200 families.", "Some 700 went to shelters.", "500 went to relatives."],
        ["1,200", "some 700", "500"],
    )
    assert corpus.breakdowns[0].verdict == "accounts for the total"


def test_parts_that_do_not_add_up_are_shown_short_by_how_much(tmp_path: Path) -> None:
    corpus = breakdown_of(
        tmp_path,
        ["Officials moved 1,200 families.", "700 went to shelters.", "300 went to relatives."],
        ["1,200", "700", "300"],
    )
    b = corpus.breakdowns[0]
    assert (b.sum, b.verdict, b.difference) == ("1,000", "falls short of the total", "200")


def test_a_stance_made_of_name_fragments_is_not_a_sentence(tmp_path: Path) -> None:
    from briefgen._schema import Position

    source = article(tmp_path, "“We will not deport at-risk groups,” Anwaar-ul-Haq Kakar said.")
    item = {"actor": "Anwaar-ul-Haq Kakar", "issue": "deportations", "sentences": [1]}
    assert not verifies(Position, {**item, "stance": "Kakar Anwaar ul Haq"}, source)
    assert verifies(Position, {**item, "stance": "Will not deport at-risk groups"}, source)


# --- the measure -------------------------------------------------------------------------------

BATTERY = {
    "vague quantities": (len(VAGUE_ACCEPT), len(VAGUE_REJECT)),
    "names": (len(NAME_ACCEPT), len(NAME_REJECT)),
    "as-of dates": (len(AS_OF_ACCEPT), len(AS_OF_REJECT)),
    "prose": (len(READABLE), len(UNREADABLE)),
    "agreement": (len(AGREE), len(DISAGREE)),
    "attribution": (len(ATTRIBUTED), len(MISATTRIBUTED)),
}


def test_the_battery_counts_are_the_ones_reported() -> None:
    """tests/WORDINGS.md reports how many right answers each rule must accept and wrong
    ones it must reject; every case is a test above, so the false rejections and false
    acceptances are zero whenever this suite passes."""
    report = (Path(__file__).parent / "WORDINGS.md").read_text(encoding="utf-8")
    for rule, (accept, reject) in BATTERY.items():
        assert f"| {rule} | {accept} | {reject} | 0 | 0 |" in report

"""Checks on real-world wordings: each rule on sentences as newspapers write them, with
what a careful analyst would answer — items that must verify (a false rejection if they do
not) and items that must not (a false acceptance if they do).

The sentences are from real reporting (paraphrased where only the wording matters); the
counts of false rejections and false acceptances are pinned at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    ("A few hundred thousand people are still without power.", "a few hundred thousand"),
    ("Half a dozen ministers resigned on Friday.", "half a dozen"),
    ("A couple of dozen families refused to leave.", "a couple of dozen"),
    ("A half-dozen shelters were opened in Baton Rouge.", "a half-dozen"),
]
VAGUE_REJECT = [
    ("Of the 1,500 families told to register, only a few dozen have done so.", "dozens"),
    ("Dozens of homes were swept away when the river burst its banks.", "hundreds"),
    ("Tens of thousands marched through the capital on Saturday.", "hundreds of thousands"),
    ("Two dozen patients were evacuated from the hospital.", "a dozen"),
    ("Half a dozen ministers resigned on Friday.", "a dozen"),
    ("A few hundred thousand people are still without power.", "a few hundred"),
    ("Test scores fell at 40 schools last year.", "scores"),
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
        ("a few hundred thousand", 200_000, 500_000),
        ("half a dozen", 6, 6),
        ("a couple of dozen", 24, 24),
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
    ("U.N. officials said 3,000 families had returned.", "UN"),
    ("The UN said 3,000 families had returned.", "U.N."),
    ("Vice President J.D. Vance spoke in Ohio.", "J. D. Vance"),
    ("Johnson & Johnson said it would pay $5 million.", "Johnson and Johnson"),
]
NAME_REJECT = [
    ("Doctors who treated the patients said 40 had died.", "WHO"),
    ("The fund paid out 3,000 grants in March.", "UN"),
    ("The Red Crescent opened 12 shelters on Monday.", "Red Cross"),
    ("Pakistan’s foreign ministry said the deadline would not move.", "Afghan foreign ministry"),
    ("U.S. officials said 3,000 families had returned.", "UN"),
]
# Names over two sentences: (sentences, name, kind, cited sentence).
NAMED_LATER_ACCEPT = [
    (
        [
            "The Centers for Disease Control and Prevention (CDC) confirmed 40 cases.",
            "The CDC urged calm.",
        ],
        "Centers for Disease Control and Prevention",
        "organisation",
        2,
    ),
    (
        [
            "The Islamic State of Iraq and the Levant (ISIL) claimed the attack.",
            "ISIL fighters withdrew on Monday.",
        ],
        "Islamic State of Iraq and the Levant",
        "group",
        2,
    ),
    (
        [
            "Fighting spread in the Democratic Republic of the Congo (DRC) in March.",
            "The DRC government asked for help.",
        ],
        "Democratic Republic of the Congo",
        "government",
        2,
    ),
    (
        ["Anwaar-ul-Haq Kakar spoke on Monday.", "Kakar said the plan would go ahead."],
        "Anwaar-ul-Haq Kakar",
        "person",
        2,
    ),
]
NAMED_LATER_ACCEPT.append(
    (
        [
            "Health Secretary Robert F. Kennedy Jr. spoke on Monday.",
            "Kennedy said it would change.",
        ],
        "Robert F. Kennedy Jr.",
        "person",
        2,
    )
)
NAMED_LATER_REJECT = [
    (
        ["Fighting spread on Monday.", "Kakar said the plan would go ahead."],
        "Anwaar-ul-Haq Kakar",
        "person",
        2,
    ),
    (
        ["The Democratic Party (DP) won.", "The DRC government asked for help."],
        "Democratic Party",
        "organisation",
        2,
    ),
]


@pytest.mark.parametrize(("sentences", "name", "kind", "cited"), NAMED_LATER_ACCEPT)
def test_an_actor_named_earlier_in_full_verifies_by_its_short_name(
    tmp_path: Path, sentences: list[str], name: str, kind: str, cited: int
) -> None:
    from briefgen._schema import Actor

    item = {**actor(name), "kind": kind, "sentences": [cited]}
    assert verifies(Actor, item, article(tmp_path, *sentences))


@pytest.mark.parametrize(("sentences", "name", "kind", "cited"), NAMED_LATER_REJECT)
def test_an_actor_its_sentence_does_not_name_is_rejected(
    tmp_path: Path, sentences: list[str], name: str, kind: str, cited: int
) -> None:
    from briefgen._schema import Actor

    item = {**actor(name), "kind": kind, "sentences": [cited]}
    assert not verifies(Actor, item, article(tmp_path, *sentences))


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
    ("The agency counted 400 families in March and April 2020.", "400", "2020-03", "2020-06-01"),
    ("By Sept. 5, 2023, 1,200 had left.", "1,200", "2023-09-05", "2023-10-01"),
]
AS_OF_REJECT = [
    ("The agency counted 3,500 returnees in November 2018.", "3,500", "2019-08", "2019-08-02"),
    ("In November 2018, the agency counted 3,500 returnees.", "3,500", "2019-08", "2019-08-02"),
    ("At the end of 2023 there were 1.3 million refugees.", "1.3 million", "2024-02", "2024-02-10"),
    ("As of March, 12,000 people were in shelters.", "12,000", "2024-05", "2024-05-01"),
    # A month and a year written apart date different things.
    (
        "In May, 400 families were counted; by 2021 the number had doubled.",
        "400",
        "2021-05",
        "2022-01-10",
    ),
    ("Last year, 3,000 migrants crossed the border.", "3,000", "2024-05", "2024-05-02"),
    ("The 2020 census counted 3.4 million residents.", "3.4 million", "2024-05", "2024-05-02"),
    ("Since 2021, 500,000 Afghans have returned.", "500,000", "2021", "2024-10-03"),
]


def dated_figure(value: str, as_of: str) -> dict[str, Any]:
    return {**figure(value), "as_of": as_of}


def as_of_verdict(
    tmp_path: Path, sentence: str, value: str, as_of: str, published: str
) -> str | None:
    """Why the figure's as-of date is not supported by `sentence`, or None."""
    from briefgen._schema import Published, as_of_problem

    source = article(tmp_path, sentence)
    item = Figure.model_validate(dated_figure(value, as_of), context={"article": source})
    when = Published(date=published, inferred=False, basis="stated")
    return as_of_problem(item, when, source)


@pytest.mark.parametrize(("sentence", "value", "as_of", "published"), AS_OF_ACCEPT)
def test_an_as_of_the_sentence_states_or_leaves_to_the_publication_date_verifies(
    tmp_path: Path, sentence: str, value: str, as_of: str, published: str
) -> None:
    assert as_of_verdict(tmp_path, sentence, value, as_of, published) is None


@pytest.mark.parametrize(("sentence", "value", "as_of", "published"), AS_OF_REJECT)
def test_an_as_of_the_sentence_contradicts_is_rejected(
    tmp_path: Path, sentence: str, value: str, as_of: str, published: str
) -> None:
    assert as_of_verdict(tmp_path, sentence, value, as_of, published) is not None


# --- prose that is prose -------------------------------------------------------------------------

from briefgen._grounding import unreadable  # noqa: E402

READABLE = [
    "Pakistan will not deport at-risk groups",
    "Caretaker Prime Minister of Pakistan",
    "people sent back to Afghanistan since November 2023",
    "Whether the deportations should go on",
    "UN refugee agency",
    "mayor",
    'Calls the plan "cruel", "unlawful" and "a disgrace"',
    "U.S. and U.K. officials back the deal",
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
    "S1, S2 and S3",
    "null",
]


@pytest.mark.parametrize("text", READABLE)
def test_model_words_that_read_as_words_pass(text: str) -> None:
    assert unreadable(text) is None


@pytest.mark.parametrize("text", UNREADABLE)
def test_ids_json_letter_runs_and_prompt_echoes_are_not_prose(text: str) -> None:
    assert unreadable(text) is not None


# Items whose words are the article's own and must verify: a stance that opens with a
# capitalised verb and names no one else, a measure or unit that says "scores" or
# "millions" as what is counted, not how many.
PROSE_ITEMS = [
    (
        "Turkey said on Tuesday it still opposes NATO membership for Sweden.",
        {"actor": "Turkey", "issue": "Sweden joining NATO", "stance": "Opposes NATO"},
    ),
    (
        "Test scores of 4,000 pupils fell in 2023, the ministry said.",
        {"value": "4,000", "measures": "pupils whose test scores fell", "unit": "pupils"},
    ),
    (
        "The city raised $4 million, officials said.",
        {"value": "$4 million", "measures": "money the city raised", "unit": "dollars, millions"},
    ),
]


@pytest.mark.parametrize(("sentence", "item"), PROSE_ITEMS)
def test_items_in_the_articles_own_words_are_prose(
    tmp_path: Path, sentence: str, item: dict[str, Any]
) -> None:
    from briefgen._schema import Position

    model = Position if "stance" in item else Figure
    assert verifies(model, {**item, "sentences": [1]}, article(tmp_path, sentence))


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
    [("half a million", None), ("510,000", None)],
]
DISAGREE = [
    [("907,391", None), ("907,351", None)],
    [("3,500", "nearly"), ("3,600", None)],
    [("6", None), ("8", "at least")],
    [("84%", None), ("84", None)],
    [("a dozen", None), ("20", None)],
    [("10", None), ("14", None)],  # a bare count is exact: a crash killed 10, or 14
    [("100", None), ("149", None)],
    [("half a million", None), ("600,000", None)],
    [("20,000", "nearly"), ("12,000", None)],
    [("1,000", "about"), ("1,900", None)],
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
    (
        [
            "Kakar spoke in Islamabad on Monday.",
            "The UN has criticised the plan.",
            "He said it would go ahead.",
        ],
        "Kakar",
        "caretaker prime minister",
        [3],
        [("UN", "organisation")],
    ),
    (
        ["Anwaar-ul-Haq Kakar spoke on Monday.", "“We will not back down,” Kakar said."],
        "Anwaar-ul-Haq Kakar",
        "caretaker prime minister",
        [2],
    ),
    (
        [
            "Mumtaz Zahra Baloch briefed reporters on Thursday.",
            "“The plan will go ahead,” she said, adding that Lee was wrong.",
        ],
        "Mumtaz Zahra Baloch",
        "spokeswoman for the foreign ministry",
        [2],
        [("Tom Lee", "person")],
    ),
    # Two ministers named; the title's other words say which (seed 001).
    (
        [
            "A delegation led by Commerce Minister Nooruddin Azizi and Deputy Minister of "
            "Refugees Sheikh Kaleemur Rahman Fani met Chaudhry.",
            "The embassy said Azizi raised trade.",
            "The Afghan refugees minister proposed a committee.",
        ],
        "Sheikh Kaleemur Rahman Fani",
        "Afghan Deputy Minister of Refugees and Repatriation",
        [3],
        [("Nooruddin Azizi", "person", "Afghan commerce minister")],
    ),
    (
        ["The Taliban government asked Pakistan to stop.", "The Pakistani government said no."],
        "Pakistan",
        "government running the repatriation plan",
        [2],
        [("Taliban government", "government", "government of Afghanistan")],
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
    # The neighbour names the holder, but the cited sentence says whose words these are.
    (
        ["Kakar wrote in Arab News:", "“The plan will go ahead,” Baloch said."],
        "Kakar",
        "caretaker prime minister",
        [2],
        [("Mumtaz Zahra Baloch", "person")],
    ),
    # "He" after another man has been named is not the first one.
    (
        [
            "Kakar spoke in Islamabad on Monday.",
            "Governor Tom Lee disagreed with him.",
            "He said the plan would fail.",
        ],
        "Kakar",
        "caretaker prime minister",
        [3],
        [("Tom Lee", "person")],
    ),
    # A word of the role that is not the title: the city is not the mayor.
    (
        ["Mayor Ana Ruiz visited the flooded streets.", "The city council said it would rebuild."],
        "Ana Ruiz",
        "mayor of the city",
        [2],
    ),
    # Named only by the headline: a position may not rest on it.
    (
        ["Kakar vows to press on with deportations", "He said the plan would go ahead."],
        "Kakar",
        "caretaker prime minister",
        [2],
    ),
    # The cited sentence attributes its words to another actor.
    (
        ["Kakar spoke in Islamabad on Monday.", "Lee said they would fight the plan."],
        "Kakar",
        "caretaker prime minister",
        [2],
        [("Tom Lee", "person")],
    ),
    # Words given to someone else, about the holder.
    (
        ["“The plan will fail,” Graves said of Edwards’s proposal."],
        "John Bel Edwards",
        "governor",
        [1],
        [("Garret Graves", "person", "congressman")],
    ),
    (
        ["Rep. Garret Graves criticised Edwards, saying the levee plan would fail."],
        "John Bel Edwards",
        "governor",
        [1],
        [("Garret Graves", "person", "congressman")],
    ),
    # Two ministers named, and "the minister" could be either.
    (
        [
            "Commerce Minister Nooruddin Azizi and Refugees Minister Kaleemur Rahman Fani met.",
            "The minister proposed a committee.",
        ],
        "Kaleemur Rahman Fani",
        "refugees minister",
        [2],
        [("Nooruddin Azizi", "person", "commerce minister")],
    ),
]


def attributed(
    tmp_path: Path,
    sentences: list[str],
    holder: str,
    role: str,
    cited: list[int],
    others: Sequence[tuple[str, ...]] = (),
) -> bool:
    from briefgen._schema import Actor, Position, attribution_problems

    source = article(tmp_path, *sentences)

    def declared(name: str, kind: str, role: str) -> Actor:
        at = next((i for i, s in enumerate(sentences, 1) if name.split()[-1] in s), len(sentences))
        return Actor.model_construct(name=name, kind=kind, role=role, aliases=[], sentences=[at])

    holder_kind = "government" if "government" in role else "person"
    actors = [
        declared(holder, holder_kind, role),
        *(declared(o[0], o[1], o[2] if len(o) > 2 else "other") for o in others),
    ]
    position = Position.model_construct(
        actor=holder, issue="the plan", stance="Backs the plan", quote=None, sentences=cited
    )
    return attribution_problems(position, actors, source) == []


def _case(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row if len(row) == 5 else (*row, ())


@pytest.mark.parametrize(
    ("sentences", "holder", "role", "cited", "others"), [_case(r) for r in ATTRIBUTED]
)
def test_a_position_whose_sentences_attribute_it_belongs_to_its_holder(
    tmp_path: Path,
    sentences: list[str],
    holder: str,
    role: str,
    cited: list[int],
    others: list[tuple[str, str]],
) -> None:
    assert attributed(tmp_path, sentences, holder, role, cited, others)


@pytest.mark.parametrize(
    ("sentences", "holder", "role", "cited", "others"), [_case(r) for r in MISATTRIBUTED]
)
def test_a_position_whose_sentences_never_name_its_holder_is_rejected(
    tmp_path: Path,
    sentences: list[str],
    holder: str,
    role: str,
    cited: list[int],
    others: list[tuple[str, str]],
) -> None:
    assert not attributed(tmp_path, sentences, holder, role, cited, others)


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
    from briefgen._schema import CorpusBrief
    from briefgen._verify import ArticleResult, CorpusResult

    source = article(tmp_path, *sentences)
    figures = [
        {**figure(v.split(" ", 1)[-1] if " " in v and v[0].isalpha() else v), "sentences": [n]}
        | ({"qualifier": v.rsplit(" ", 1)[0]} if " " in v and v[0].isalpha() else {})
        for n, v in enumerate(values, start=1)
    ]
    brief = brief_of(source, figures)
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


def test_a_vague_part_leaves_the_least_gap_it_can(tmp_path: Path) -> None:
    corpus = breakdown_of(
        tmp_path,
        ["Officials moved 1,200 families.", "Dozens went to shelters.", "500 went to relatives."],
        ["1,200", "dozens", "500"],
    )
    b = corpus.breakdowns[0]
    assert (b.verdict, b.difference) == ("falls short of the total", "at least 601")


def brief_of(source: Article, figures: list[dict[str, Any]]) -> Any:
    """A verified brief of `source` holding only `figures`."""
    from briefgen._schema import ArticleBrief

    return ArticleBrief.model_validate(
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


def index_of(tmp_path: Path, sentences: list[str], figures: list[dict[str, Any]]) -> Any:
    from briefgen._verify import ArticleResult, ItemIndex

    source = article(tmp_path, *sentences)
    return ItemIndex([ArticleResult(source, brief_of(source, figures))])


def test_a_breakdown_mixing_percentages_and_counts_is_rejected(tmp_path: Path) -> None:
    from briefgen._schema import Breakdown

    sentences = [
        "Officials moved 1,200 families.",
        "Of those, 60% went to shelters.",
        "500 went home.",
    ]
    values = ["1,200", "60%", "500"]
    figures = [{**figure(v), "sentences": [n]} for n, v in enumerate(values, 1)]
    index = index_of(tmp_path, sentences, figures)
    mixed = Breakdown(total="001.F1", parts=["001.F2", "001.F3"])
    assert "mix percentages and counts" in " ".join(index.breakdown_problems(mixed))


def test_a_timeline_of_one_date_is_not_a_series(tmp_path: Path) -> None:
    from briefgen._schema import FigureGroup

    sentences = ["In March 2020 the agency counted 400.", "In March 2020 the ministry counted 900."]
    figures = [
        {**figure(v), "as_of": "2020-03", "sentences": [n]} for n, v in enumerate(["400", "900"], 1)
    ]
    index = index_of(tmp_path, sentences, figures)
    group = FigureGroup(
        metric="families counted",
        relation="timeline",
        members=["001.F1", "001.F2"],
        note="",
    )
    assert index.label(group) == "internal_discrepancy"
    figures[1]["as_of"] = None
    figures[1]["sentences"] = [2]
    later = ["In March 2020 the agency counted 400.", "In May 2020 the ministry counted 900."]
    figures[1]["as_of"] = "2020-05"
    assert index_of(tmp_path, later, figures).label(group) is None


def test_a_date_sorts_after_the_more_precise_dates_within_it() -> None:
    from briefgen._document import _date_order

    dates = ["2019", "2019-03", "2019-04", "2019-03-05", "2018-12-01"]
    assert sorted(dates, key=_date_order) == [
        "2018-12-01",
        "2019-03-05",
        "2019-03",
        "2019-04",
        "2019",
    ]


def test_a_stance_made_of_name_fragments_is_not_a_sentence(tmp_path: Path) -> None:
    from briefgen._schema import Position

    source = article(tmp_path, "“We will not deport at-risk groups,” Anwaar-ul-Haq Kakar said.")
    item = {"actor": "Anwaar-ul-Haq Kakar", "issue": "deportations", "sentences": [1]}
    assert not verifies(Position, {**item, "stance": "Kakar Anwaar ul Haq"}, source)
    assert verifies(Position, {**item, "stance": "Will not deport at-risk groups"}, source)


# --- the measure -------------------------------------------------------------------------------

BATTERY = {
    "vague quantities": (len(VAGUE_ACCEPT), len(VAGUE_REJECT)),
    "names": (
        len(NAME_ACCEPT) + len(NAMED_LATER_ACCEPT),
        len(NAME_REJECT) + len(NAMED_LATER_REJECT),
    ),
    "as-of dates": (len(AS_OF_ACCEPT), len(AS_OF_REJECT)),
    "prose": (len(READABLE) + len(PROSE_ITEMS), len(UNREADABLE)),
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

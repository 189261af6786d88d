"""The shapes the model must answer in, and the validators that ground them in the articles.

Field descriptions are prompt text: the model reads them in the JSON Schema it is given.
Every validator reads the article (or the index of verified items) from the validation
context, so a model answer is checked against what was actually sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from briefgen._context import current
from briefgen._grounding import (
    contradicts,
    declared_acronyms,
    echoes,
    find_numbers_raw,
    find_quantities,
    mentions,
    normalize_text,
    parse_quantity,
    qualifier_problem,
    split_qualifier,
    stated_quantities,
    states_date,
    supports_quote,
    supports_value,
    unreadable,
)

if TYPE_CHECKING:
    from briefgen._ingest import Article

_ISO_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")

SentenceIds = Annotated[
    list[int],
    Field(
        min_length=1,
        description="Ids of the sentences this item rests on: [S4] is 4. Cite every sentence "
        "the item needs, and only those.",
    ),
]
IsoDate = Annotated[
    str,
    Field(
        description="An ISO date at the precision the text supports: 2024, 2024-11 or 2024-11-07."
    ),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Answer(_Model):
    """A root answer: the schema the model is sent is compact, built once per process.

    Titles, descriptions and defaults are left out and each shape is written where it is
    used: the field guidance lives in the system prompt, which is static and so cached by
    providers, instead of costing some 1,400 tokens of schema on every call. Validation is
    pydantic's own, unchanged.
    """

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs:  # a caller asking for a particular rendering gets pydantic's
            return super().model_json_schema(*args, **kwargs)
        return dict(_compact_schema(cls))


# What the compact schema leaves out: documentation (the system prompt carries it), and what
# validation enforces anyway (an object with properties is an object; a list's minimum
# length and a nested item's required fields are checked and re-asked like any other error).
_LEFT_OUT = frozenset(
    {"title", "description", "default", "additionalProperties", "$defs", "minItems"}
)


@lru_cache(maxsize=8)
def _compact_schema(model: type[BaseModel]) -> dict[str, Any]:
    full = BaseModel.model_json_schema.__func__(model)  # type: ignore[attr-defined]
    defs = full.get("$defs", {})

    def compact(node: Any) -> Any:
        if isinstance(node, list):
            return [compact(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return compact(defs[node["$ref"].rsplit("/", 1)[-1]])
        options = node.get("anyOf")
        if options and {"type": "null"} in options and len(options) == 2:
            (kept,) = (o for o in options if o != {"type": "null"})
            return {**compact(kept), "type": [compact(kept)["type"], "null"]}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _LEFT_OUT or (key == "type" and value == "object" and "properties" in node):
                continue
            if key == "required" and node is not full:
                continue  # every field is asked for in the prompt, and a missing one re-asked
            if key == "properties":
                out[key] = {name: compact(v) for name, v in value.items()}
            else:
                out[key] = compact(value)
        return out

    return {"title": full["title"], "type": "object", **compact(full)}


_M = TypeVar("_M", bound=BaseModel)


def _article(info: ValidationInfo) -> Article | None:
    article: Article | None = current(info.context).get("article")
    return article


def _cited(article: Article, ids: Sequence[int]) -> list[str]:
    """The cited sentences; ValueError naming any id the article does not have or that is a
    planted instruction rather than reporting."""
    missing = [i for i in ids if not 1 <= i <= len(article.sentences)]
    if missing:
        shown = ", ".join(f"S{i}" for i in missing)
        raise ValueError(
            f"cites {shown}, but the article has sentences S1 to S{len(article.sentences)} only"
        )
    if article.headline is not None and set(ids) == {article.headline}:
        raise ValueError(
            f"cites only S{article.headline}, the headline; cite the sentence of the article "
            "that reports it"
        )
    planted = [i for i in ids if i in article.instructions]
    if planted:
        shown = ", ".join(f"S{i}" for i in planted)
        raise ValueError(
            f"cites {shown}, an instruction planted in the article, not reporting; "
            "it supports nothing"
        )
    return [article.sentence(i) for i in ids]


def echo_problems(texts: Iterable[str], article: Article) -> list[str]:
    """Prose that repeats an instruction planted in the article: the model obeyed it."""
    return [
        f"{text!r} repeats the instruction planted in S{i}; report what the article says"
        for text in texts
        for i in sorted(article.instructions)
        if echoes(text, article.sentence(i))
    ]


def _prose(
    article: Article,
    *texts: str,
    words: bool = True,
    sentence: bool = False,
    counts: bool = True,
) -> None:
    """Model-written words in an item: readable words (unless `words` is off; a sentence if
    `sentence`), no number the article does not state, no echo of a planted instruction.
    Where the words say what is counted rather than how many (`counts` off: a figure's
    measures and unit), a bare "millions" or "scores" is wording, not an amount."""
    whole = " ".join(article.sentences)
    problems = [
        f"{text!r} {p}"
        for text in texts
        if words and (p := unreadable(text, sentence, names=whole if sentence else None))
    ]
    problems += [
        f"{text!r} states {n!r}, which the article does not"
        for text in texts
        for n in unsupported_numbers(text, article.sentences)
        if counts or not _BARE_PLURAL.match(n)
    ]
    problems += echo_problems(texts, article)
    if problems:
        raise ValueError("; ".join(problems))


_BARE_PLURAL = re.compile(r"(?:dozens|scores|hundreds|thousands|millions|billions)$", re.I)


def consecutive_runs(ids: Sequence[int]) -> list[list[int]]:
    """`ids` sorted and cut into runs of adjacent numbers: [4, 2, 3, 7] → [[2, 3, 4], [7]]."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and runs[-1][-1] + 1 == i:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _check_date(value: str | None, what: str) -> None:
    if value is not None and not _ISO_DATE.match(value):
        raise ValueError(f"{what} {value!r} is not an ISO date such as 2024, 2024-11 or 2024-11-07")


def unsupported_numbers(text: str, sources: Iterable[str]) -> list[str]:
    """Numbers written in `text` that none of `sources` states."""
    stated = stated_quantities(tuple(sources))
    return [raw for raw in find_numbers_raw(text) if not set(find_quantities(raw)) & stated]


# --- one article ---------------------------------------------------------------------------


class Actor(_Model):
    """A person, body or group that acts or speaks in the article."""

    name: str = Field(description="The fullest name the article gives, spelled as it spells it.")
    kind: Literal["person", "government", "organisation", "group", "media", "other"]
    role: str = Field(description="Who they are in this story, in a few words.")
    aliases: list[str] = Field(
        default_factory=list,
        description="Other names the article itself uses for them (e.g. an acronym).",
    )
    sentences: SentenceIds

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Actor:
        article = _article(info)
        if article is None:
            return self
        cited = _cited(article, self.sentences)
        _prose(article, self.role)
        whole = " ".join(article.sentences)
        pairs = declared_acronyms(whole)
        names = [self.name, *self.aliases]
        last = surname(self.name) if self.kind == "person" else None
        if last and mentions(whole, [self.name], pairs):
            names.append(last)  # named in full once, then by surname
        if not mentions(" ".join(cited), names, pairs):
            raise ValueError(f"actor {self.name!r} is not named in the sentences it cites")
        absent = [a for a in self.aliases if not mentions(whole, [a], pairs)]
        if absent:
            raise ValueError(f"aliases {absent} of {self.name!r} do not occur in the article")
        return self


class Figure(_Model):
    """A number the article states, with what it measures."""

    value: str = Field(
        description="The number exactly as the sentence writes it, without qualifier or unit "
        "words: '907,391', '2.8 million', '84%', 'four and five million' (a range)."
    )
    qualifier: str | None = Field(
        default=None,
        description="The words the sentence writes right before the number, if they hedge it: "
        "'more than', 'nearly', 'at least', 'around', 'over'; 'between' for a range.",
    )
    measures: str = Field(description="What is counted, precisely: who, what, where, since when.")
    unit: str = Field(description="What one unit is: 'people', 'percent of respondents', ...")
    as_of: IsoDate | None = Field(
        default=None,
        description="When the number holds, at the precision the cited sentences state it, "
        "or the publication date's if the number is current.",
    )
    sentences: SentenceIds

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Figure:
        _check_date(self.as_of, "as_of")
        lead, value = split_qualifier(self.value)
        if lead:  # "more than 1,000" as a value: keep the hedge apart, as the schema asks
            self.value = value
            self.qualifier = " ".join(q for q in (self.qualifier, lead) if q)
        if parse_quantity(self.value) is None:
            raise ValueError(f"value {self.value!r} is not a single number or range as written")
        article = _article(info)
        if article is None:
            return self
        cited = _cited(article, self.sentences)
        _prose(article, self.measures, counts=False)
        _prose(article, self.unit, words=False, counts=False)  # "%", "m": need not be a word
        if not supports_value(self.value, cited):
            where = ", ".join(f"S{i}" for i in self.sentences)
            raise ValueError(f"value {self.value!r} does not occur in its cited sentences {where}")
        problem = qualifier_problem(self.value, self.qualifier, cited)
        if problem:
            raise ValueError(problem)
        return self


class Position(_Model):
    """Where an actor stands on an issue."""

    actor: str = Field(description="The actor's name, as in `actors`.")
    issue: str = Field(description="The question they take a side on, neutrally worded.")
    stance: str = Field(description="Their stance, in a short neutral sentence.")
    quote: str | None = Field(
        default=None,
        description="Their own words, copied verbatim from a cited sentence, if quoted.",
    )
    sentences: SentenceIds

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Position:
        article = _article(info)
        if article is None:
            return self
        _cited(article, self.sentences)
        _prose(article, self.issue)
        _prose(article, self.stance, sentence=True)
        # A quotation may run over consecutive sentences, cited in any order — but never
        # joined across a gap: it must lie within one run of adjacent cited sentences.
        runs = [[article.sentence(i) for i in run] for run in consecutive_runs(self.sentences)]
        if self.quote is not None and not any(supports_quote(self.quote, r) for r in runs):
            raise ValueError(
                f"quote {self.quote!r} is not verbatim in its cited sentences; copy it exactly"
            )
        return self


class DisputeSide(_Model):
    """One side of a dispute."""

    actor: str = Field(description="Who holds this side, as named in `actors`.")
    claim: str = Field(description="What they claim, in a short neutral sentence.")
    sentences: SentenceIds

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> DisputeSide:
        article = _article(info)
        if article is not None:
            _cited(article, self.sentences)
            _prose(article, self.claim, sentence=True)
        return self


class Dispute(_Model):
    """A disagreement the article reports that is not settled."""

    topic: str = Field(description="What is disputed, neutrally worded.")
    sides: list[DisputeSide] = Field(min_length=2)

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> Dispute:
        article = _article(info)
        if article is not None:
            _prose(article, self.topic)
        return self


class Published(_Model):
    """When the article was published."""

    date: IsoDate | None = Field(description="Publication date, or null if nothing suggests it.")
    inferred: bool = Field(description="True unless the article states its own publication date.")
    basis: str = Field(
        description="What the date rests on, e.g. 'latest event dated in the text is 2024-10'."
    )

    @model_validator(mode="after")
    def _valid(self) -> Published:
        _check_date(self.date, "date")
        if self.inferred and not self.basis.strip():
            raise ValueError("an inferred date needs its basis: say what it rests on")
        return self


class ArticleBrief(_Answer):
    """What one article says, every item citing its sentences."""

    title: str = Field(description="The headline, or a short neutral title if there is none.")
    published: Published
    summary: str = Field(
        description="Two or three neutral sentences. Any number in it must be written as the "
        "article writes it."
    )
    actors: list[Actor]
    figures: list[Figure] = Field(description="Every number worth reporting, one per item.")
    positions: list[Position]
    disputes: list[Dispute]

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> ArticleBrief:
        article = _article(info)
        if article is None:
            return self
        # The page's own date (its metadata or timestamp line) is the publication date, by
        # code: the model's reading of it can only be wrong.
        self.published = page_published(article) or self.published
        problems = brief_problems(self, article)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(
        cls, data: Any, handler: ModelWrapValidatorHandler[ArticleBrief], info: ValidationInfo
    ) -> ArticleBrief:
        """When items fail, report the brief's own problems too, so one re-ask can fix all.

        The brief-level checks (summary, who holds positions, dates) would otherwise wait
        until every item passes, and re-asks are few.
        """
        try:
            return handler(data)
        except ValidationError as err:
            article = _article(info)
            errors = err.errors()
            if article is None or not isinstance(data, dict) or not all(e["loc"] for e in errors):
                raise
            problems = brief_problems(_valid_part(data, current(info.context)), article)
            if not problems:
                raise
            details: list[InitErrorDetails] = [
                {"type": e["type"], "loc": e["loc"], "input": e["input"], "ctx": e.get("ctx", {})}
                for e in errors
            ]
            message = PydanticCustomError("brief", "{problems}", {"problems": "; ".join(problems)})
            details.append({"type": message, "loc": (), "input": data})
            raise ValidationError.from_exception_data(cls.__name__, details) from None


def validate_each(
    raw: Any, model: type[_M], context: Any
) -> list[tuple[int, Any, _M | ValidationError]]:
    """Each item of `raw` (if a list) validated on its own: its place (from 1), the item as
    the model gave it, and the parsed item or the error."""
    out: list[tuple[int, Any, _M | ValidationError]] = []
    for i, item in enumerate(raw if isinstance(raw, list) else [], start=1):
        try:
            out.append((i, item, model.model_validate(item, context=context)))
        except ValidationError as err:
            out.append((i, item, err))
    return out


def _valid_part(data: dict[str, Any], context: Any) -> ArticleBrief:
    """The part of a failing answer that validates item by item, for the brief-level checks."""

    def valid(model: type[_M], items: Any) -> list[_M]:
        return [
            parsed
            for _, _, parsed in validate_each(items, model, context)
            if not isinstance(parsed, ValidationError)
        ]

    published = valid(Published, [data.get("published")])
    return ArticleBrief.model_construct(
        title=str(data.get("title") or ""),
        summary=str(data.get("summary") or ""),
        published=published[0] if published else Published(date=None, inferred=True, basis="-"),
        actors=valid(Actor, data.get("actors")),
        figures=valid(Figure, data.get("figures")),
        positions=valid(Position, data.get("positions")),
        disputes=valid(Dispute, data.get("disputes")),
    )


def brief_problems(brief: ArticleBrief, article: Article) -> list[str]:
    """What is wrong with the brief as a whole rather than with one item."""
    return [
        *summary_problems(brief, article),
        *reference_problems(brief, article),
        *date_problems(brief, article),
    ]


def summary_problems(brief: ArticleBrief, article: Article) -> list[str]:
    """Numbers in the summary or title that the article does not state, and planted
    instructions they repeat."""
    stray = unsupported_numbers(f"{brief.title}\n{brief.summary}", article.sentences)
    unread = [
        f"the {name} {text!r} {p}"
        for name, text in (("title", brief.title), ("summary", brief.summary))
        if text and (p := unreadable(text))
    ]
    return (
        unread
        + [f"the summary states {n!r}, which the article does not" for n in stray]
        + [f"the summary {p}" for p in echo_problems([brief.title, brief.summary], article)]
    )


def page_published(article: Article) -> Published | None:
    """The publication date the page states outside the sentences, if it states one."""
    found = article.meta.date
    if found is None:
        return None
    return Published(date=found.value, inferred=False, basis=f"stated by the {found.source}")


def publication_problem(published: Published, article: Article) -> str | None:
    """Why a publication date marked as stated is not stated in the article, if it is not."""
    if page_published(article) is not None:
        return None  # the page states it; code sets it
    stated = published.date and not published.inferred
    if stated and not states_date(" ".join(article.sentences), published.date or ""):
        return (
            f"published.date {published.date} is marked as stated, but the article does not "
            "state it; mark it inferred and give its basis"
        )
    return None


_STARTING_POINT = re.compile(
    r"\b(?:since|from|starting in|beginning in)\s+(?:(?:early|mid|late)[- ]?)?"
    r"(?:[A-Za-z]+\.?\s+)?(?:\d{1,2},?\s+)?(?:19|20)\d\d\b",
    re.IGNORECASE,
)


# "Last year, 3,000 crossed" — not "since the crackdown began last year", a starting point.
_LAST_YEAR = re.compile(
    r"^(?:(?!\b(?:since|began|begun|started|after)\b).)*\b(?:last|past|previous) year\b",
    re.IGNORECASE,
)
# Where one clause ends and another, perhaps of another date, begins: "Last year, Pakistan
# launched a crackdown, and more than 500,000 have returned so far."
_CLAUSES = re.compile(r",\s+(?:and|but|while)\s+|;|\s[-–—]\s")
_DATED_COUNT = re.compile(
    r"\bthe ((?:19|20)\d\d) (?:census|survey|count|poll|estimate|report|study|tally)\b",
    re.IGNORECASE,
)


def as_of_problem(figure: Figure, published: Published, article: Article) -> str | None:
    """Why a figure's as-of date is not supported, if it is not.

    It must be stated by the cited sentences (a year left implicit taken from the publication
    date), or be the publication date at the same or a coarser precision.
    """
    if figure.as_of is None:
        return None
    published = page_published(article) or published
    year = published.date[:4] if published.date else None
    text = " ".join(article.sentence(i) for i in figure.sentences)
    # "Since 2021, 500,000 have returned": 2021 is where the count starts, not its date.
    dating = _STARTING_POINT.sub(" ", text)
    if states_date(dating, figure.as_of, year):
        return None
    claimed = contradicts(text, figure.as_of, figure.value)
    # "Last year, 3,000 crossed"; "the 2020 census counted": dates the sentence gives the
    # count without a preposition.
    own = [c for c in _CLAUSES.split(text) if supports_value(figure.value, [c])]
    if year and own and _LAST_YEAR.search(own[0]):
        if figure.as_of == str(int(year) - 1):
            return None
        claimed = claimed or [str(int(year) - 1)]
    claimed = claimed or [m[1] for m in _DATED_COUNT.finditer(text) if m[1] != figure.as_of[:4]]
    if claimed:
        return (
            f"as_of {figure.as_of} contradicts its cited sentences, which date it "
            f"{' or '.join(claimed)}; give that date"
        )
    if published.date and published.date.startswith(figure.as_of):
        return None
    return (
        f"as_of {figure.as_of} is neither stated in its cited sentences nor the publication "
        f"date ({published.date or 'unknown'}); give the date at the precision the text supports"
    )


def date_problems(brief: ArticleBrief, article: Article) -> list[str]:
    """Dates the article does not support: a "stated" publication date, figures' as-of dates."""
    problems = [p for p in [publication_problem(brief.published, article)] if p]
    for figure in brief.figures:
        problem = as_of_problem(figure, brief.published, article)
        if problem:
            problems.append(f"figure {figure.value!r}: {problem}")
    return problems


def known_names(actors: Iterable[Actor]) -> list[str]:
    """Every name and alias declared for `actors`."""
    return [name for actor in actors for name in (actor.name, *actor.aliases)]


def holder_problems(item: Position | Dispute, names: Sequence[str], article: Article) -> list[str]:
    """Who holds a position (or a side of a dispute) but is neither a declared actor name or
    alias nor named in the article."""
    declared = {n.casefold() for n in names}
    text = " ".join(article.sentences)
    holders = [item.actor] if isinstance(item, Position) else [s.actor for s in item.sides]
    subject = "it" if isinstance(item, Position) else "a side"
    return [
        f"{subject} is held by {who!r}, who is not named in the article or in actors"
        for who in holders
        if who.strip().casefold() not in declared
        and not mentions(text, [who], declared_acronyms(text))
    ]


_ATTRIBUTES = re.compile(
    r"\b(?:said|says|say|told|tells|wrote|writes|added|adds|stated|declared|argued|insisted|"
    r"according to)\b|:\s*$|:\s*[“\"]"
)
_VERB = (
    r"(?:said|says|say|saying|told|tells|wrote|writes|added|adds|stated|declared|argued|"
    r"insisted|warned|urged|critici[sz]ed|accused|denied|claimed|noted|vowed|pledged|"
    r"announced|dismissed|rejected|responded|replied|countered|indicated|suggested|"
    r"signall?ed|remarks|statement|comments)"
)
_HE = re.compile(r"\b(?:he|she|his|her|him)\b", re.IGNORECASE)
_THEY = re.compile(r"\b(?:they|their|them)\b", re.IGNORECASE)
# Where a role's head noun ends: "mayor of the city" is a mayor, "spokeswoman for the
# ministry" a spokeswoman.
_ROLE_TAIL = re.compile(
    r"\s+(?:of|for|at|in|to|on|with|from|who|which|that|since|\w+ing)\s.*$|[,;(].*$"
)


def surname(name: str) -> str | None:
    """The surname of a person's full name: "Kakar" for "Anwaar-ul-Haq Kakar", "Kennedy"
    for "Robert F. Kennedy Jr."; None for a single name."""
    parts = [p for p in name.split() if not _SUFFIX.match(p)]
    return parts[-1] if len(parts) > 1 else None


_SUFFIX = re.compile(r"^(?:Jr|Sr|II|III|IV|MP|PhD)\.?,?$", re.IGNORECASE)


def _names_of(actor: Actor) -> list[str]:
    """The names an actor may be called by: its name, aliases and, for a person named in
    full, the surname alone."""
    names = [actor.name, *actor.aliases]
    last = surname(actor.name) if actor.kind == "person" else None
    return [*names, last] if last else names


def _title(role: str) -> str | None:
    """The word a text may use for someone in place of their name: the head noun of their
    role ("caretaker prime minister" → "minister", "mayor of the city" → "mayor")."""
    head = _ROLE_TAIL.sub("", role.strip().casefold())
    words = re.findall(r"[^\W\d_]{3,}", head)
    return words[-1] if words else None


# Verbs whose speaker may follow them ("..., said Lee"); "criticised Lee" names its object.
_INVERTED = (
    r"(?:said|says|wrote|writes|added|adds|stated|noted|argued|insisted|warned|according to)"
)
# "said of Edwards", "told about Lee": whom the words are about, not whose they are.
_TOPIC = r"(?:of|about|on|to|at|against|with)\b"


def _attributes_to(text: str, names: Sequence[str]) -> bool:
    """Whether `text` attributes words to one of `names`: "Lee said", "said Lee",
    "according to Lee", "Lee told reporters"."""
    folded = normalize_text(text).casefold()
    return any(_speaker(name).search(folded) for name in names)


@lru_cache(maxsize=4_096)
def _speaker(name: str) -> re.Pattern[str]:
    """The pattern of `name` as the one whose words a sentence reports (compiled once)."""
    n = re.escape(normalize_text(name).casefold())
    return re.compile(
        rf"\b{n}(?:'s)?[)\]'\"]*\s+(?:\w+\s+){{0,2}}{_VERB}\b|\b{_INVERTED}\s+"
        rf"(?:(?!{_TOPIC})\w+\s+){{0,3}}{n}\b"
    )


def attribution_problems(
    position: Position, actors: Sequence[Actor], article: Article
) -> list[str]:
    """Why a position does not belong to its holder, if it does not.

    The holder must be named in its cited sentences; or, when the cited sentences attribute
    them to no one, in the sentence next to them that does ("Kakar wrote: ..."); or be
    referred to there by a pronoun or by their title ("the minister") when a sentence
    shortly before names them and no other actor the pronoun could mean comes between.
    The headline never counts, and a cited sentence that attributes its words to another
    actor ("..., Lee said") is someone else's.
    """
    holder = position.actor.strip().casefold()
    own = [a for a in actors if holder in {n.casefold() for n in (a.name, *a.aliases)}]
    names = [position.actor, *(n for a in own for n in _names_of(a))]
    others = [a for a in actors if a not in own]
    headline = article.headline
    count = len(article.sentences)
    pairs = declared_acronyms(" ".join(article.sentences))

    def text(ids: Iterable[int]) -> str:
        return " ".join(article.sentence(i) for i in ids if i != headline and 1 <= i <= count)

    cited = sorted(set(position.sentences))
    said = text(cited)
    shown = ", ".join(f"S{i}" for i in cited)
    problem = [
        f"its cited sentences {shown} do not name {position.actor!r} or refer to them; cite "
        "the sentence that says who holds it"
    ]

    # Words the sentence gives to someone else ("..., Graves said of Edwards's plan") are
    # not the holder's, though it names them.
    def someone_elses(i: int) -> bool:
        sentence = text([i])
        return any(_attributes_to(sentence, _names_of(a)) for a in others) and not (
            _attributes_to(sentence, names)
        )

    if all(someone_elses(i) for i in cited):
        return [
            f"its cited sentences {shown} give these words to someone other than "
            f"{position.actor!r}; cite the sentence that says who holds it"
        ]
    if mentions(said, names, pairs):
        return []
    if not _ATTRIBUTES.search(said):
        # Words attributed by the sentence beside them: "Kakar wrote:" / "..., he said."
        beside = {j for i in cited for j in (i - 1, i + 1)} - set(cited)
        attributing = [j for j in sorted(beside) if _ATTRIBUTES.search(text([j]))]
        if mentions(text(attributing), names, pairs):
            return []
        said = " ".join([said, text(attributing)])
    titles = [t for a in own if (t := _title(a.role))]
    pronoun = _HE if any(a.kind == "person" for a in own) else _THEY
    by_title = [
        m[1].split()
        for t in titles
        for m in re.finditer(rf"\bthe ((?:[\w-]+ ){{0,2}}){t}\b", said.casefold())
    ]
    if not by_title and not pronoun.search(said):
        return problem
    earlier = text(range(1, cited[0]))
    if not mentions(earlier, names, pairs):
        return problem
    # A title whose other words fit the holder and no one else with that title: "the
    # Afghan refugees minister" beside an Afghan commerce minister, "the Pakistani
    # government".
    same_title = [a for a in others if _title(a.role) in titles]
    if any(
        _fits(w, own, names) and not any(_fits(w, [a], _names_of(a)) for a in same_title)
        for words in by_title
        for w in words
    ):
        return []
    # Otherwise the nearest sentence before that names the holder (or uses their title),
    # at most three back, with no one else the reference could mean in between.
    if by_title:
        rivals = same_title
    else:
        rivals = [a for a in others if (a.kind == "person") == (pronoun is _HE)]
    for back in range(cited[0] - 1, max(0, cited[0] - 4), -1):
        sentence = text([back])
        titled = any(re.search(rf"\b{t}\b", sentence.casefold()) for t in titles)
        rival = any(mentions(sentence, _names_of(a), pairs) for a in rivals)
        if rival and (by_title or not mentions(sentence, names, pairs)):
            return problem  # "the minister" after two ministers: either could be meant
        if mentions(sentence, names, pairs) or titled:
            return []
    return problem


def _fits(word: str, actors: Sequence[Actor], names: Sequence[str]) -> bool:
    """Whether a title's other word ("refugees", "Pakistani") is a word of the actors'
    roles or grows from their names."""
    if len(word) < 4:
        return False
    roles = {w for a in actors for w in re.findall(r"[^\W\d_]{4,}", a.role.casefold())}
    stems = {w for n in names for w in re.findall(r"[^\W\d_]{4,}", n.casefold())}
    return word in roles or any(word.startswith(s) for s in stems)


def reference_problems(brief: ArticleBrief, article: Article) -> list[str]:
    """Positions and dispute sides held by actors the article never names, and positions
    whose sentences do not attribute them to their holder."""
    names = known_names(brief.actors)
    problems = [
        f"the position on {p.issue!r}: {problem}"
        for p in brief.positions
        for problem in (
            holder_problems(p, names, article) or attribution_problems(p, brief.actors, article)
        )
    ]
    problems += [
        f"the dispute on {d.topic!r}: {problem}"
        for d in brief.disputes
        for problem in holder_problems(d, names, article)
    ]
    return problems


# --- the corpus -----------------------------------------------------------------------------

ItemId = Annotated[str, Field(description="An item id from the briefs, such as 001.F2.")]


class ActorGroup(_Model):
    """One real actor, named differently across articles."""

    name: str = Field(description="The name to show: one of the members' names.")
    members: list[ItemId] = Field(
        min_length=1, description="Actor ids (xxx.An) that are this actor."
    )


class FigureGroup(_Model):
    """Figures that measure the same thing."""

    metric: str = Field(description="What all members measure, stated so definitions are clear.")
    relation: Literal["consistent", "conflicting", "timeline", "internal_discrepancy"] = Field(
        description="consistent: same value; conflicting: same thing and period, different "
        "values; timeline: the same measure at different dates; internal_discrepancy: one "
        "article gives different values for the same thing."
    )
    members: list[ItemId] = Field(min_length=2, description="Figure ids (xxx.Fn).")
    note: str = Field(
        default="", description="What differs in definition or period, with no new numbers."
    )


class Breakdown(_Model):
    """Figures that are parts of a stated total: code adds them and says whether they
    account for it."""

    total: ItemId = Field(description="The figure id (xxx.Fn) of the stated total.")
    parts: list[ItemId] = Field(
        min_length=2, description="Figure ids (xxx.Fn) the article gives as parts of it."
    )


class CorpusSide(_Model):
    """One side of a dispute across the corpus."""

    label: str = Field(description="Who holds it and what they hold, in a few words.")
    positions: list[ItemId] = Field(min_length=1, description="Position ids (xxx.Pn).")


class CorpusDispute(_Model):
    """A disagreement across the corpus."""

    topic: str
    sides: list[CorpusSide] = Field(min_length=2)
    settle: str | None = Field(
        default=None, description="What would settle it, only where the articles say."
    )


class CorpusIssue(_Model):
    """One question actors take sides on, across articles."""

    issue: str = Field(description="The question, neutrally worded, in a few words.")
    positions: list[ItemId] = Field(
        min_length=1, description="Position ids (xxx.Pn) that take a side on it."
    )


class TimelineEvent(_Model):
    """A dated event."""

    date: IsoDate
    event: str = Field(description="What happened, in a short sentence with no new numbers.")
    sources: list[ItemId] = Field(
        min_length=1,
        description="Ids that date it: a figure (xxx.Fn), a position (xxx.Pn), or a sentence "
        "(xxx.S4) that states the date.",
    )


class CorpusBrief(_Answer):
    """The brief across all articles, answering in item ids only."""

    overview: str = Field(
        description="Three to five neutral sentences on the story as a whole. Numbers only as "
        "the articles write them."
    )
    actors: list[ActorGroup]
    figure_groups: list[FigureGroup]
    breakdowns: list[Breakdown] = Field(
        default_factory=list,
        description="Totals and the figures given as their parts; never add them yourself.",
    )
    issues: list[CorpusIssue] = Field(
        default_factory=list,
        description="The questions the positions address: every position id in one issue.",
    )
    disputes: list[CorpusDispute]
    timeline: list[TimelineEvent]

    @model_validator(mode="after")
    def _grounded(self, info: ValidationInfo) -> CorpusBrief:
        check = current(info.context).get("check_corpus")
        if check is None:
            return self
        problems: list[str] = check(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

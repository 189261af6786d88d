"""The resolved brief (`--format json`): every item with its id and its cited sentences.

Markdown is rendered from this document too, so both outputs show the same verified items.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from briefgen._grounding import add, agree, interval, parse_quantity
from briefgen._ingest import Found
from briefgen._schema import Actor, Breakdown, Figure, FigureGroup, Position, TimelineEvent
from briefgen._verify import ArticleResult, CorpusResult, ItemIndex

FORMAT_VERSION = 1


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Citation(_Out):
    """A sentence an item rests on."""

    article: str = Field(description="The article's id.")
    file: str
    sentence: int = Field(description="1-based sentence id, as in [S4].")
    text: str


class Cited(_Out):
    id: str = Field(description="Stable item id: 001.F2 is figure 2 of article 001.")
    citations: list[Citation]


class DocActor(Cited):
    name: str
    kind: str
    role: str
    aliases: list[str]


class DocAmount(_Out):
    """A figure's value as a number, read by code from the value as written."""

    low: int | float
    high: int | float = Field(description="Equal to `low` unless the value is a range.")
    percent: bool


class DocFigure(Cited):
    value: str = Field(description="The number as the cited sentence writes it.")
    qualifier: str | None = Field(
        description="The hedge the sentence writes right before it ('nearly', 'between')."
    )
    amount: DocAmount
    measures: str
    unit: str
    as_of: str | None


class DocPosition(Cited):
    actor: str
    issue: str
    stance: str
    quote: str | None = Field(description="Verbatim from a cited sentence.")


class DocSide(_Out):
    actor: str
    claim: str
    citations: list[Citation]


class DocDispute(_Out):
    id: str
    topic: str
    sides: list[DocSide]


class DocPublished(_Out):
    date: str | None
    inferred: bool
    basis: str


class DocFound(_Out):
    value: str
    source: str = Field(
        description="Where it was found: 'page metadata' (a web page's markup), 'timestamp "
        "line', 'byline line' or 'headline line' (lines of a text file, removed as furniture)."
    )


class DocMeta(_Out):
    """What the page says about the article, found by code, not by the model."""

    title: DocFound | None = None
    date: DocFound | None = None
    byline: DocFound | None = None
    outlet: DocFound | None = None


class DocArticle(_Out):
    id: str
    file: str
    sha256: str
    meta: DocMeta = Field(default_factory=DocMeta)
    instructions: list[int] = Field(
        description="Sentence ids that read as instructions to AI systems: shown to the model "
        "marked as such, never accepted as a source."
    )
    title: str
    published: DocPublished
    summary: str
    actors: list[DocActor]
    figures: list[DocFigure]
    positions: list[DocPosition]
    disputes: list[DocDispute]


class DocActorGroup(_Out):
    name: str
    aliases: list[str] = Field(description="Every other name the members go by.")
    members: list[str]


class DocFigureGroup(_Out):
    metric: str
    relation: Literal["consistent", "conflicting", "timeline", "internal_discrepancy"] = Field(
        description="Decided by code from the values and their hedges (a model's label is "
        "advice): consistent when they can all be true at once."
    )
    within_rounding: bool = Field(
        default=False,
        description="Consistent, but only within rounding and hedges: the values differ.",
    )
    spread: str | None = Field(
        default=None, description="For a consistent group whose values differ: lowest–highest."
    )
    note: str
    members: list[str] = Field(description="Figure ids, ordered by as-of date.")


class DocBreakdown(_Out):
    """A stated total and the figures given as its parts, added by code (hedges kept:
    "more than 1,000" adds a floor, not a number)."""

    total: str = Field(description="The total's figure id.")
    parts: list[str] = Field(description="The parts' figure ids.")
    sum: str = Field(
        description="What the parts add to, as a phrase: '44,000', 'more than "
        "44,000', 'between 1,150 and 1,250'."
    )
    verdict: Literal["accounts for the total", "falls short of the total", "exceeds the total"]
    difference: str | None = Field(
        description="By how much the parts miss the total (from the values as written), or "
        "None if they account for it."
    )


class DocIssue(_Out):
    issue: str
    positions: list[str]


class DocCorpusSide(_Out):
    label: str
    positions: list[str]


class DocCorpusDispute(_Out):
    topic: str
    sides: list[DocCorpusSide]
    settle: str | None


class DocEvent(_Out):
    date: str
    inferred: bool = Field(
        description="True when only an inferred publication date places the event."
    )
    event: str
    sources: list[str]
    series: bool = Field(
        default=False,
        description="True for a point of a figure time series, written by code from the "
        "figure; False for an event the corpus step dated.",
    )


class DocCorpus(_Out):
    overview: str
    actors: list[DocActorGroup]
    figure_groups: list[DocFigureGroup]
    breakdowns: list[DocBreakdown] = Field(default_factory=list)
    issues: list[DocIssue]
    disputes: list[DocCorpusDispute]
    timeline: list[DocEvent] = Field(description="Events and figure series, by date.")


class DocDropped(_Out):
    where: str
    reason: str


class Verification(_Out):
    verified: int = Field(description="Items that passed every check and are shown.")
    dropped: list[DocDropped] = Field(description="Items that failed after re-asks; not shown.")


class DocFailed(_Out):
    """An article that could not be read: nothing of it is in the brief."""

    id: str
    file: str
    reason: str


class Document(_Out):
    """A briefgen brief: the corpus synthesis and the article briefs it rests on."""

    format_version: int = FORMAT_VERSION
    articles: list[DocArticle]
    corpus: DocCorpus
    verification: Verification
    failed: list[DocFailed] = Field(
        default_factory=list, description="Articles that could not be read, and why."
    )
    incomplete: list[str] = Field(
        default_factory=list,
        description="Corpus calls that could not be answered; the synthesis lacks their part.",
    )


def _citations(result: ArticleResult, ids: Sequence[int]) -> list[Citation]:
    return [
        Citation(
            article=result.article.id,
            file=result.article.name,
            sentence=i,
            text=result.article.sentence(i),
        )
        for i in ids
    ]


C = TypeVar("C", bound=Cited)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _amount(value: str) -> DocAmount:
    quantity = parse_quantity(value)
    if quantity is None:  # pragma: no cover - a verified figure always parses
        raise ValueError(f"verified figure {value!r} has no number")
    high = quantity.value if quantity.upper is None else quantity.upper
    return DocAmount(low=_number(quantity.value), high=_number(high), percent=quantity.percent)


def _cited_items(
    r: ArticleResult, letter: str, items: Sequence[Actor | Figure | Position], out: type[C]
) -> list[C]:
    """`items` with their ids (`001.F2`) and their sentence ids resolved to citations."""
    return [
        out(
            id=f"{r.article.id}.{letter}{n}",
            citations=_citations(r, item.sentences),
            **item.model_dump(exclude={"sentences"}),
            **({"amount": _amount(item.value)} if isinstance(item, Figure) else {}),
        )
        for n, item in enumerate(items, start=1)
    ]


def _found(found: Found | None) -> DocFound | None:
    return DocFound(value=found.value, source=found.source) if found else None


def _article(r: ArticleResult) -> DocArticle:
    b, aid = r.brief, r.article.id
    meta = r.article.meta
    return DocArticle(
        id=aid,
        file=r.article.name,
        sha256=r.article.sha256,
        meta=DocMeta(
            title=_found(meta.title),
            date=_found(meta.date),
            byline=_found(meta.byline),
            outlet=_found(meta.outlet),
        ),
        instructions=sorted(r.article.instructions),
        title=b.title,
        published=DocPublished(**b.published.model_dump()),
        summary=b.summary,
        actors=_cited_items(r, "A", b.actors, DocActor),
        figures=_cited_items(r, "F", b.figures, DocFigure),
        positions=_cited_items(r, "P", b.positions, DocPosition),
        disputes=[
            DocDispute(
                id=f"{aid}.D{n}",
                topic=d.topic,
                sides=[
                    DocSide(actor=s.actor, claim=s.claim, citations=_citations(r, s.sentences))
                    for s in d.sides
                ],
            )
            for n, d in enumerate(b.disputes, start=1)
        ],
    )


def _figure_group(
    group: FigureGroup, figures: dict[str, DocFigure], members: list[str]
) -> DocFigureGroup:
    """A figure group with, when consistent only within rounding, the spread of its values."""
    amounts = [figures[m].amount for m in members]
    lows, highs = [a.low for a in amounts], [a.high for a in amounts]
    differ = group.relation == "consistent" and (len(set(lows)) > 1 or len(set(highs)) > 1)
    spread = None
    if differ:
        low, high = min(lows), max(highs)
        spread = f"{_shown(low)}–{_shown(high)}" + ("%" if amounts[0].percent else "")
    return DocFigureGroup(
        metric=group.metric,
        relation=group.relation,
        within_rounding=differ,
        spread=spread,
        note=group.note,
        members=members,
    )


def _breakdown(b: Breakdown, figures: dict[str, DocFigure]) -> DocBreakdown:
    """Add the parts of a breakdown, by interval, and compare them with the total."""
    spans = [interval(figures[i].value, figures[i].qualifier) for i in b.parts]
    total = interval(figures[b.total].value, figures[b.total].qualifier)
    if total is None or None in spans:  # pragma: no cover - verified figures parse
        raise ValueError(f"breakdown of {b.total} holds a figure with no amount")
    low, high = add(s for s in spans if s is not None)
    # The sum as the values are written (25,000 + ... + more than 1,000 = more than 44,000);
    # the verdict allows each its rounding.
    written_low = sum((Decimal(str(figures[i].amount.low)) for i in b.parts), Decimal(0))
    written_high = sum((Decimal(str(figures[i].amount.high)) for i in b.parts), Decimal(0))
    if high == Decimal("Infinity"):
        phrase = f"more than {_shown(_number(written_low))}"
    elif written_low == written_high:
        phrase = _shown(_number(written_low))
    else:
        phrase = f"between {_shown(_number(written_low))} and {_shown(_number(written_high))}"
    difference = None
    if agree([(low, high, False), (total[0], total[1], False)]):
        verdict = "accounts for the total"
    else:
        # By how much, as written: the gap between the parts' sum and the total; where
        # either is a range or a vague amount, the least it can be.
        stated = figures[b.total].amount
        if high < total[0]:
            verdict = "falls short of the total"
            gap = Decimal(str(stated.low)) - written_high
        else:
            verdict = "exceeds the total"
            gap = written_low - Decimal(str(stated.high))
        exact = written_low == written_high and stated.low == stated.high
        difference = ("" if exact else "at least ") + _shown(_number(max(gap, Decimal(0))))
    return DocBreakdown(
        total=b.total, parts=list(b.parts), sum=phrase, verdict=verdict, difference=difference
    )


def _date_order(date: str | None) -> str:
    """A date as it sorts: after every date more precise within it ("2019-03" after
    "2019-03-31", before "2019-04")."""
    if date is None:
        return ""
    return date + "-99" * (2 - date.count("-"))


def _shown(number: int | float) -> str:
    return f"{number:,}" if isinstance(number, int) else f"{number:,.10g}"


def build(result: CorpusResult) -> Document:
    """Resolve every id and citation of `result` into one self-contained document."""
    articles = [_article(r) for r in result.articles]
    actors = {a.id: a for d in articles for a in d.actors}
    figures = {f.id: f for d in articles for f in d.figures}
    c = result.brief
    index = ItemIndex(result.articles)

    def aliases(group_name: str, members: Sequence[str]) -> list[str]:
        names: list[str] = []
        for m in members:
            for n in (actors[m].name, *actors[m].aliases):
                if n.casefold() != group_name.casefold() and n not in names:
                    names.append(n)
        return names

    def by_date(ids: Sequence[str]) -> list[str]:
        # Undated figures go last; ties keep the model's order.
        return sorted(ids, key=lambda i: (figures[i].as_of is None, _date_order(figures[i].as_of)))

    def event(date: str, text: str, sources: list[str], series: bool = False) -> DocEvent:
        dated = TimelineEvent(date=date, event=text, sources=sources)
        inferred = index.date_basis(dated) == "inferred"
        return DocEvent(date=date, inferred=inferred, event=text, sources=sources, series=series)

    events = [event(e.date, e.event, list(e.sources)) for e in c.timeline]
    # A time series's dated values join the timeline, written by code from verified figures.
    series = [
        event(
            f.as_of, f"{g.metric}: {f'{f.qualifier} ' if f.qualifier else ''}{f.value}", [i], True
        )
        for g in c.figure_groups
        if g.relation == "timeline"
        for i in g.members
        if (f := figures[i]).as_of
    ]
    corpus = DocCorpus(
        overview=c.overview,
        actors=[
            DocActorGroup(name=g.name, aliases=aliases(g.name, g.members), members=list(g.members))
            for g in c.actors
        ],
        figure_groups=[_figure_group(g, figures, by_date(g.members)) for g in c.figure_groups],
        disputes=[
            DocCorpusDispute(
                topic=d.topic,
                settle=d.settle,
                sides=[DocCorpusSide(label=s.label, positions=list(s.positions)) for s in d.sides],
            )
            for d in c.disputes
        ],
        breakdowns=[_breakdown(b, figures) for b in c.breakdowns],
        issues=[DocIssue(issue=i.issue, positions=list(i.positions)) for i in c.issues],
        # An event known only to its year goes after that year's dated events, one known
        # to its month after that month's days: "2019" before "2019-03" would claim it
        # came first.
        timeline=sorted([*events, *series], key=lambda e: (_date_order(e.date), e.series)),
    )
    dropped = [DocDropped(where=d.where, reason=d.reason) for d in result.all_dropped()]
    return Document(
        articles=articles,
        corpus=corpus,
        verification=Verification(verified=result.verified_count(), dropped=dropped),
        failed=[
            DocFailed(id=r.article.id, file=r.article.name, reason=r.failure or "")
            for r in result.failed
        ],
        incomplete=list(result.failures),
    )

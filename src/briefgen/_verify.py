"""Verified results: item ids, the checks on the corpus answer, and dropping what fails.

After instructor's re-asks run out, an answer is not thrown away whole: each item is
validated on its own and only the items that still fail are dropped, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from briefgen._grounding import (
    agree,
    echoes,
    interval,
    states_date,
    unreadable,
)
from briefgen._ingest import Article
from briefgen._schema import (
    Actor,
    ActorGroup,
    ArticleBrief,
    Breakdown,
    CorpusBrief,
    CorpusDispute,
    CorpusIssue,
    Dispute,
    Figure,
    FigureGroup,
    Position,
    Published,
    TimelineEvent,
    as_of_problem,
    attribution_problems,
    holder_problems,
    known_names,
    publication_problem,
    summary_problems,
    unsupported_numbers,
    validate_each,
)

_UNTITLED = "Untitled article"
Relation = Literal["consistent", "conflicting", "timeline", "internal_discrepancy"]
_KIND_LETTER = {"actors": "A", "figures": "F", "positions": "P", "disputes": "D"}
_ID = re.compile(r"^(?P<article>[A-Za-z0-9-]+)\.(?P<kind>[AFPDS])(?P<number>[1-9]\d*)$")


@dataclass(frozen=True)
class Dropped:
    """An item that failed verification after every re-ask, and why."""

    where: str  # "001.figures[3]" or "corpus.figure_groups[2]"
    reason: str
    item: Any = None


def unique(dropped: Sequence[Dropped]) -> list[Dropped]:
    """`dropped` with each place and reason listed once, in order."""
    seen: set[tuple[str, str]] = set()
    out = []
    for d in dropped:
        if (d.where, d.reason) not in seen:
            seen.add((d.where, d.reason))
            out.append(d)
    return out


@dataclass
class ArticleResult:
    """One article's verified brief; items are addressed as `{article.id}.F2` and so on.

    `failure` says why an article could not be read at all (its brief is then empty)."""

    article: Article
    brief: ArticleBrief
    dropped: list[Dropped] = field(default_factory=list)
    failure: str | None = None

    def item_id(self, kind: str, number: int) -> str:
        return f"{self.article.id}.{_KIND_LETTER[kind]}{number}"

    def verified(self) -> int:
        """Items that passed every check."""
        b = self.brief
        return len(b.actors) + len(b.figures) + len(b.positions) + len(b.disputes)


def failed_result(article: Article, reason: str, dropped: Sequence[Dropped] = ()) -> ArticleResult:
    """An article that could not be read, and why."""
    empty = ArticleBrief.model_construct(
        title=_UNTITLED,
        published=Published(date=None, inferred=True, basis="not read"),
        summary="",
        actors=[],
        figures=[],
        positions=[],
        disputes=[],
    )
    return ArticleResult(article=article, brief=empty, dropped=unique(dropped), failure=reason)


@dataclass
class CorpusResult:
    """The verified corpus brief with everything it rests on.

    `failed` holds the articles that could not be read; `failures`, the corpus calls that
    could not be answered (the synthesis is then partial)."""

    brief: CorpusBrief
    articles: list[ArticleResult]
    dropped: list[Dropped] = field(default_factory=list)
    failed: list[ArticleResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def all_dropped(self) -> list[Dropped]:
        return [d for r in self.articles for d in r.dropped] + self.dropped

    def verified_count(self) -> int:
        per_article = sum(r.verified() for r in self.articles)
        corpus = self.brief
        parts: list[Sequence[object]] = [
            corpus.actors,
            corpus.figure_groups,
            corpus.breakdowns,
            corpus.issues,
            corpus.disputes,
            corpus.timeline,
        ]
        return per_article + sum(len(part) for part in parts)


M = TypeVar("M", bound=BaseModel)


def _first_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(x) for x in e["loc"])
        parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
    return "; ".join(parts).replace("Value error, ", "")


def _keep_valid(
    raw: Any,
    model: type[M],
    where: str,
    context: dict[str, Any],
    dropped: list[Dropped],
    check: Callable[[M], list[str]] | None = None,
) -> dict[int, M]:
    """The items of `raw` that validate on their own (and pass `check`), by their place in the
    model's answer; the rest dropped, with the reason."""
    kept: dict[int, M] = {}
    for i, item, parsed in validate_each(raw, model, context):
        if isinstance(parsed, ValidationError):
            dropped.append(Dropped(f"{where}[{i}]", _first_error(parsed), item))
            continue
        problems = check(parsed) if check else []
        if problems:
            dropped.append(Dropped(f"{where}[{i}]", "; ".join(problems), item))
        else:
            kept[i] = parsed
    return kept


def salvage_article(raw: dict[str, Any], article: Article) -> ArticleResult:
    """Keep the items of a still-failing answer that pass on their own; drop the rest."""
    context = {"article": article}
    dropped: list[Dropped] = []
    where = article.id
    undated = Published(date=None, inferred=True, basis="no supported date was given")
    try:
        published = Published.model_validate(raw.get("published"))
    except ValidationError as err:
        dropped.append(Dropped(f"{where}.published", _first_error(err), raw.get("published")))
        published = undated
    problem = publication_problem(published, article)
    if problem:
        dropped.append(Dropped(f"{where}.published", problem, raw.get("published")))
        published = undated
    figures = []
    for i, figure in _keep_valid(
        raw.get("figures"), Figure, f"{where}.figures", context, dropped
    ).items():
        problem = as_of_problem(figure, published, article)
        if problem:  # the number is verified; only its date goes
            dropped.append(Dropped(f"{where}.figures[{i}].as_of", problem, figure.as_of))
            figure = figure.model_copy(update={"as_of": None})
        figures.append(figure)
    actors = list(
        _keep_valid(raw.get("actors"), Actor, f"{where}.actors", context, dropped).values()
    )
    names = known_names(actors)
    brief = ArticleBrief.model_construct(
        title=str(raw.get("title") or _UNTITLED),
        published=published,
        summary=str(raw.get("summary") or ""),
        actors=actors,
        figures=figures,
        positions=list(
            _keep_valid(
                raw.get("positions"),
                Position,
                f"{where}.positions",
                context,
                dropped,
                lambda p: (
                    holder_problems(p, names, article) or attribution_problems(p, actors, article)
                ),
            ).values()
        ),
        disputes=list(
            _keep_valid(
                raw.get("disputes"),
                Dispute,
                f"{where}.disputes",
                context,
                dropped,
                lambda d: holder_problems(d, names, article),
            ).values()
        ),
    )
    problems = summary_problems(brief, article)
    if problems:
        dropped.append(Dropped(f"{where}.summary", "; ".join(problems), brief.summary))
        brief.summary = ""
        if summary_problems(brief, article):  # the stray number or echo was in the title
            brief.title = _UNTITLED
    # Re-validate the whole: salvage must never produce something the strict path rejects.
    checked = ArticleBrief.model_validate(brief.model_dump(), context=context)
    return ArticleResult(article=article, brief=checked, dropped=dropped)


# --- the index of verified items ------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """What an item id points at."""

    id: str
    kind: str  # A, F, P, D or S
    result: ArticleResult
    item: Any  # the model item, or the sentence text for S


class ItemIndex:
    """Every verified item by id, for the corpus step's prompt and its validators."""

    def __init__(self, results: Sequence[ArticleResult]) -> None:
        self.results = {r.article.id: r for r in results}
        self.sentences = tuple(s for r in results for s in r.article.sentences)
        self.trimmed: list[Dropped] = []  # fields repaired or dropped by `trim`
        # Every sentence, in any article, that is an instruction to AI systems.
        self.planted = [r.article.sentence(i) for r in results for i in r.article.instructions]

    def resolve(self, item_id: str) -> Resolved | None:
        match = _ID.match(item_id.strip())
        if not match or match["article"] not in self.results:
            return None
        result = self.results[match["article"]]
        number, kind = int(match["number"]), match["kind"]
        if kind == "S":
            sentences = result.article.sentences
            return (
                Resolved(item_id, kind, result, sentences[number - 1])
                if number <= len(sentences)
                else None
            )
        kind_name = {v: k for k, v in _KIND_LETTER.items()}[kind]
        items: list[Any] = getattr(result.brief, kind_name)
        if number > len(items):
            return None
        return Resolved(item_id, kind, result, items[number - 1])

    def check(self, brief: CorpusBrief) -> list[str]:
        """Problems with the whole corpus answer, each naming its part. First the smallest
        repairs are made in place: figure groups get the label their values decide, and a
        note or a "what would settle it" that fails loses that field, not the item."""
        self.trim(brief)
        problems = [f"overview: {p}" for p in self.prose_problems(brief.overview)]
        for name, items, checker in self._parts(brief):
            for i, item in enumerate(items, start=1):
                problems += [f"{name}[{i}]: {p}" for p in checker(item)]
        return problems

    def _parts(
        self, brief: CorpusBrief
    ) -> list[tuple[str, Sequence[Any], Callable[[Any], list[str]]]]:
        return [
            ("actors", brief.actors, self.actor_group_problems),
            ("figure_groups", brief.figure_groups, self.figure_group_problems),
            ("breakdowns", brief.breakdowns, self.breakdown_problems),
            ("issues", brief.issues, self.issue_problems),
            ("disputes", brief.disputes, self.dispute_problems),
            ("timeline", brief.timeline, self.event_problems),
        ]

    def _members(self, ids: Sequence[str], kind: str) -> tuple[list[Resolved], list[str]]:
        found, problems = [], []
        for item_id in ids:
            resolved = self.resolve(item_id)
            if resolved is None:
                problems.append(f"{item_id!r} is not an item id in the briefs")
            elif kind and resolved.kind != kind:
                problems.append(f"{item_id!r} is not a {_KIND_NAMES[kind]} id")
            elif resolved.kind == "S" and _number(item_id) in resolved.result.article.instructions:
                problems.append(
                    f"{item_id!r} is an instruction planted in the article, not reporting"
                )
            else:
                found.append(resolved)
        return found, problems

    def prose_problems(self, *texts: str | None) -> list[str]:
        """Numbers no article states, and planted instructions repeated, in the model's prose."""
        problems = []
        for text in filter(None, texts):
            problems += [f"{text!r} {p}" for p in [unreadable(text)] if p]
            problems += [
                f"{n!r} is not stated in any article"
                for n in unsupported_numbers(text, self.sentences)
            ]
            if any(echoes(text, planted) for planted in self.planted):
                problems.append(f"{text!r} repeats an instruction planted in an article")
        return problems

    def actor_group_problems(self, group: ActorGroup) -> list[str]:
        members, problems = self._members(group.members, "A")
        names = {n.casefold() for m in members for n in (m.item.name, *m.item.aliases)}
        if members and group.name.casefold() not in names:
            problems.append(f"name {group.name!r} is not a name any member goes by")
        return problems

    def trim(self, brief: CorpusBrief) -> None:
        """Repair in place what is wrong with one field of a corpus item only, and say so in
        `self.trimmed`: the relation label of a figure group (code decides it from the
        values and their hedges), a note or a settle clause with a number no article states."""
        for n, group in enumerate(brief.figure_groups, start=1):
            where = f"corpus.figure_groups[{n}]"
            label = self.label(group)
            if label is not None:
                group.relation = label
            problems = self.prose_problems(group.note)
            if problems:
                self.trimmed.append(Dropped(f"{where}.note", "; ".join(problems), group.note))
                group.note = ""
        for n, dispute in enumerate(brief.disputes, start=1):
            problems = self.prose_problems(dispute.settle)
            if problems:
                where = f"corpus.disputes[{n}].settle"
                self.trimmed.append(Dropped(where, "; ".join(problems), dispute.settle))
                dispute.settle = None

    def label(self, group: FigureGroup) -> Relation | None:
        """The relation a figure group's values decide, or None to keep the model's (a time
        series of values at different dates, or members that do not resolve): all equal or
        agreeing within rounding and hedges → consistent; otherwise internal_discrepancy
        within one article, else conflicting. A model's label is advice; the numbers decide."""
        members, problems = self._members(group.members, "F")
        if problems or len(members) < 2:
            return None
        if group.relation == "timeline" and len({m.item.as_of for m in members}) > 1:
            return None  # values at different dates: a series, not one amount
        if len({m.item.unit.strip().casefold() for m in members}) > 1:
            return None  # feet and centimetres: numbers alone cannot decide; the model's stands
        if figures_agree([m.item for m in members]):
            return "consistent"
        one_article = len({m.result.article.id for m in members}) == 1
        return "internal_discrepancy" if one_article else "conflicting"

    def figure_group_problems(self, group: FigureGroup) -> list[str]:
        problems = self._members(group.members, "F")[1]
        problems += [f"metric: {p}" for p in self.prose_problems(group.metric)]
        return problems

    def breakdown_problems(self, breakdown: Breakdown) -> list[str]:
        found, problems = self._members([breakdown.total, *breakdown.parts], "F")
        if breakdown.total in breakdown.parts:
            problems.append(f"{breakdown.total!r} is both the total and a part")
        if not problems and len({f.item.unit.casefold() for f in found}) > 1:
            problems.append("its total and parts count different units")
        spans = [interval(f.item.value, f.item.qualifier) for f in found]
        if not problems and len({s[2] for s in spans if s is not None}) > 1:
            problems.append("its total and parts mix percentages and counts")
        return problems

    def issue_problems(self, issue: CorpusIssue) -> list[str]:
        return self.prose_problems(issue.issue) + self._members(issue.positions, "P")[1]

    def dispute_problems(self, dispute: CorpusDispute) -> list[str]:
        problems = self.prose_problems(
            dispute.topic, dispute.settle, *(side.label for side in dispute.sides)
        )
        for side in dispute.sides:
            problems += self._members(side.positions, "P")[1]
        return problems

    def event_problems(self, event: TimelineEvent) -> list[str]:
        found, problems = self._members(event.sources, "")
        problems += self.prose_problems(event.event)
        if found and self.date_basis(event) is None:
            problems.append(f"date {event.date} is not supported by any of its sources")
        return problems

    def date_basis(self, event: TimelineEvent) -> str | None:
        """ "stated" if a source states the event's date, "inferred" if only an inferred
        publication date supports it, None if nothing does."""
        bases = set()
        for item_id in event.sources:
            resolved = self.resolve(item_id)
            if resolved is not None:
                bases.add(_date_basis(resolved, event.date))
        return "stated" if "stated" in bases else "inferred" if "inferred" in bases else None

    def salvage(
        self, raw: dict[str, Any], where: str = "corpus"
    ) -> tuple[CorpusBrief, list[Dropped]]:
        """Keep the parts of a still-failing corpus answer that pass on their own."""
        dropped: list[Dropped] = []
        parts: dict[str, list[Any]] = {}
        models: dict[str, type[BaseModel]] = {
            "actors": ActorGroup,
            "figure_groups": FigureGroup,
            "breakdowns": Breakdown,
            "issues": CorpusIssue,
            "disputes": CorpusDispute,
            "timeline": TimelineEvent,
        }
        checkers = {
            name: checker
            for name, _, checker in self._parts(
                CorpusBrief.model_construct(
                    overview="",
                    actors=[],
                    figure_groups=[],
                    breakdowns=[],
                    issues=[],
                    disputes=[],
                    timeline=[],
                )
            )
        }
        for name, model in models.items():
            kept = _keep_valid(raw.get(name), model, f"{where}.{name}", {}, dropped, checkers[name])
            parts[name] = list(kept.values())
        overview = str(raw.get("overview") or "")
        problems = self.prose_problems(overview)
        if problems:
            dropped.append(Dropped(f"{where}.overview", "; ".join(problems)))
            overview = ""
        brief = CorpusBrief(overview=overview, **parts)
        self.trim(brief)
        return brief, dropped


def _as_written(figure: Figure) -> str:
    return f"{figure.qualifier} {figure.value}" if figure.qualifier else figure.value


def figures_agree(figures: Sequence[Figure]) -> bool:
    """Whether the figures can all be true at once, by their values and hedges
    (`_grounding.interval`): "some 3,500", "nearly 3,500", "3,450" and "more than 3,000" do;
    907,391 and 907,351 do not."""
    spans = [interval(f.value, f.qualifier) for f in figures]
    return None not in spans and agree([s for s in spans if s is not None])


_KIND_NAMES = {"A": "actor", "F": "figure", "P": "position", "D": "dispute", "S": "sentence"}


def _number(item_id: str) -> int:
    match = _ID.match(item_id.strip())
    return int(match["number"]) if match else 0


def _date_basis(resolved: Resolved, date: str) -> str | None:
    """How `resolved` supports an event on `date`: "stated", "inferred" or None.

    A figure supports its as-of date; a sentence (or an item's cited sentences) supports a
    date it states, with the publication year standing in for a year left implicit; and the
    publication date supports events at its own or a coarser precision. Whatever rests on
    an inferred publication date is itself inferred.
    """
    published = resolved.result.brief.published
    if resolved.kind == "F" and resolved.item.as_of and resolved.item.as_of.startswith(date):
        date = resolved.item.as_of
    texts = (
        [resolved.item]
        if resolved.kind == "S"
        else [resolved.result.article.sentence(i) for i in getattr(resolved.item, "sentences", [])]
    )
    text = " ".join(texts)
    if states_date(text, date):
        return "stated"
    by_publication = published.date is not None and (
        states_date(text, date, published.date[:4]) or published.date.startswith(date)
    )
    if by_publication:
        return "inferred" if published.inferred else "stated"
    return None

"""Map (one extract call per article, concurrent) and reduce (one corpus call)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from briefgen._cache import Cache
from briefgen._corpus import Article, load
from briefgen._errors import BudgetError
from briefgen._llm import Extractor, Settings, Usage
from briefgen._prompts import Prompts
from briefgen._schema import ActorGroup, ArticleBrief, CorpusBrief
from briefgen._tokens import count_tokens
from briefgen._verify import ArticleResult, CorpusResult, Dropped, ItemIndex, salvage_article

Progress = Callable[[str], None]
# Prompt tokens per corpus call: a 128k-token context (gpt-4o, gpt-4o-mini, llama 3.1) less
# room for the answer's schema and a long answer.
DEFAULT_CONTEXT_BUDGET = 96_000


@dataclass
class Run:
    """A finished run: the verified corpus brief and what it cost."""

    result: CorpusResult
    usage: Usage = field(default_factory=Usage)


class Pipeline:
    """Everything one run needs: the model, the templates, the cache, the concurrency."""

    def __init__(
        self,
        settings: Settings,
        prompts: Prompts | None = None,
        cache: Cache | None = None,
        concurrency: int = 4,
        http_client: Any = None,
        context_budget: int | None = None,
    ) -> None:
        self.settings = settings
        self.prompts = prompts or Prompts()
        self.cache = cache
        self.concurrency = max(1, concurrency)
        self.context_budget = context_budget or DEFAULT_CONTEXT_BUDGET
        self.extractor = Extractor(settings, http_client=http_client)
        self.usage = Usage()

    async def run(self, articles: Sequence[Article], progress: Progress | None = None) -> Run:
        tell = progress or (lambda _: None)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(article: Article) -> ArticleResult:
            async with gate:
                result = await self.extract(article)
            tell(article.id)
            return result

        results = list(await asyncio.gather(*(one(a) for a in articles)))
        corpus = await self.synthesise(results)
        tell("corpus")
        return Run(result=corpus, usage=self.usage)

    async def extract(self, article: Article) -> ArticleResult:
        """The verified brief of one article, from the cache or the model."""
        system = self.prompts.render("extract_system.j2", article=article)
        user = self.prompts.render("extract_user.j2", article=article)
        key = None
        if self.cache is not None:
            key = self.cache.key(self.settings.model, system, user)
            cached = self.cache.get(key)
            if cached is not None and isinstance(cached.get("brief"), dict):
                self.usage.cache_hits += 1
                result = salvage_article(cached["brief"], article)
                earlier = [Dropped(str(d["where"]), str(d["reason"])) for d in cached["dropped"]]
                result.dropped[:0] = earlier
                return result
        answer = await self.extractor.ask(
            ArticleBrief, system, user, {"article": article}, label=f"article {article.name}"
        )
        self.usage.add(answer.usage)
        if answer.parsed is not None:
            assert isinstance(answer.parsed, ArticleBrief)
            result = ArticleResult(article=article, brief=answer.parsed)
        else:
            result = salvage_article(answer.raw, article)
            if not answer.raw:
                result.dropped.append(Dropped(f"{article.id}", answer.failure or "no answer"))
        if self.cache is not None and key is not None and answer.raw:
            dropped = [{"where": d.where, "reason": d.reason} for d in result.dropped]
            self.cache.put(key, {"brief": result.brief.model_dump(mode="json"), "dropped": dropped})
        return result

    async def synthesise(self, results: Sequence[ArticleResult]) -> CorpusResult:
        """The corpus brief, answered in item ids and checked.

        If the briefs do not fit the context budget in one prompt, they are partitioned,
        each part is briefed, and the partial briefs are merged the same way, level by level,
        still by ids. Whatever a merge leaves out is carried over from its partial briefs by
        code, so no group, issue, dispute or event is lost on the way up.
        """
        index = ItemIndex(results)
        units: list[dict[str, Any]] = [brief_view(r) for r in results]
        dropped: list[Dropped] = []
        level = 1
        while True:
            kind = "corpus" if level == 1 else "merge"
            chunks, singletons = self.plan(kind, units)
            gate = asyncio.Semaphore(self.concurrency)
            answers = await asyncio.gather(
                *(self._part(gate, kind, c, index, singletons, len(chunks) > 1) for c in chunks)
            )
            merged = []
            for chunk, (answer, lost) in zip(chunks, answers, strict=True):
                dropped += lost
                inputs = [u["brief"] for u in chunk if "brief" in u]
                merged.append(partial_view(carry_over(answer, inputs, index), chunk, index))
            if len(merged) == 1:
                break
            units = merged
            level += 1
        self.usage.levels = level
        final: CorpusBrief = merged[0]["brief"]
        return CorpusResult(brief=final, articles=list(results), dropped=dropped)

    async def _part(
        self,
        gate: asyncio.Semaphore,
        kind: str,
        chunk: list[dict[str, Any]],
        index: ItemIndex,
        singletons: bool,
        partial: bool,
    ) -> tuple[CorpusBrief, list[Dropped]]:
        if kind == "merge" and len(chunk) == 1:  # nothing to merge it with at this level
            return chunk[0]["brief"], []
        where = f"corpus[{_part_id(chunk)}]" if partial else "corpus"
        async with gate:
            return await self._corpus_call(kind, chunk, index, where, singletons)

    def plan(
        self, kind: str, units: Sequence[dict[str, Any]]
    ) -> tuple[list[list[dict[str, Any]]], bool]:
        """The calls of one level: runs of `units` that each fit the budget, and whether the
        merge prompts list the figures no group holds yet (dropped if that stops any merge)."""
        chunks = self.partition(kind, units, singletons=True)
        if kind == "corpus" or len(chunks) < len(units):
            return chunks, True
        chunks = self.partition(kind, units, singletons=False)
        if len(chunks) == len(units):
            raise BudgetError(
                f"--context-budget {self.context_budget:,} is too small to merge any two "
                "partial briefs; raise it."
            )
        return chunks, False

    def partition(
        self, kind: str, units: Sequence[dict[str, Any]], singletons: bool = True
    ) -> list[list[dict[str, Any]]]:
        """`units` in order, cut into runs whose prompt fits the context budget."""
        chunks: list[list[dict[str, Any]]] = [[]]
        for unit in units:
            grown = [*chunks[-1], unit]
            if chunks[-1] and self._prompt_tokens(kind, grown, singletons) > self.context_budget:
                chunks.append([])
            chunks[-1].append(unit)
        for chunk in chunks:
            needed = self._prompt_tokens(kind, chunk, singletons)
            if len(chunk) == 1 and needed > self.context_budget and kind == "corpus":
                raise BudgetError(
                    f"--context-budget {self.context_budget:,} is too small: article "
                    f"{chunk[0]['id']}'s brief alone needs {needed:,} tokens of prompt; raise it."
                )
        return chunks

    def _prompts(
        self, kind: str, units: Sequence[dict[str, Any]], singletons: bool = True
    ) -> tuple[str, str]:
        system = self.prompts.render(f"{kind}_system.j2")
        if kind == "corpus":
            return system, self.prompts.render("corpus_user.j2", briefs=units)
        user = self.prompts.render("merge_user.j2", partials=units, singletons=singletons)
        return system, user

    def _prompt_tokens(
        self, kind: str, units: Sequence[dict[str, Any]], singletons: bool = True
    ) -> int:
        system, user = self._prompts(kind, units, singletons)
        return count_tokens(system) + count_tokens(user)

    async def _corpus_call(
        self,
        kind: str,
        units: Sequence[dict[str, Any]],
        index: ItemIndex,
        where: str,
        singletons: bool = True,
    ) -> tuple[CorpusBrief, list[Dropped]]:
        system, user = self._prompts(kind, units, singletons)
        label = "the corpus brief" if where == "corpus" else f"the partial brief {where}"
        answer = await self.extractor.ask(
            CorpusBrief, system, user, {"check_corpus": index.check}, label=label
        )
        self.usage.add(answer.usage)
        if answer.parsed is not None:
            assert isinstance(answer.parsed, CorpusBrief)
            return answer.parsed, []
        brief, dropped = index.salvage(answer.raw, where)
        if not answer.raw:
            dropped.append(Dropped(where, answer.failure or "no answer"))
        return brief, dropped


def _articles(units: Sequence[dict[str, Any]]) -> list[str]:
    return [a for unit in units for a in unit.get("articles", [unit["id"]])]


def _part_id(units: Sequence[dict[str, Any]]) -> str:
    ids = _articles(units)
    return ids[0] if len(ids) == 1 else f"{ids[0]}-{ids[-1]}"


def item_lines(result: ArticleResult) -> dict[str, str]:
    """Every verified item of one article as a prompt line, by id (`001.F2 figure: ...`)."""
    b, aid = result.brief, result.article.id

    def cites(ids: Sequence[int]) -> str:
        return f" [{', '.join(f'{aid}.S{i}' for i in ids)}]"

    lines = {}
    for n, a in enumerate(b.actors, start=1):
        aliases = f"; also called {', '.join(a.aliases)}" if a.aliases else ""
        lines[f"{aid}.A{n}"] = f"{aid}.A{n} actor: {a.name} ({a.kind}; {a.role}{aliases})"
    for n, f in enumerate(b.figures, start=1):
        qualifier = f"{f.qualifier} " if f.qualifier else ""
        as_of = f"; as of {f.as_of}" if f.as_of else ""
        lines[f"{aid}.F{n}"] = (
            f"{aid}.F{n} figure: {qualifier}{f.value} {f.unit} — {f.measures}{as_of}"
            f"{cites(f.sentences)}"
        )
    for n, p in enumerate(b.positions, start=1):
        quote = f' Quote: "{p.quote}"' if p.quote else ""
        lines[f"{aid}.P{n}"] = (
            f"{aid}.P{n} position: {p.actor} on {p.issue}: {p.stance}{quote}{cites(p.sentences)}"
        )
    for n, d in enumerate(b.disputes, start=1):
        sides = " | ".join(f"{s.actor}: {s.claim}" for s in d.sides)
        lines[f"{aid}.D{n}"] = f"{aid}.D{n} dispute: {d.topic} — {sides}"
    return lines


def brief_view(result: ArticleResult) -> dict[str, Any]:
    """One verified brief as the corpus prompt shows it: every item on a line with its id."""
    b = result.brief
    published = b.published.date or "unknown"
    if b.published.date and b.published.inferred:
        published += f" (inferred: {b.published.basis})"
    return {
        "id": result.article.id,
        "name": result.article.name,
        "title": b.title,
        "published": published,
        "summary": b.summary,
        "lines": list(item_lines(result).values()),
    }


def _compact(index: ItemIndex, item_id: str) -> str:
    """An item as a merge prompt shows it: only what joining across parts needs."""
    resolved = index.resolve(item_id)
    if resolved is None:  # pragma: no cover - ids in a verified brief resolve
        return item_id
    item = resolved.item
    if resolved.kind == "F":
        qualifier = f"{item.qualifier} " if item.qualifier else ""
        as_of = f"; as of {item.as_of}" if item.as_of else ""
        return f"{item_id}: {qualifier}{item.value} {item.unit} — {item.measures}{as_of}"
    if resolved.kind == "P":
        return f"{item_id}: {item.actor} — {item.stance}"
    if resolved.kind == "A":
        return " / ".join([item.name, *item.aliases])
    return f"{item_id}: {item}"


def partial_view(
    brief: CorpusBrief, units: Sequence[dict[str, Any]], index: ItemIndex
) -> dict[str, Any]:
    """A (partial) corpus brief of `units` as a merge prompt shows it, compactly: its groups,
    issues, disputes and events by id, the figures and positions they hold (each once), and
    the figures of its articles that no group holds yet."""
    articles = _articles(units)
    shown: set[str] = set()
    out: list[str] = []

    def items(ids: Sequence[str]) -> None:
        for item_id in ids:
            if item_id not in shown:
                shown.add(item_id)
                out.append(f"  {_compact(index, item_id)}")

    for g in brief.actors:
        names = "; ".join(_compact(index, m) for m in g.members)
        out.append(f"actor {g.name!r} = {', '.join(g.members)} ({names})")
    for f in brief.figure_groups:
        note = f" ({f.note})" if f.note else ""
        out.append(f"figure group [{f.relation}] {f.metric!r}{note}: {', '.join(f.members)}")
        items(f.members)
    for i in brief.issues:
        out.append(f"issue {i.issue!r}:")
        items(i.positions)
    for d in brief.disputes:
        sides = " | ".join(f"{s.label}: {', '.join(s.positions)}" for s in d.sides)
        settle = f" (would settle it: {d.settle})" if d.settle else ""
        out.append(f"dispute {d.topic!r}: {sides}{settle}")
        items([p for s in d.sides for p in s.positions])
    for e in brief.timeline:
        out.append(f"event {e.date}: {e.event} [{', '.join(e.sources)}]")
    grouped = {m for g in brief.figure_groups for m in g.members}
    singletons = [
        _compact(index, f"{r.article.id}.F{n}")
        for r in index.results.values()
        if r.article.id in articles
        for n in range(1, len(r.brief.figures) + 1)
        if f"{r.article.id}.F{n}" not in grouped
    ]
    return {
        "id": _part_id(units),
        "articles": articles,
        "overview": brief.overview,
        "lines": out,
        "singletons": singletons,
        "brief": brief,
    }


T = TypeVar("T")


def _left_out(have: Sequence[T], more: Iterable[T], keys: Callable[[T], set[str]]) -> list[T]:
    """`have`, then each of `more` that `have` does not already cover."""
    kept = list(have)
    covered = {k for item in kept for k in keys(item)}
    for item in more:
        if not keys(item) <= covered:
            kept.append(item)
            covered |= keys(item)
    return kept


def carry_over(
    final: CorpusBrief, partials: Sequence[CorpusBrief], index: ItemIndex
) -> CorpusBrief:
    """`final` plus whatever of `partials` it left out, so a merge never loses a part."""
    if not partials:
        return final
    actors = list(final.actors)
    grouped = {m for g in actors for m in g.members}
    for group in (g for p in partials for g in p.actors):
        rest = [m for m in group.members if m not in grouped]
        if not rest:
            continue
        carried = ActorGroup(name=group.name, members=rest)
        first = index.resolve(rest[0])
        if index.actor_group_problems(carried) and first is not None:
            carried = ActorGroup(name=first.item.name, members=rest)  # its name was merged away
        actors.append(carried)
        grouped.update(rest)
    return CorpusBrief(
        overview=final.overview,
        actors=actors,
        figure_groups=_left_out(
            final.figure_groups,
            (g for p in partials for g in p.figure_groups),
            lambda g: {f"{g.relation}:{m}" for m in g.members},
        ),
        issues=_left_out(
            final.issues, (i for p in partials for i in p.issues), lambda i: set(i.positions)
        ),
        disputes=_left_out(
            final.disputes,
            (d for p in partials for d in p.disputes),
            lambda d: {x for s in d.sides for x in s.positions},
        ),
        timeline=_left_out(
            final.timeline,
            (e for p in partials for e in p.timeline),
            lambda e: {f"{e.date}:{s}" for s in e.sources},
        ),
    )


def summarize(
    paths: Sequence[str | Path],
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    prompts_dir: str | Path | None = None,
    concurrency: int = 4,
    cache: Cache | None = None,
    context_budget: int = DEFAULT_CONTEXT_BUDGET,
) -> CorpusResult:
    """Summarise the articles under `paths`; returns the verified corpus brief.

    >>> result = summarize(["seeds/"])            # doctest: +SKIP
    >>> result.brief.figure_groups[0].relation     # doctest: +SKIP
    'internal_discrepancy'
    """
    settings = Settings(model=model or Settings.model, base_url=base_url, api_key=api_key)
    prompts = Prompts(Path(prompts_dir) if prompts_dir else None)
    articles = load([Path(p) for p in paths])
    pipeline = Pipeline(
        settings,
        prompts=prompts,
        cache=cache,
        concurrency=concurrency,
        context_budget=context_budget,
    )
    return asyncio.run(pipeline.run(articles)).result

"""Map (one extract call per article, concurrent) and reduce (one corpus call)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from briefgen._cache import Cache, CacheEntryError
from briefgen._errors import BudgetError, ModelError
from briefgen._ingest import Article, load
from briefgen._llm import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_TIMEOUT,
    Answer,
    Extractor,
    Settings,
    Usage,
)
from briefgen._prompts import Prompts
from briefgen._schema import ActorGroup, ArticleBrief, CorpusBrief
from briefgen._tokens import count_tokens
from briefgen._verify import (
    ArticleResult,
    CorpusResult,
    Dropped,
    ItemIndex,
    failed_result,
    salvage_article,
    unique,
)

T = TypeVar("T")
Listener = Callable[[str], None]
Done = Callable[[ArticleResult, float], None]
Warn = Callable[[str], None]
# Prompt tokens per corpus call: a 128k-token context (gpt-4o, gpt-4o-mini, llama 3.1) less
# room for the answer's schema and a long answer.
DEFAULT_CONTEXT_BUDGET = 96_000
# Article tokens one extraction call may carry: a 128k-token context less the instructions
# and schema (about 2,500 tokens), a re-ask's previous answer (up to --max-tokens, 16,384)
# and its errors (about 2,000), and room for the answer (16,384): 131,072 - 37,268 ≈ 90k.
DEFAULT_MAX_ARTICLE_TOKENS = 90_000


@dataclass
class Run:
    """A finished run: the verified corpus brief and what it cost."""

    result: CorpusResult
    usage: Usage = field(default_factory=Usage)


async def gather(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """The results of `coroutines`, run concurrently; if one raises, the others are
    cancelled and its error (the first) is raised alone, as the one line the CLI prints."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except* Exception as grouped:
        first: BaseException = grouped
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


class Pipeline:
    """Everything one run needs: the model, the templates, the cache, the concurrency."""

    def __init__(
        self,
        settings: Settings,
        prompts: Prompts | None = None,
        cache: Cache | None = None,
        concurrency: int = 4,
        transport: Any = None,
        context_budget: int | None = None,
        max_article_tokens: int = DEFAULT_MAX_ARTICLE_TOKENS,
        listener: Listener | None = None,
        done: Done | None = None,
        warn: Warn | None = None,
    ) -> None:
        self.settings = settings
        self.prompts = prompts or Prompts()
        self.cache = cache
        self.concurrency = max(1, concurrency)
        self.context_budget = context_budget or DEFAULT_CONTEXT_BUDGET
        self.max_article_tokens = max_article_tokens
        self.extractor = Extractor(settings, transport=transport, listener=listener)
        self.done: Done = done or (lambda _r, _s: None)
        self.warn: Warn = warn or (lambda _: None)
        self.usage = Usage()
        self.failures: list[str] = []  # corpus calls that could not be answered

    async def run(self, articles: Sequence[Article]) -> Run:
        """Every article's brief (each failing alone), then the corpus brief of those read.

        A verified brief is cached as soon as it arrives, so a run that ends early, or an
        article that fails, never costs the others again."""
        gate = asyncio.Semaphore(self.concurrency)
        self.failures = []

        async def one(article: Article) -> ArticleResult:
            async with gate:
                started = time.monotonic()
                result = await self.extract(article)
            self.done(result, time.monotonic() - started)
            return result

        async with self.extractor:
            results = await gather(one(a) for a in articles)
            failed = [r for r in results if r.failure is not None]
            read = [r for r in results if r.failure is None]
            if not read:
                first = failed[0]
                raise ModelError(
                    f"no article could be read; {first.article.name}: {first.failure}"
                    + (f" (and {len(failed) - 1} more failed)" if len(failed) > 1 else "")
                )
            corpus = await self.synthesise(read)
        corpus.failed = failed
        return Run(result=corpus, usage=self.usage)

    async def extract(self, article: Article) -> ArticleResult:
        """The verified brief of one article, from the cache or the model; a result with
        `failure` set if it could not be read."""
        too_long = self._too_long(article)
        if too_long:
            return failed_result(article, too_long)
        system = self.prompts.render("extract_system.j2", article=article)
        user = self.prompts.render("extract_user.j2", article=article)
        key = None
        if self.cache is not None:
            key = self.cache.key(self.settings.model, system, user)
            cached = self._from_cache(key, article)
            if cached is not None:
                return cached
        answer = await self.extractor.ask(
            ArticleBrief, system, user, {"article": article}, label=f"article {article.name}"
        )
        self.usage.add(answer.usage)
        result = self._result(article, answer, count_tokens(system) + count_tokens(user))
        if self.cache is not None and key is not None and result.failure is None:
            dropped = [{"where": d.where, "reason": d.reason} for d in result.dropped]
            entry = {"brief": result.brief.model_dump(mode="json"), "dropped": dropped}
            try:
                self.cache.put(key, entry)
            except OSError as err:  # the brief is still good; only the next run pays again
                self.warn(f"could not cache the brief of {article.name} ({err.strerror or err})")
        return result

    def _too_long(self, article: Article) -> str | None:
        """Why an article is refused before any call: longer than one call may carry."""
        text = article.numbered()
        if len(text.encode()) <= self.max_article_tokens:  # a token is at least one byte
            return None
        tokens = count_tokens(text)
        if tokens <= self.max_article_tokens:
            return None
        return (
            f"too long: {tokens:,} tokens, over --max-article-tokens "
            f"{self.max_article_tokens:,}; split the file, or raise the limit for a model "
            "with a larger context"
        )

    def _from_cache(self, key: str, article: Article) -> ArticleResult | None:
        """The cached result for `key`, re-verified; None (with a warning for a damaged
        entry, which the fresh answer then replaces) if there is none to use."""
        assert self.cache is not None
        try:
            entry = self.cache.get(key)
            if entry is None:
                return None
            result, earlier = _cached_result(entry, article)
        except (CacheEntryError, KeyError, TypeError, AttributeError, ValidationError) as err:
            reason = err.reason if isinstance(err, CacheEntryError) else "not a cached brief"
            self.warn(
                f"cache entry {self.cache.path(key)} for {article.name} is unusable "
                f"({reason}); asking again and replacing it"
            )
            return None
        self.usage.cache_hits += 1
        result.dropped[:0] = earlier
        result.dropped = unique(result.dropped)
        return result

    def _result(self, article: Article, answer: Answer, prompt_tokens: int) -> ArticleResult:
        """The verified brief from an answer: the valid one, else the best salvage of the
        answers that failed; a failed result if nothing was verified."""
        if answer.parsed is not None:
            assert isinstance(answer.parsed, ArticleBrief)
            result = ArticleResult(article=article, brief=answer.parsed)
            if result.verified() == 0:
                return failed_result(article, "the answer held nothing that could be verified")
            return result
        salvaged = [salvage_article(raw, article) for raw in answer.candidates]
        best = max(reversed(salvaged), key=lambda r: r.verified(), default=None)
        failure = answer.failure or "no answer"
        if answer.kind == "too_long":
            failure += f"; the first ask was {prompt_tokens:,} tokens by briefgen's count"
        if best is None or best.verified() == 0:
            if best is not None and answer.kind == "invalid":
                failure = "nothing in the answer passed verification"
            elif best is not None:
                failure += "; nothing verified in earlier answers"
            return failed_result(article, failure, best.dropped if best else [])
        if answer.kind != "invalid":  # a re-ask failed: the best earlier answer stands
            best.dropped.append(Dropped(article.id, f"re-asking stopped: {failure}"))
        best.dropped = unique(best.dropped)
        return best

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
            answers = await gather(
                self._part(gate, kind, c, index, singletons, len(chunks) > 1) for c in chunks
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
        dropped += index.trimmed  # fields repaired in place: a note, a settle clause
        return CorpusResult(
            brief=final, articles=list(results), dropped=unique(dropped), failures=self.failures
        )

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
        salvaged = [index.salvage(raw, where) for raw in answer.candidates]
        brief, dropped = max(
            reversed(salvaged),
            key=lambda kept: sum(map(len, _parts(kept[0]))),
            default=(_EMPTY, []),
        )
        failure = answer.failure or "no answer"
        if not salvaged or answer.kind != "invalid":
            self.failures.append(f"{label}: {failure}")
        return brief, unique(dropped)


def _cached_result(entry: dict[str, Any], article: Article) -> tuple[ArticleResult, list[Dropped]]:
    """A cache entry re-verified against the article, and the drops it recorded; an error
    if the entry is not the shape briefgen writes or holds nothing verified."""
    ArticleBrief.model_validate(entry["brief"])  # the shape, before grounding
    dropped = entry["dropped"]
    if not isinstance(dropped, list):
        raise TypeError("dropped is not a list")
    earlier = [Dropped(_text(d["where"]), _text(d["reason"])) for d in dropped]
    result = salvage_article(entry["brief"], article)
    if result.verified() == 0:
        raise CacheEntryError("it holds nothing verified")
    return result, earlier


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


_EMPTY = CorpusBrief(
    overview="", actors=[], figure_groups=[], breakdowns=[], issues=[], disputes=[], timeline=[]
)


def _parts(brief: CorpusBrief) -> list[Sequence[object]]:
    return [
        brief.actors,
        brief.figure_groups,
        brief.breakdowns,
        brief.issues,
        brief.disputes,
        brief.timeline,
    ]


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
    for b in brief.breakdowns:
        out.append(f"breakdown {b.total} = {' + '.join(b.parts)}")
        items([b.total, *b.parts])
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
        breakdowns=_left_out(
            final.breakdowns,
            (b for p in partials for b in p.breakdowns),
            lambda b: {f"{b.total}:{m}" for m in b.parts},
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
    timeout: float = DEFAULT_TIMEOUT,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_article_tokens: int = DEFAULT_MAX_ARTICLE_TOKENS,
) -> CorpusResult:
    """Summarise the articles under `paths`; returns the verified corpus brief.

    Articles that could not be read are in `result.failed`, each with its reason; if none
    could be read, `ModelError` says why the first one failed.

    >>> result = summarize(["seeds/"])            # doctest: +SKIP
    >>> result.brief.figure_groups[0].relation     # doctest: +SKIP
    'internal_discrepancy'
    """
    settings = Settings(
        model=model or Settings.model,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout,
        max_tokens=max_tokens,
    )
    prompts = Prompts(Path(prompts_dir) if prompts_dir else None)
    articles = load([Path(p) for p in paths])
    pipeline = Pipeline(
        settings,
        prompts=prompts,
        cache=cache,
        concurrency=concurrency,
        context_budget=context_budget,
        max_article_tokens=max_article_tokens,
    )
    return asyncio.run(pipeline.run(articles)).result

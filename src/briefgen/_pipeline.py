"""Map (one extract call per article, concurrent) and reduce (one corpus call)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from briefgen._cache import Cache
from briefgen._corpus import Article, load
from briefgen._llm import Extractor, Settings, Usage
from briefgen._prompts import Prompts
from briefgen._schema import ArticleBrief, CorpusBrief
from briefgen._verify import ArticleResult, CorpusResult, Dropped, ItemIndex, salvage_article

Progress = Callable[[str], None]


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
    ) -> None:
        self.settings = settings
        self.prompts = prompts or Prompts()
        self.cache = cache
        self.concurrency = max(1, concurrency)
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
        """One corpus call over the verified briefs, answered in item ids and checked."""
        index = ItemIndex(results)
        system = self.prompts.render("corpus_system.j2")
        user = self.prompts.render("corpus_user.j2", briefs=[brief_view(r) for r in results])
        answer = await self.extractor.ask(
            CorpusBrief, system, user, {"check_corpus": index.check}, label="the corpus brief"
        )
        self.usage.add(answer.usage)
        if answer.parsed is not None:
            assert isinstance(answer.parsed, CorpusBrief)
            return CorpusResult(brief=answer.parsed, articles=list(results))
        brief, dropped = index.salvage(answer.raw)
        if not answer.raw:
            dropped.append(Dropped("corpus", answer.failure or "no answer"))
        return CorpusResult(brief=brief, articles=list(results), dropped=dropped)


def brief_view(result: ArticleResult) -> dict[str, Any]:
    """One verified brief as the corpus prompt shows it: every item on a line with its id."""
    b, aid = result.brief, result.article.id

    def refs(ids: Sequence[int]) -> str:
        return ", ".join(f"{aid}.S{i}" for i in ids)

    lines = []
    for n, a in enumerate(b.actors, start=1):
        aliases = f"; also called {', '.join(a.aliases)}" if a.aliases else ""
        lines.append(f"{aid}.A{n} actor: {a.name} ({a.kind}; {a.role}{aliases})")
    for n, f in enumerate(b.figures, start=1):
        qualifier = f"{f.qualifier} " if f.qualifier else ""
        as_of = f"; as of {f.as_of}" if f.as_of else ""
        lines.append(
            f"{aid}.F{n} figure: {qualifier}{f.value} {f.unit} — {f.measures}{as_of} "
            f"[{refs(f.sentences)}]"
        )
    for n, p in enumerate(b.positions, start=1):
        quote = f' Quote: "{p.quote}"' if p.quote else ""
        lines.append(
            f"{aid}.P{n} position: {p.actor} on {p.issue}: {p.stance}{quote} [{refs(p.sentences)}]"
        )
    for n, d in enumerate(b.disputes, start=1):
        sides = " | ".join(f"{s.actor}: {s.claim}" for s in d.sides)
        lines.append(f"{aid}.D{n} dispute: {d.topic} — {sides}")
    published = b.published.date or "unknown"
    if b.published.date and b.published.inferred:
        published += f" (inferred: {b.published.basis})"
    return {
        "id": aid,
        "name": result.article.name,
        "title": b.title,
        "published": published,
        "summary": b.summary,
        "lines": lines,
    }


def summarize(
    paths: Sequence[str | Path],
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    prompts_dir: str | Path | None = None,
    concurrency: int = 4,
    cache: Cache | None = None,
) -> CorpusResult:
    """Summarise the articles under `paths`; returns the verified corpus brief.

    >>> result = summarize(["seeds/"])            # doctest: +SKIP
    >>> result.brief.figure_groups[0].relation     # doctest: +SKIP
    'internal_discrepancy'
    """
    settings = Settings(model=model or Settings.model, base_url=base_url, api_key=api_key)
    prompts = Prompts(Path(prompts_dir) if prompts_dir else None)
    articles = load([Path(p) for p in paths])
    pipeline = Pipeline(settings, prompts=prompts, cache=cache, concurrency=concurrency)
    return asyncio.run(pipeline.run(articles)).result

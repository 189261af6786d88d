"""Map (one extract call per article, concurrent) and reduce (one corpus call)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import hashlib
import json
import math
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from briefgen._batch import (
    DEFAULT_POLL_SECONDS,
    Batches,
    BatchListener,
    BatchRequest,
    kept_batches,
)
from briefgen._cache import Cache, CacheEntryError, prompt_key
from briefgen._errors import BudgetError, ModelError
from briefgen._ingest import Article, load
from briefgen._llm import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_TIMEOUT,
    Answer,
    Extractor,
    Settings,
    Usage,
    choose_mode,
    schema_tokens,
)
from briefgen._prices import DEFAULT_PRICES, Price
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


# How --dry-run estimates what it cannot count: an article's answer as a base plus a share of
# its tokens (the seeds' hand-written briefs run 0.8–1.3 of the article; a terse model less),
# the corpus prompt's line for a brief as a share of that answer, and a corpus answer.
_ANSWER_BASE = 300
_ANSWER_RATIO = 1.0
_VIEW_RATIO = 0.45
_CORPUS_ANSWER = 4_000


@functools.cache
def _schema_digest() -> str:
    """A hash of the article schema, for the batch custom id."""
    schema = json.dumps(ArticleBrief.model_json_schema(), sort_keys=True)
    return hashlib.sha256(schema.encode()).hexdigest()


def _answer_tokens(most: int, article_tokens: int) -> int:
    """The completion tokens an article's answer is estimated at."""
    return min(most, _ANSWER_BASE + int(article_tokens * _ANSWER_RATIO))


def _view(most: int, article_tokens: int) -> int:
    """The tokens an article's brief is estimated to take in the corpus prompt."""
    return int(_answer_tokens(most, article_tokens) * _VIEW_RATIO)


@dataclass
class Estimate:
    """What a run would ask: calls not answered by the cache and their tokens."""

    articles: int
    calls: int = 0
    corpus_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # The article calls' share of the tokens (the part a batch would carry).
    article_prompt_tokens: int = 0
    article_completion_tokens: int = 0
    in_batches: int = 0  # article calls a kept batch already carries (--batch)


@dataclass
class Run:
    """A finished run: the verified corpus brief and what it cost."""

    result: CorpusResult
    usage: Usage = field(default_factory=Usage)

    def __repr__(self) -> str:
        # Short: asyncio.run's SIGINT handling reprs the main task, result and all, when
        # it ends, and the full repr of a thousand briefs costs most of a second.
        return f"Run({len(self.result.articles)} articles read, {self.usage.calls} calls)"


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
        concurrency: int = 16,
        transport: Any = None,
        context_budget: int | None = None,
        max_article_tokens: int = DEFAULT_MAX_ARTICLE_TOKENS,
        listener: Listener | None = None,
        done: Done | None = None,
        warn: Warn | None = None,
        log: Cache | None = None,
        prices: Mapping[str, Price] | None = None,
        batch: bool = False,
        batch_listener: BatchListener | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self.settings = settings
        self.log = log  # the state database the calls are logged in, if any
        self.prices = DEFAULT_PRICES if prices is None else prices
        self.run_id: int | None = None
        self.prompts = prompts or Prompts()
        self.cache = cache
        self.concurrency = max(1, concurrency)
        self.context_budget = context_budget or DEFAULT_CONTEXT_BUDGET
        self.max_article_tokens = max_article_tokens
        self.extractor = Extractor(
            settings, transport=transport, listener=listener, concurrency=self.concurrency
        )
        self.done: Done = done or (lambda _r, _s: None)
        self.warn: Warn = warn or (lambda _: None)
        self.usage = Usage()
        self.failures: list[str] = []  # corpus calls that could not be answered
        self.batch = batch  # the article stage through the Batch API
        self.batch_listener: BatchListener = batch_listener or (lambda _: None)
        self.poll_seconds = poll_seconds

    async def run(self, articles: Sequence[Article]) -> Run:
        """Every article's brief (each failing alone), then the corpus brief of those read.

        A verified brief is cached as soon as it arrives, so a run that ends early, or an
        article that fails, never costs the others again."""
        # Twice as many articles under way as requests in flight (the transport's limit): an
        # answer being verified holds no request slot, and the next request is ready to go
        # the moment one frees.
        gate = asyncio.Semaphore(2 * self.concurrency)
        self.failures = []
        if self.log is not None:
            self.run_id = self._logged(
                self.log.start_run, self.settings.model, self.settings.url, len(articles)
            )

        async def one(article: Article) -> ArticleResult:
            async with gate:
                started = time.monotonic()
                result = await self.extract(article)
            self.done(result, time.monotonic() - started)
            return result

        outcome = "ended by an error"
        try:
            async with self.extractor, _fewer_collections():
                if self.batch:
                    await self._batch_stage(articles)
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
            outcome = f"{len(failed)} of {len(results)} failed" if failed else "ok"
        finally:
            if self.log is not None and self.run_id is not None:
                self._logged(self.log.finish_run, self.run_id, outcome)
        corpus.failed = failed
        return Run(result=corpus, usage=self.usage)

    def _logged(self, write: Callable[..., T], *args: Any, **values: Any) -> T | None:
        """A write to the call log; a log that cannot be written costs a warning, never
        the run (and is not tried again)."""
        if self.log is None:
            return None
        try:
            return write(*args, **values)
        except (OSError, sqlite3.Error) as err:
            self.warn(f"could not write the call log ({_why(err)}); the run goes on")
            self.log = None
            return None

    def _log_call(self, kind: str, subject: str, usage: Usage | None, outcome: str = "ok") -> None:
        """One call in the log, or one answer from the cache (`usage` None)."""
        if self.log is None or self.run_id is None:
            return
        spent = usage or Usage()
        self._logged(
            self.log.log_call,
            self.run_id,
            model=self.settings.model,
            kind=kind,
            subject=subject,
            prompt_tokens=spent.prompt_tokens,
            cached_tokens=spent.cached_tokens,
            completion_tokens=spent.completion_tokens,
            cost=spent.cost(self.settings.model, self.prices) if usage else 0.0,
            cached=usage is None,
            outcome="cache hit" if usage is None else outcome,
        )

    def estimate(self, articles: Sequence[Article]) -> Estimate:
        """What running on `articles` would ask, without asking: every article call's prompt
        counted (a cache hit is free), completions and the corpus step estimated."""
        schema = schema_tokens(ArticleBrief)
        estimate = Estimate(articles=len(articles))
        views = []
        asked = []
        for article in articles:
            if not self._too_long(article):
                system, user, key = self._asks(article)
                asked.append((article, system, user, key, self._batch_key(system, user)))
        # With --batch, an article a kept batch holds (or is still answering) is paid for.
        kept: dict[str, Any] = {}
        if self.batch:
            with contextlib.suppress(OSError):  # unreadable: counted as not yet paid for
                kept = kept_batches(self.cache, [a[-1] for a in asked], self.settings.url)
        for article, system, user, key, custom_id in asked:
            if self.cache is not None:
                hit = self._from_cache(key, article)
                if hit is not None:
                    estimate.cache_hits += 1
                    views.append(count_tokens(self._prompts("corpus", [brief_view(hit)])[1]))
                    continue
            article_tokens = count_tokens(article.numbered())
            if custom_id in kept:
                estimate.in_batches += 1
                views.append(_view(self.settings.max_tokens, article_tokens))
                continue
            estimate.calls += 1
            estimate.prompt_tokens += count_tokens(system) + count_tokens(user) + schema
            answer = _answer_tokens(self.settings.max_tokens, article_tokens)
            estimate.completion_tokens += answer
            views.append(_view(self.settings.max_tokens, article_tokens))
        estimate.article_prompt_tokens = estimate.prompt_tokens
        estimate.article_completion_tokens = estimate.completion_tokens
        # The corpus step: its briefs' lines in parts of the budget, then the merges.
        base = count_tokens(self.prompts.render("corpus_system.j2")) + schema_tokens(CorpusBrief)
        room = max(1, self.context_budget - base)
        total = sum(views)
        parts = max(1, math.ceil(total / room))
        merges = 0 if parts == 1 else max(1, math.ceil(parts * _CORPUS_ANSWER / room))
        estimate.corpus_calls = parts + merges
        estimate.prompt_tokens += total + base * parts + (parts * _CORPUS_ANSWER + base) * merges
        estimate.completion_tokens += _CORPUS_ANSWER * (parts + merges)
        return estimate

    async def extract(self, article: Article) -> ArticleResult:
        """The verified brief of one article, from the cache or the model; a result with
        `failure` set if it could not be read."""
        too_long = self._too_long(article)
        if too_long:
            return failed_result(article, too_long)
        system, user, key = self._asks(article)
        if self.cache is not None:
            # Read and re-verified off the event loop, so a thousand hits do not hold up a
            # new article's request behind them.
            cached = await asyncio.to_thread(self._from_cache, key, article)
            if cached is not None:
                self.usage.cache_hits += 1
                self._log_call("article", article.name, None)
                return cached
        answer = await self.extractor.ask(
            ArticleBrief, system, user, {"article": article}, label=f"article {article.name}"
        )
        self.usage.add(answer.usage)
        result = self._result(article, answer, lambda: count_tokens(system) + count_tokens(user))
        outcome = f"failed: {result.failure}" if result.failure else "ok"
        if answer.usage.batched:
            outcome += " (answered by a batch)"
        elif answer.usage.batch_kept:
            outcome += " (a batch's answer kept from an earlier run, paid then)"
        self._log_call("article", article.name, answer.usage, outcome)
        if self.cache is not None and result.failure is None:
            dropped = [{"where": d.where, "reason": d.reason} for d in result.dropped]
            entry = {"brief": result.brief.model_dump(mode="json"), "dropped": dropped}
            try:
                self.cache.put(key, entry)
            except (OSError, sqlite3.Error) as err:  # the brief stands; only a rerun pays again
                self.warn(f"could not cache the brief of {article.name} ({_why(err)})")
        return result

    async def _batch_stage(self, articles: Sequence[Article]) -> None:
        """Send the first request of every article the cache cannot answer as one batch (or
        re-attach to the batch kept for them) and wait for its answers; `extract` then
        verifies each as it would an ordinary answer."""
        requests: dict[str, BatchRequest] = {}
        for article in articles:
            if self._too_long(article):
                continue
            system, user, key = self._asks(article)
            custom_id = self._batch_key(system, user)
            if custom_id in requests or self._cached(key):
                continue
            body = await self.extractor.request_body(ArticleBrief, system, user)
            requests[custom_id] = BatchRequest(custom_id, article.name, body)
        if not requests:
            return
        batches = Batches(
            self.extractor, self.cache, self.batch_listener, self.warn, self.poll_seconds
        )
        await batches.answer(list(requests.values()))

    def _asks(self, article: Article) -> tuple[str, str, str]:
        """The system and user prompts of an article's call, and their key (cache key and
        batch custom id)."""
        system = self.prompts.render("extract_system.j2", article=article)
        user = self.prompts.render("extract_user.j2", article=article)
        return system, user, prompt_key(self.settings.model, system, user)

    def _batch_key(self, system: str, user: str) -> str:
        """A batch request's custom id: everything its body depends on — the model, the
        mode, --max-tokens, the schema and the prompts — so a rerun re-attaches only to an
        answer to the very request it would send."""
        return prompt_key(
            self.settings.model,
            "batch",
            self.settings.mode,
            str(self.settings.max_tokens),
            _schema_digest(),
            system,
            user,
        )

    def _cached(self, key: str) -> bool:
        """Whether the cache has an entry under `key` (read, not yet verified)."""
        if self.cache is None:
            return False
        try:
            return self.cache.get(key) is not None
        except CacheEntryError:  # damaged: asked again, and `extract` says so
            return False

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

    def _cache_entry(self, key: str, subject: str) -> dict[str, Any] | None:
        """The cache entry under `key`, None (with a warning if it is damaged) if none."""
        assert self.cache is not None
        try:
            return self.cache.get(key)
        except CacheEntryError as err:
            self._unusable(key, subject, err.reason)
            return None

    def _unusable(self, key: str, subject: str, reason: str) -> None:
        assert self.cache is not None
        self.warn(
            f"{self.cache.where(key)} for {subject} is unusable ({reason}); asking again "
            "and replacing it"
        )

    def _from_cache(self, key: str, article: Article) -> ArticleResult | None:
        """The cached result under `key`, re-verified against the article (nothing a cache
        holds is trusted unchecked); None if there is none, or (with a warning, and the
        fresh answer then replaces it) if the entry is not one briefgen wrote."""
        entry = self._cache_entry(key, article.name)
        if entry is None:
            return None
        try:
            result, earlier = _cached_result(entry, article)
        except (CacheEntryError, KeyError, TypeError, AttributeError, ValidationError) as err:
            reason = err.reason if isinstance(err, CacheEntryError) else "not a cached brief"
            self._unusable(key, article.name, reason)
            return None
        result.dropped[:0] = earlier
        result.dropped = unique(result.dropped)
        return result

    def _result(
        self, article: Article, answer: Answer, prompt_tokens: Callable[[], int]
    ) -> ArticleResult:
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
            failure += f"; the first ask was {prompt_tokens():,} tokens by briefgen's count"
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
                whole = carry_over(expand(answer, inputs), inputs, index)
                merged.append(partial_view(whole, chunk, index))
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
            system, empty = self._prompts(kind, [], False)
            sizes = sorted(self._unit_tokens(kind, u, False, empty) for u in units)
            raise BudgetError(
                f"--context-budget {self.context_budget:,} is too small to merge any two "
                f"partial briefs (the two smallest need {sizes[0]:,} and {sizes[1]:,} tokens "
                f"besides {count_tokens(system) + count_tokens(empty):,} of instructions); "
                "raise it."
            )
        return chunks, False

    def partition(
        self, kind: str, units: Sequence[dict[str, Any]], singletons: bool = True
    ) -> list[list[dict[str, Any]]]:
        """`units` in order, cut into runs whose prompt fits the context budget.

        Each unit's tokens are counted once (what it adds to an empty prompt), so cutting is
        linear in the corpus. A corpus that fits is one run. Briefs that do not are cut where
        the briefs themselves say (content-defined: after an article whose id hashes to a
        multiple of a stride), or where the budget forces: adding an article then changes
        only the run it falls in, so a re-run asks again for that run and the merges above
        it, not for every run after it. Partial briefs are merged greedily, as many to a
        call as fit, so every level merges.
        """
        system, empty = self._prompts(kind, [], singletons)
        base = count_tokens(system) + count_tokens(empty)
        costs = [self._unit_tokens(kind, u, singletons, empty) for u in units]
        # Counted one by one, briefs overstate a shared prompt (each name, measure and issue
        # is written once there): near the budget, count the whole prompt once.
        if base + sum(costs) <= self.context_budget or (
            sum(costs) <= 3 * self.context_budget
            and self._prompt_tokens(kind, units, singletons) <= self.context_budget
        ):
            return [list(units)]
        stride = _stride(self.context_budget - base, sum(costs) / max(1, len(costs)))
        chunks: list[list[dict[str, Any]]] = [[]]
        size = base
        for unit, cost in zip(units, costs, strict=True):
            if chunks[-1] and size + cost > self.context_budget:
                chunks.append([])
                size = base
            chunks[-1].append(unit)
            size += cost
            if kind == "corpus" and _cut_after(unit["id"], stride):
                chunks.append([])
                size = base
        chunks = [c for c in chunks if c]
        for chunk in chunks:
            needed = base + sum(self._unit_tokens(kind, u, singletons, empty) for u in chunk)
            if len(chunk) == 1 and needed > self.context_budget and kind == "corpus":
                raise BudgetError(
                    f"--context-budget {self.context_budget:,} is too small: article "
                    f"{chunk[0]['id']}'s brief alone needs {needed:,} tokens of prompt; raise it."
                )
        return chunks

    def _unit_tokens(self, kind: str, unit: dict[str, Any], singletons: bool, empty: str) -> int:
        """The tokens one unit adds to a prompt, counted once per unit and kind."""
        key = (kind, singletons)
        counted: dict[tuple[str, bool], int] = unit.setdefault("_tokens", {})
        if key not in counted:
            user = self._prompts(kind, [unit], singletons)[1]
            counted[key] = count_tokens(user) - count_tokens(empty)
        return int(counted[key])

    def _prompts(
        self, kind: str, units: Sequence[dict[str, Any]], singletons: bool = True
    ) -> tuple[str, str]:
        system = self.prompts.render(f"{kind}_system.j2")
        if kind == "corpus":
            user = self.prompts.render("corpus_user.j2", briefs=units, **corpus_sections(units))
            return system, user
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
        context = {"check_corpus": index.check}
        key = None
        if self.cache is not None:
            # Keyed by its exact prompt: the same briefs in the same part ask nothing again.
            key = prompt_key(self.settings.model, system, user)
            entry = await asyncio.to_thread(self._cache_entry, key, label)
            if entry is not None:
                try:
                    cached = CorpusBrief.model_validate(entry["brief"], context=context)
                    earlier = [
                        Dropped(_text(d["where"]), _text(d["reason"])) for d in entry["dropped"]
                    ]
                except (KeyError, TypeError, ValidationError):
                    self._unusable(key, label, "not a cached corpus brief")
                else:
                    self.usage.cache_hits += 1
                    self._log_call(kind, label, None)
                    return cached, earlier
        answer = await self.extractor.ask(CorpusBrief, system, user, context, label=label)
        self.usage.add(answer.usage)
        failed = f"failed: {answer.failure}" if answer.parsed is None else "ok"
        self._log_call(kind, label, answer.usage, failed)
        if answer.parsed is not None:
            assert isinstance(answer.parsed, CorpusBrief)
            self._store(key, answer.parsed, [], kind)
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
        else:  # re-asks ran out: what was salvaged is paid for, and kept
            self._store(key, brief, unique(dropped), kind)
        return brief, unique(dropped)

    def _store(
        self, key: str | None, brief: CorpusBrief, dropped: list[Dropped], kind: str
    ) -> None:
        if self.cache is None or key is None:
            return
        entry = {
            "brief": brief.model_dump(mode="json"),
            "dropped": [{"where": d.where, "reason": d.reason} for d in dropped],
        }
        try:
            self.cache.put(key, entry, kind="corpus" if kind == "corpus" else "merge")
        except (OSError, sqlite3.Error) as err:  # the brief stands; only a rerun pays again
            self.warn(f"could not cache the {kind} brief ({_why(err)})")


@asynccontextmanager
async def _fewer_collections() -> AsyncIterator[None]:
    """A run makes many small objects that live until it ends (briefs, items, results), and
    Python's collector would scan them again and again: about a tenth of a run's CPU at a
    thousand articles. For the run, what existed before it is left out of the scans and
    collections come less often; both are restored after."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(before[0], 20_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def _why(err: Exception) -> str:
    return str(getattr(err, "strerror", None) or err)


def _stride(room: int, mean: float) -> int:
    """How many units a content-defined run holds on average: a quarter of what fits (so
    that the partial briefs of several runs fit one merge), as a power of two so that a few
    added or changed briefs rarely move it (and so every cut)."""
    fits = max(1.0, room / max(mean, 1.0))
    return max(2, 1 << max(0, int(math.log2(fits / 4))))


def _cut_after(unit_id: str, stride: int) -> bool:
    """Whether a run ends after this unit: its id's hash is a multiple of `stride`."""
    digest = hashlib.sha256(unit_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % stride == 0


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


def brief_view(result: ArticleResult) -> dict[str, Any]:
    """One verified brief as the corpus step takes it: its items by id, and what the corpus
    prompt says of the article itself."""
    b, aid = result.brief, result.article.id
    published = b.published.date or "unknown"
    if b.published.date and b.published.inferred:
        published += " (inferred)"
    return {
        "id": aid,
        "name": result.article.name,
        "title": b.title,
        "published": published,
        "actors": [(f"{aid}.A{n}", a) for n, a in enumerate(b.actors, start=1)],
        "figures": [(f"{aid}.F{n}", f) for n, f in enumerate(b.figures, start=1)],
        "positions": [(f"{aid}.P{n}", p) for n, p in enumerate(b.positions, start=1)],
        "disputes": [(f"{aid}.D{n}", d) for n, d in enumerate(b.disputes, start=1)],
    }


def _grouped(
    units: Sequence[dict[str, Any]], field: str, key: Callable[[Any], str]
) -> dict[str, list[tuple[str, Any]]]:
    groups: dict[str, list[tuple[str, Any]]] = {}
    for unit in units:
        for item_id, item in unit[field]:
            groups.setdefault(key(item).casefold(), []).append((item_id, item))
    return groups


def corpus_sections(units: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The items of the briefs in `units` as the corpus prompt lists them: across articles,
    each name, measure and issue once with the ids under it. A story's people, counts and
    questions recur article after article; written once, the corpus prompt stays a fraction
    of the articles (and already shows what the step groups). Code adds back what the step
    needs not see: the sentences cited, the words quoted."""
    actors = []
    for entries in _grouped(units, "actors", lambda a: a.name).values():
        first = entries[0][1]
        aliases = sorted({alias for _, a in entries for alias in a.aliases})
        also = f"; also called {', '.join(aliases)}" if aliases else ""
        ids, role = [], None
        for item_id, actor in entries:  # a role shown where it differs from the one before
            ids.append(item_id if actor.role == role else f"{item_id} ({actor.role})")
            role = actor.role
        actors.append(f"{first.name} ({first.kind}{also}): {', '.join(ids)}")
    figures = []
    for entries in _grouped(units, "figures", lambda f: f"{f.measures}\0{f.unit}").values():
        first = entries[0][1]
        values = [
            f"{i} {f'{f.qualifier} ' if f.qualifier else ''}{f.value}"
            + (f" as of {f.as_of}" if f.as_of else "")
            for i, f in entries
        ]
        figures.append(f"{first.measures} ({first.unit}): {'; '.join(values)}")
    positions = []
    for entries in _grouped(units, "positions", lambda p: p.issue).values():
        stances: dict[str, list[str]] = {}  # the same stance, word for word, written once
        for i, p in entries:
            stances.setdefault(p.stance, []).append(f"{i} {p.actor}")
        held = [f"{', '.join(who)}: {stance}" for stance, who in stances.items()]
        positions.append(f"{entries[0][1].issue}: {'; '.join(held)}")
    disputes = [
        f"{i} {d.topic}: {' vs '.join(s.actor for s in d.sides)}"
        for unit in units
        for i, d in unit["disputes"]
    ]
    return {"actors": actors, "figures": figures, "positions": positions, "disputes": disputes}


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


# How many members of a group a merge prompt shows: the rest stand behind them, and code
# adds them back to whatever group the merge puts a shown one in.
_SHOWN = 3


def partial_view(
    brief: CorpusBrief, units: Sequence[dict[str, Any]], index: ItemIndex
) -> dict[str, Any]:
    """A (partial) corpus brief of `units` as a merge prompt shows it, compactly: each group,
    issue, dispute and event once, with a few of its members standing for all (a merge
    answers in those, and `expand` puts the rest back), and the figures of its articles
    that no group holds yet. Its size grows with the groups, not with the articles."""
    articles = _articles(units)
    out: list[str] = []

    def shown(ids: Sequence[str]) -> str:
        more = f" (and {len(ids) - _SHOWN} more like them)" if len(ids) > _SHOWN else ""
        return ", ".join(ids[:_SHOWN]) + more

    for g in brief.actors:
        names = sorted({n for m in g.members for n in _compact(index, m).split(" / ")})
        out.append(f"actor {g.name!r} = {shown(g.members)}; named {'; '.join(names[:6])}")
    for f in brief.figure_groups:
        note = f" ({f.note})" if f.note else ""
        out.append(f"figure group [{f.relation}] {f.metric!r}{note}: {shown(f.members)}")
        out += [f"  {_compact(index, m)}" for m in f.members[:_SHOWN]]
    for b in brief.breakdowns:
        out.append(f"breakdown {b.total} = {' + '.join(b.parts)}")
    for i in brief.issues:
        out.append(f"issue {i.issue!r}: {shown(i.positions)}")
    for d in brief.disputes:
        sides = " | ".join(f"{s.label}: {shown(s.positions)}" for s in d.sides)
        settle = f" (would settle it: {d.settle})" if d.settle else ""
        out.append(f"dispute {d.topic!r}: {sides}{settle}")
    for e in brief.timeline:
        out.append(f"event {e.date}: {e.event} [{', '.join(e.sources)}]")
    grouped = {m for g in brief.figure_groups for m in g.members}
    loose: dict[str, list[str]] = {}  # the figures no group holds, by what they measure
    for article in articles:
        result = index.results.get(article)
        for n, figure in enumerate(result.brief.figures if result else [], start=1):
            if f"{article}.F{n}" not in grouped:
                q = figure.qualifier
                value = f"{q} {figure.value}" if q else figure.value
                as_of = f" as of {figure.as_of}" if figure.as_of else ""
                key = f"{figure.measures} ({figure.unit})"
                loose.setdefault(key, []).append(f"{article}.F{n} {value}{as_of}")
    singletons = [f"{key}: {'; '.join(values)}" for key, values in loose.items()]
    return {
        "id": _part_id(units),
        "articles": articles,
        "overview": brief.overview,
        "lines": out,
        "singletons": singletons,
        "brief": brief,
    }


def expand(final: CorpusBrief, partials: Sequence[CorpusBrief]) -> CorpusBrief:
    """A merge answer with every member its partial briefs stand for: a group that holds a
    shown member of a partial group holds all of that group's members (each once)."""
    if not partials:
        return final

    def widen(ids: Sequence[str], groups: Iterable[Sequence[str]], taken: set[str]) -> list[str]:
        behind = {m: list(g) for g in groups for m in g[:_SHOWN]}
        out: list[str] = []
        for item in ids:
            for member in behind.get(item, [item]):
                if member not in taken:
                    taken.add(member)
                    out.append(member)
        return out

    actors: set[str] = set()
    figures: set[str] = set()
    issues: set[str] = set()
    actor_groups = [g.members for p in partials for g in p.actors]
    figure_groups = [g.members for p in partials for g in p.figure_groups]
    issue_groups = [i.positions for p in partials for i in p.issues]
    sides = [s.positions for p in partials for d in p.disputes for s in d.sides]
    return final.model_copy(
        update={
            "actors": [
                g.model_copy(update={"members": widen(g.members, actor_groups, actors)})
                for g in final.actors
            ],
            "figure_groups": [
                g.model_copy(update={"members": widen(g.members, figure_groups, figures)})
                for g in final.figure_groups
            ],
            "issues": [
                i.model_copy(update={"positions": widen(i.positions, issue_groups, issues)})
                for i in final.issues
            ],
            "disputes": [
                d.model_copy(
                    update={
                        "sides": [
                            s.model_copy(update={"positions": widen(s.positions, sides, set())})
                            for s in d.sides
                        ]
                    }
                )
                for d in final.disputes
            ],
        }
    )


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
    concurrency: int = 16,
    cache: Cache | None = None,
    context_budget: int = DEFAULT_CONTEXT_BUDGET,
    timeout: float = DEFAULT_TIMEOUT,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    max_article_tokens: int = DEFAULT_MAX_ARTICLE_TOKENS,
    mode: str = "auto",
) -> CorpusResult:
    """Summarise the articles under `paths`; returns the verified corpus brief. `mode` is
    how the answer's shape is asked for (see `briefgen summarize --help`).

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
        mode=choose_mode(mode, base_url, azure=False)[0],
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

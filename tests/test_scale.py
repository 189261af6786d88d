"""A thousand articles: nothing asked twice, a partition that a new article barely moves,
a run that backs off when rate-limited, and the cost known before and after.

Calls go through the real openai client to the scripted endpoint (an in-process transport
or a loopback server); nothing of briefgen's own is patched.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from briefgen._cache import Cache
from briefgen._cli import app
from briefgen._ingest import Article, load
from briefgen._llm import AdaptiveLimit, Settings, Usage, _add_usage
from briefgen._pipeline import Pipeline, Run
from briefgen._prices import DEFAULT_PRICES
from briefgen._schema import ArticleBrief, CorpusBrief
from conftest import DUMMY_KEY
from faults import script, write_two
from scripted import MODEL, Script, serve


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_two(tmp_path / "articles")


def run(articles: list[Article], answers: Script, cache: Cache, **options: Any) -> Run:
    settings = Settings(api_key=DUMMY_KEY, model=MODEL, http_retries=2)
    pipeline = Pipeline(settings, transport=answers.transport(), cache=cache, **options)
    return asyncio.run(pipeline.run(articles))


# --- nothing asked twice ---------------------------------------------------------------------


def test_an_unchanged_rerun_asks_nothing_not_even_the_corpus_step(
    folder: Path, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "state")
    first, again = script(), script()
    done = run(load([folder]), first, cache)
    assert first.counts == {"001": 1, "002": 1, "corpus": 1}
    rerun = run(load([folder]), again, cache)
    assert again.counts == {} and rerun.usage.calls == 0 and rerun.usage.cache_hits == 3
    assert rerun.result.brief.model_dump() == done.result.brief.model_dump(), (
        rerun.result.brief.model_dump(),
        done.result.brief.model_dump(),
    )


def test_a_changed_article_re_asks_it_and_the_corpus_step_only_if_its_brief_changed(
    folder: Path, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "state")
    run(load([folder]), script(), cache)
    path = folder / "002_fire.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "Firefighters stayed at the scene overnight to watch.\n", "utf-8")
    fire = {**script().answers["002"][0], "title": "Fire destroys a warehouse overnight"}
    changed = script(_002=[fire])
    run(load([folder]), changed, cache)
    assert changed.counts == {"002": 1, "corpus": 1}  # a new brief: the corpus step again
    path.write_text(text + "Investigators arrived in the morning to find the cause.\n", "utf-8")
    same = script(_002=[fire])
    run(load([folder]), same, cache)
    assert same.counts == {"002": 1}  # the same brief came back: the corpus step is cached


def units(ids: list[str]) -> list[dict[str, Any]]:
    """Briefs as the corpus step takes them, of a realistic size: a few actors and figures
    of their own (about 250 tokens each in the prompt)."""
    from briefgen._schema import Actor, Figure

    def figure(n: int, article: str) -> Figure:
        return Figure.model_construct(
            value=f"{n},{article}",
            qualifier="more than",
            measures=f"families moved to shelters in district {article}-{n}",
            unit="families",
            as_of="2024-05",
            sentences=[n],
        )

    def actor(n: int, article: str) -> Actor:
        return Actor.model_construct(
            name=f"Official {article}-{n}", kind="person", role="district officer", aliases=[]
        )

    return [
        {
            "id": i,
            "name": f"{i}_story.txt",
            "title": f"Families moved from district {i}",
            "published": "2024-05-01",
            "actors": [(f"{i}.A{n}", actor(n, i)) for n in range(1, 4)],
            "figures": [(f"{i}.F{n}", figure(n, i)) for n in range(1, 7)],
            "positions": [],
            "disputes": [],
        }
        for i in ids
    ]


def parts(pipeline: Pipeline, ids: list[str]) -> list[tuple[str, ...]]:
    return [tuple(u["id"] for u in chunk) for chunk in pipeline.partition("corpus", units(ids))]


def test_a_new_article_changes_only_the_part_it_falls_in() -> None:
    pipeline = Pipeline(Settings(api_key=DUMMY_KEY), context_budget=6_000)
    ids = [f"{n:03d}" for n in range(0, 400, 2)]
    before = parts(pipeline, ids)
    assert len(before) > 4  # the corpus is cut into parts
    for added in ("001", "199", "397"):  # at the start, in the middle, at the end
        after = parts(pipeline, sorted([*ids, added]))
        changed = set(after) - set(before)
        assert len(changed) == 1 and added in next(iter(changed))
        assert len(set(before) - set(after)) == 1


def test_every_part_fits_the_budget_and_the_order_is_kept() -> None:
    pipeline = Pipeline(Settings(api_key=DUMMY_KEY), context_budget=6_000)
    ids = [f"{n:03d}" for n in range(300)]
    chunks = pipeline.partition("corpus", units(ids))
    assert [u["id"] for c in chunks for u in c] == ids
    for chunk in chunks:
        assert pipeline._prompt_tokens("corpus", chunk) <= 6_000


def test_a_corpus_that_fits_is_one_part() -> None:
    pipeline = Pipeline(Settings(api_key=DUMMY_KEY))
    assert parts(pipeline, [f"{n:03d}" for n in range(50)]) == [
        tuple(f"{n:03d}" for n in range(50))
    ]


# --- the schema sent ---------------------------------------------------------------------------


def test_the_schema_sent_is_compact_and_still_names_every_field() -> None:
    for model in (ArticleBrief, CorpusBrief):
        schema = model.model_json_schema()
        text = json.dumps(schema)
        assert '"description"' not in text and '"$ref"' not in text
        assert set(schema["properties"]) == set(model.model_fields)
        assert schema is not model.model_json_schema()  # a copy: callers may change theirs
    nested = ArticleBrief.model_json_schema()["properties"]["figures"]["items"]["properties"]
    assert set(nested) == {"value", "qualifier", "measures", "unit", "as_of", "sentences"}
    assert nested["qualifier"]["type"] == ["string", "null"]


# --- backing off --------------------------------------------------------------------------------


def test_the_limit_halves_on_429_and_grows_back_with_successes() -> None:
    heard: list[str] = []

    async def scenario() -> list[int]:
        limit = AdaptiveLimit(16, heard.append)
        seen = [limit.limit]
        limit.throttled()
        limit.throttled()
        seen.append(limit.limit)
        for _ in range(4):
            await limit.succeeded()
        seen.append(limit.limit)
        for _ in range(200):
            await limit.succeeded()
        seen.append(limit.limit)
        return seen

    assert asyncio.run(scenario()) == [16, 4, 5, 16]
    assert heard == ["throttle", "throttle"]


def test_no_more_requests_are_in_flight_than_the_limit() -> None:
    async def scenario() -> int:
        limit = AdaptiveLimit(8, lambda _: None)
        limit.throttled()  # 4
        flying = peak = 0

        async def request() -> None:
            nonlocal flying, peak
            async with limit:
                flying += 1
                peak = max(peak, flying)
                await asyncio.sleep(0.001)
                flying -= 1

        await asyncio.gather(*(request() for _ in range(40)))
        return peak

    assert asyncio.run(scenario()) == 4


def test_a_rate_limited_run_slows_down_and_still_finishes(folder: Path, tmp_path: Path) -> None:
    limited = {"_status": 429, "_headers": {"retry-after-ms": "1"}}
    answers = Script(
        {
            "001": [limited, limited, {**script().answers["001"][0]}],
            "002": [limited, {**script().answers["002"][0]}],
            "corpus": script().answers["corpus"],
        },
        by_reask=False,
    )
    heard: list[str] = []
    settings = Settings(api_key=DUMMY_KEY, model=MODEL, http_retries=3)
    pipeline = Pipeline(
        settings, transport=answers.transport(), listener=heard.append, concurrency=4
    )
    done = asyncio.run(pipeline.run(load([folder])))
    assert not done.result.failed and done.usage.retries == 3
    assert heard.count("throttle") >= 1


# --- the cost, before and after ----------------------------------------------------------------


def summarize(answers: Script, *args: str) -> tuple[int, str, str]:
    with serve(answers) as server:
        base = ["--base-url", server.base_url, "--concurrency", "2"]
        result = CliRunner().invoke(app, ["summarize", *args, *base])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_dry_run_counts_and_prices_without_calling(folder: Path, tmp_path: Path) -> None:
    answers = script()
    code, out, err = summarize(answers, str(folder), "--dry-run", "--model", "gpt-4o-mini")
    assert code == 0 and out == "" and answers.counts == {}
    assert "dry run: 2 articles, 0 answered by the cache; 2 article calls" in err
    assert "cost about $" in err and "nothing was called" in err
    # After a real run, the same dry run finds both articles in the cache.
    code, _, _ = summarize(answers, str(folder), "--model", MODEL)
    assert code == 0
    code, _, err = summarize(script(), str(folder), "--dry-run", "--model", MODEL)
    assert "2 answered by the cache; 0 article calls" in err and "cost about $0.0000" in err


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_model_without_a_price_says_how_to_add_one(folder: Path) -> None:
    code, _, err = summarize(script(), str(folder), "--model", "my-local-model", "--dry-run")
    assert code == 0
    assert "cost unknown for this model" in err
    assert "add it to $BRIEFGEN_DIR/prices.json" in err and "BRIEFGEN_PRICES" in err


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_price_set_in_the_environment_is_used(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEFGEN_PRICES", '{"my-local-model": {"input": 1000, "output": 0}}')
    code, _, err = summarize(script(), str(folder), "--model", "my-local-model", "--dry-run")
    assert code == 0 and "cost about $" in err and "unknown" not in err


def test_prompt_tokens_from_the_providers_cache_are_counted_and_priced() -> None:
    usage = Usage()
    reported = SimpleNamespace(
        prompt_tokens=2_000,
        completion_tokens=500,
        prompt_tokens_details=SimpleNamespace(cached_tokens=1_024),
    )
    _add_usage(usage, reported)
    assert (usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens) == (2000, 1024, 500)
    price = DEFAULT_PRICES["gpt-4o-mini"]
    full = (2_000 * price.input + 500 * price.output) / 1e6
    assert usage.cost("gpt-4o-mini") == pytest.approx(
        full - 1_024 * (price.input - price.cached_input) / 1e6
    )


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_every_call_is_logged_and_briefgen_log_lists_the_run(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = summarize(script(), str(folder), "--model", MODEL)
    assert code == 0
    code, _, _ = summarize(script(), str(folder), "--model", MODEL)  # all from the cache
    state = Cache()
    with sqlite3.connect(state.path) as con:
        rows = con.execute(
            "SELECT run_id, kind, subject, cached, outcome FROM calls ORDER BY id"
        ).fetchall()
    first = [r for r in rows if r[0] == rows[0][0]]
    assert sorted((r[1], r[3]) for r in first) == [("article", 0), ("article", 0), ("corpus", 0)]
    second = [r for r in rows if r[0] != rows[0][0]]
    assert {r[4] for r in second} == {"cache hit"} and len(second) == 3
    listed = CliRunner().invoke(app, ["log"])
    assert listed.exit_code == 0 and MODEL in listed.stdout

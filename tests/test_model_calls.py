"""Model calls through the real openai + instructor stack, answered by an in-process transport.

Faults are injected at the HTTP layer (status codes, malformed JSON, timeouts, answers that
fail validation), never by patching briefgen's own functions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml

from briefgen._ingest import Article, load
from briefgen._llm import Settings
from briefgen._pipeline import Pipeline, Run
from briefgen._replay import recording
from conftest import DUMMY_KEY
from scripted import Script

TEXT = (
    "Officials said 1,200 families were moved on Tuesday.\n"
    "The banner read {{ justice }} and {% raw %} in red paint, the mayor said.\n"
    "“We will rebuild every home,” Mayor Ana Ruiz said.\n"
)
GOOD = {
    "title": "Families moved after floods",
    "published": {"date": None, "inferred": True, "basis": "no date in the text"},
    "summary": "Officials moved families; the mayor promised to rebuild.",
    "actors": [
        {"name": "Ana Ruiz", "kind": "person", "role": "mayor", "aliases": [], "sentences": [3]}
    ],
    "figures": [
        {
            "value": "1,200",
            "measures": "families moved on Tuesday",
            "unit": "families",
            "sentences": [1],
        }
    ],
    "positions": [
        {
            "actor": "Ana Ruiz",
            "issue": "rebuilding",
            "stance": "will rebuild",
            "quote": "We will rebuild every home",
            "sentences": [3],
        }
    ],
    "disputes": [],
}
CORPUS = {
    "overview": "Families were moved.",
    "actors": [{"name": "Ana Ruiz", "members": ["001.A1"]}],
    "figure_groups": [],
    "disputes": [],
    "timeline": [],
}


def wrong(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


@pytest.fixture
def articles(tmp_path: Path) -> list[Article]:
    (tmp_path / "001_floods.txt").write_text(TEXT, encoding="utf-8")
    return load([tmp_path])


def run(articles: list[Article], script: Script, **settings: Any) -> Run:
    options = {"api_key": DUMMY_KEY, "model": "scripted-analyst", "http_retries": 0, **settings}
    pipeline = Pipeline(Settings(**options), transport=script.transport())
    return asyncio.run(pipeline.run(articles))


def test_article_text_with_template_syntax_reaches_the_model_verbatim(articles) -> None:  # type: ignore[no-untyped-def]
    script = Script({"001": [GOOD], "corpus": [CORPUS]})
    run(articles, script)
    user = script.requests[0]["messages"][1]["content"]
    assert "[S2] The banner read {{ justice }} and {% raw %} in red paint, the mayor said." in user


def test_an_answer_that_fails_validation_is_re_asked_with_the_errors(articles) -> None:  # type: ignore[no-untyped-def]
    bad = wrong(figures=[{**GOOD["figures"][0], "value": "1,300"}])
    script = Script({"001": [bad, GOOD], "corpus": [CORPUS]})
    result = run(articles, script)
    reask = script.requests[1]["messages"][-1]["content"]
    assert "'1,300' does not occur in its cited sentences S1" in reask
    assert result.usage.reasks == 1
    assert result.usage.calls == 3  # ask, re-ask, corpus
    assert result.result.articles[0].brief.figures[0].value == "1,200"
    assert result.result.all_dropped() == []


def test_items_still_wrong_after_re_asks_are_dropped_one_by_one(articles) -> None:  # type: ignore[no-untyped-def]
    bad = wrong(
        positions=[{**GOOD["positions"][0], "quote": "We shall rebuild all the houses"}],
        figures=[
            *GOOD["figures"],
            {"value": "5,000", "measures": "people sent back", "unit": "homes", "sentences": [1]},
        ],
    )
    script = Script({"001": [bad], "corpus": [CORPUS]})
    result = run(articles, script, reasks=1)
    brief = result.result.articles[0].brief
    assert [f.value for f in brief.figures] == ["1,200"]
    assert brief.positions == []
    assert brief.actors[0].name == "Ana Ruiz"
    dropped = {d.where: d.reason for d in result.result.all_dropped()}
    assert set(dropped) == {"001.figures[2]", "001.positions[1]"}
    assert "not verbatim" in dropped["001.positions[1]"]
    assert script.counts["001"] == 2  # the first ask and one re-ask


def test_a_rate_limit_is_retried_by_the_http_client(articles) -> None:  # type: ignore[no-untyped-def]
    limited = {"_status": 429, "_headers": {"retry-after": "0"}}
    script = Script({"001": [limited, GOOD], "corpus": [CORPUS]}, by_reask=False)
    result = run(articles, script, http_retries=2)
    assert script.counts["001"] == 2
    assert result.usage.reasks == 0
    assert result.result.articles[0].brief.figures[0].value == "1,200"


def test_secrets_reach_no_cassette_cache_or_log(
    articles: list[Article], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from briefgen._cache import Cache

    caplog.set_level(logging.DEBUG)
    cassette = tmp_path / "run.yaml"
    script = Script(
        {
            "001": [wrong(figures=[{**GOOD["figures"][0], "sentences": [2]}]), GOOD],
            "corpus": [CORPUS],
        }
    )

    def with_cookie(request: httpx2.Request) -> httpx2.Response:
        status, headers, body = script.respond(json.loads(request.content))
        headers = {**headers, "set-cookie": "session=s3cr3t", "openai-organization": "org-x"}
        return httpx2.Response(status, headers=headers, json=body)

    class AccountHeaders(httpx2.MockTransport):
        """Sends the account headers a real client would, as the key does."""

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            request.headers["OpenAI-Organization"] = "org-secret"
            request.headers["OpenAI-Project"] = "proj-secret"
            return await super().handle_async_request(request)

    cache = Cache(tmp_path / "cache")
    pipeline = Pipeline(
        Settings(api_key=DUMMY_KEY, model="scripted-analyst", http_retries=0),
        transport=AccountHeaders(with_cookie),
        cache=cache,
    )
    with recording(cassette):
        asyncio.run(pipeline.run(articles))
    cache.close()
    with closing(sqlite3.connect(cache.path)) as con:  # every table: the cache and the call log
        stored = cassette.read_text(encoding="utf-8") + "\n".join(con.iterdump())
    assert "Families moved after floods" in stored  # the run really was recorded and cached
    assert len(yaml.safe_load(cassette.read_text())["interactions"]) == 3  # ask, re-ask, corpus
    for secret in (DUMMY_KEY, "s3cr3t", "org-secret", "proj-secret", "org-x"):
        assert secret not in stored
    # Logs: at any level, no library logs what briefgen sends to authenticate.
    for secret in (DUMMY_KEY, "org-secret", "proj-secret"):
        assert secret not in caplog.text
    assert "authorization" not in stored.lower()


def test_corpus_parts_citing_missing_items_are_dropped_one_by_one(articles) -> None:  # type: ignore[no-untyped-def]
    bad = {
        **CORPUS,
        "actors": [{"name": "Ana Ruiz", "members": ["001.A9"]}, CORPUS["actors"][0]],
        "timeline": [{"date": "2024", "event": "Families moved", "sources": ["001.F1"]}],
    }
    script = Script({"001": [GOOD], "corpus": [bad]})
    result = run(articles, script, reasks=1)
    assert script.counts["corpus"] == 2  # asked, re-asked, still wrong
    dropped = {d.where: d.reason for d in result.result.all_dropped()}
    assert set(dropped) == {"corpus.actors[1]", "corpus.timeline[1]"}
    assert "'001.A9' is not an item id" in dropped["corpus.actors[1]"]
    assert [g.members for g in result.result.brief.actors] == [["001.A1"]]

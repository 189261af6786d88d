"""A run against a misbehaving endpoint: each article fails alone, garbage is a failure,
every request is bounded and counted, and re-asks cannot grow.

Every fault comes through the real openai client, from an in-process httpx2 transport or a
loopback server; nothing of briefgen's own is patched.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from briefgen._cache import Cache
from briefgen._document import build
from briefgen._errors import ModelError
from briefgen._ingest import Article, load
from briefgen._llm import Settings
from briefgen._pipeline import Pipeline, Run
from briefgen._render import to_markdown
from conftest import DUMMY_KEY
from faults import (
    CONTEXT_400,
    CORPUS,
    FIRE_ANSWER,
    FLOODS_ANSWER,
    Trickle,
    script,
    write_two,
)
from scripted import MODEL, Script


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_two(tmp_path / "articles")


@pytest.fixture
def articles(folder: Path) -> list[Article]:
    return load([folder])


def run(
    articles: list[Article], transport: Any, cache: Cache | None = None, **settings: Any
) -> Run:
    options = {"api_key": DUMMY_KEY, "model": MODEL, "http_retries": 0, **settings}
    pipeline = Pipeline(Settings(**options), transport=transport, cache=cache)
    return asyncio.run(pipeline.run(articles))


def failures(done: Run) -> dict[str, str]:
    return {r.article.id: r.failure or "" for r in done.result.failed}


# --- an article fails alone ------------------------------------------------------------------


def test_an_article_the_endpoint_cannot_take_fails_alone(articles: list[Article]) -> None:
    answers = script(_002=[CONTEXT_400])
    done = run(articles, answers.transport())
    assert [r.article.id for r in done.result.articles] == ["001"]
    reason = failures(done)["002"]
    assert "too long for this model (400: This model's maximum context length is 2048" in reason
    assert "Second line" not in reason  # the endpoint's first line only
    assert "the first ask was " in reason and " tokens by briefgen's count" in reason
    assert answers.counts["corpus"] == 1  # the corpus step ran on what was read


def test_a_failed_article_is_named_in_the_brief_and_the_json(articles: list[Article]) -> None:
    done = run(articles, script(_002=[CONTEXT_400]).transport())
    document = build(done.result)
    assert [(f.id, f.file) for f in document.failed] == [("002", "002_fire.txt")]
    markdown = to_markdown(document)
    section = markdown[markdown.index("## Articles that could not be read") :]
    assert "`002_fire.txt`" in section and "too long for this model" in section
    assert "# Brief: 1 articles" in markdown
    assert json.loads(document.model_dump_json())["failed"][0]["reason"].startswith("too long")


def test_the_next_run_asks_only_about_the_failed_article(
    articles: list[Article], tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    first = script(_002=[CONTEXT_400])
    run(articles, first.transport(), cache=cache)
    second = script()
    done = run(articles, second.transport(), cache=cache)
    assert second.counts == {"002": 1, "corpus": 1}
    assert done.result.failed == [] and done.usage.cache_hits == 1


def test_when_every_article_fails_the_first_reason_is_the_error(articles: list[Article]) -> None:
    with pytest.raises(ModelError) as caught:
        run(articles, script(_001=[CONTEXT_400], _002=[CONTEXT_400]).transport())
    message = str(caught.value)
    assert message.startswith("no article could be read; 001_floods.txt: too long")
    assert "(and 1 more failed)" in message and "\n" not in message


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"_finish": "length", **FIRE_ANSWER}, "cut off at --max-tokens 16,384"),
        ({"_refusal": "I can't help with that."}, "the model refused: I can't help with that."),
        ({"_text": "Here is a summary: homes burned."}, "in plain text"),
        ({"_body": "<html><body>Bad gateway</body></html>"}, "not a chat completion (<html>"),
        ({"_body": "", "_type": "application/json"}, "not a chat completion"),
        ({"_choices": []}, "not a chat completion (no choices)"),
        ({"_choices": [{"index": 0, "message": None}]}, "(a choice with no message)"),
        ({"_body": "{not json", "_type": "application/json"}, "(a body that is not JSON)"),
        ({"_raw": '{"title": "Homes'}, "Invalid JSON"),
        ({"_status": 422, "_message": "unsupported parameter: tools"}, "take tool calls"),
        ({"_status": 422, "_message": "unsupported parameter: seed"}, "rejected the request"),
    ],
)
def test_garbage_is_a_failure_of_that_article_never_a_success(
    articles: list[Article], fault: dict[str, Any], reason: str
) -> None:
    done = run(articles, script(_002=[fault]).transport())
    assert reason in failures(done)["002"]
    assert [r.article.id for r in done.result.articles] == ["001"]


def test_garbage_is_sent_again_once_and_every_request_is_counted(
    articles: list[Article],
) -> None:
    answers = script(_002=[{"_body": "<html>oops</html>"}])
    done = run(articles, answers.transport())
    assert answers.counts["002"] == 2  # the first request and one more
    assert done.usage.calls == 1 + 2 + 1  # 001, 002 twice, the corpus
    assert done.usage.retries == 1


def test_plain_text_is_re_asked_then_fails(articles: list[Article]) -> None:
    answers = script(_002=[{"_text": "No."}])
    done = run(articles, answers.transport(), reasks=2)
    assert answers.counts["002"] == 3
    assert done.usage.reasks == 2
    assert "(it said: 'No.')" in failures(done)["002"]


def test_usage_counts_the_tokens_the_endpoint_reported(articles: list[Article]) -> None:
    answers = script()
    done = run(articles, answers.transport())
    assert done.usage.calls == 3
    assert done.usage.prompt_tokens > 0 and done.usage.completion_tokens > 0


def test_rate_limits_are_retried_and_counted(articles: list[Article]) -> None:
    limited = {"_status": 429, "_headers": {"retry-after": "0"}}
    answers = Script(
        {"001": [limited, limited, FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]},
        by_reask=False,
    )
    done = run(articles, answers.transport(), http_retries=3)
    assert done.usage.calls == 5 and done.usage.retries == 2
    assert done.result.failed == []


def test_rate_limits_past_the_retries_fail_the_article_and_name_the_fix(
    articles: list[Article],
) -> None:
    limited = {"_status": 429, "_headers": {"retry-after": "0"}, "_message": "slow down"}
    done = run(articles, script(_002=[limited]).transport(), http_retries=1)
    assert (
        "rate limited (429: slow down) after 1 retries; lower --concurrency"
        in (failures(done)["002"])
    )


def test_max_tokens_is_sent_with_every_call(articles: list[Article]) -> None:
    answers = script()
    run(articles, answers.transport(), max_tokens=3000)
    assert [r.get("max_tokens") for r in answers.requests] == [3000, 3000, 3000]


# --- re-asks that cannot grow -----------------------------------------------------------------

WRONG = {**FIRE_ANSWER, "figures": [{**FIRE_ANSWER["figures"][0], "value": "41"}]}
WRONG_AND_RIGHT = {
    **FIRE_ANSWER,
    "figures": [*FIRE_ANSWER["figures"], {**FIRE_ANSWER["figures"][0], "value": "41"}],
}


def test_every_re_ask_is_the_first_ask_plus_one_answer_and_its_errors(
    articles: list[Article],
) -> None:
    answers = script(_002=[WRONG])
    run(articles, answers.transport(), reasks=2)
    asks = [
        r["messages"]
        for r in answers.requests
        if r["messages"][1]["content"].startswith("Article 002")
    ]
    assert [len(m) for m in asks] == [2, 4, 4]
    assert asks[1][:2] == asks[0] == asks[2][:2]
    assert "re-ask 1 of 2" in asks[1][3]["content"] and "re-ask 2 of 2" in asks[2][3]["content"]
    assert "'41' does not occur in its cited sentences S1" in asks[2][3]["content"]


def test_a_refused_re_ask_keeps_the_best_earlier_answer(articles: list[Article]) -> None:
    done = run(articles, script(_002=[WRONG_AND_RIGHT, CONTEXT_400]).transport(), reasks=2)
    fire = next(r for r in done.result.articles if r.article.id == "002")
    assert [f.value for f in fire.brief.figures] == ["40"]
    reasons = [d.reason for d in fire.dropped]
    assert any("'41' does not occur" in r for r in reasons)
    assert any(r.startswith("re-asking stopped: too long for this model") for r in reasons)


def test_an_article_with_nothing_verified_fails(articles: list[Article]) -> None:
    nothing = {**WRONG, "actors": [], "positions": []}
    done = run(articles, script(_002=[nothing]).transport(), reasks=1)
    assert failures(done)["002"] == "nothing in the answer passed verification"


def test_each_drop_reason_is_listed_once(articles: list[Article]) -> None:
    done = run(articles, script(_002=[WRONG_AND_RIGHT]).transport(), reasks=2)
    dropped = [(d.where, d.reason) for d in done.result.all_dropped()]
    assert len(dropped) == len(set(dropped)) == 1


# --- deadlines --------------------------------------------------------------------------------


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_trickling_endpoint_is_cut_off_and_the_article_fails_alone(
    articles: list[Article],
) -> None:
    with Trickle() as server:
        pipeline = Pipeline(
            Settings(api_key=DUMMY_KEY, model=MODEL, base_url=server.url, timeout=0.6),
            concurrency=1,
        )
        done = asyncio.run(pipeline.run(articles))
    assert "no complete answer within --timeout 0.6s;" in failures(done)["002"]
    assert server.requests == 1 + 2 + 1  # 002 sent once more after its timeout, no more


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_silent_endpoint_ends_the_run_after_one_timeout_period(articles: list[Article]) -> None:
    with Trickle() as server:
        pipeline = Pipeline(
            Settings(api_key=DUMMY_KEY, model=MODEL, base_url=server.url, timeout=0.6),
            concurrency=1,
        )
        with pytest.raises(ModelError, match=r"answered nothing within --timeout 0.6s.*timeout"):
            asyncio.run(pipeline.run(articles[1:]))


def test_a_corpus_call_that_fails_leaves_the_article_briefs_and_says_so(
    articles: list[Article],
) -> None:
    done = run(articles, script(corpus=[CONTEXT_400]).transport())
    document = build(done.result)
    assert len(document.articles) == 2 and document.failed == []
    assert document.incomplete[0].startswith("the corpus brief: too long for this model")
    markdown = to_markdown(document)
    assert "## Synthesis incomplete" in markdown and "| 1,200 |" in markdown


def test_a_run_ended_by_the_endpoint_keeps_what_was_paid_for(
    articles: list[Article], tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    pipeline = Pipeline(
        Settings(api_key=DUMMY_KEY, model=MODEL, http_retries=0),
        transport=script(_002=[{"_status": 401}]).transport(),
        cache=cache,
        concurrency=1,
    )
    with pytest.raises(ModelError, match="check OPENAI_API_KEY"):
        asyncio.run(pipeline.run(articles))
    again = script()
    run(articles, again.transport(), cache=cache)
    assert again.counts == {"002": 1, "corpus": 1}


def test_the_listener_hears_every_request_retry_and_re_ask(articles: list[Article]) -> None:
    heard: list[str] = []
    limited = {"_status": 429, "_headers": {"retry-after": "0"}}
    answers = Script(
        {"001": [limited, FLOODS_ANSWER], "002": [WRONG, FIRE_ANSWER], "corpus": [CORPUS]},
        by_reask=False,
    )
    pipeline = Pipeline(
        Settings(api_key=DUMMY_KEY, model=MODEL, http_retries=1),
        transport=answers.transport(),
        listener=heard.append,
        concurrency=1,
    )
    done = asyncio.run(pipeline.run(articles))
    assert heard.count("call") == done.usage.calls == 5
    assert heard.count("retry") == 1 and heard.count("reask") == 1


def test_a_valid_answer_with_nothing_verifiable_fails_and_is_not_cached(
    articles: list[Article], tmp_path: Path
) -> None:
    empty = {**FIRE_ANSWER, "actors": [], "figures": []}
    cache = Cache(tmp_path / "cache")
    done = run(articles, script(_002=[empty]).transport(), cache=cache)
    assert failures(done)["002"] == "the answer held nothing that could be verified"
    again = script()
    run(articles, again.transport(), cache=cache)
    assert again.counts == {"002": 1, "corpus": 1}


def test_a_key_echoed_in_a_garbage_body_is_never_shown(articles: list[Article]) -> None:
    echo = {"_body": f"<html>proxy error for https://x/v1?api-key={DUMMY_KEY}</html>"}
    done = run(articles, script(_002=[echo]).transport())
    reason = failures(done)["002"]
    assert "proxy error" in reason and DUMMY_KEY not in reason and "REDACTED" in reason


def test_a_content_filter_stop_fails_without_a_re_ask(articles: list[Article]) -> None:
    filtered = {"_finish": "content_filter", "_text": ""}
    answers = script(_002=[filtered])
    done = run(articles, answers.transport(), reasks=2)
    assert failures(done)["002"] == "the endpoint's content filter stopped the answer"
    assert answers.counts["002"] == 1


def test_an_exhausted_quota_ends_the_run_with_the_fix(articles: list[Article]) -> None:
    quota = {"_status": 429, "_code": "insufficient_quota", "_message": "You exceeded your quota"}
    with pytest.raises(ModelError, match="out of quota .*check the plan and billing"):
        run(articles, script(_001=[quota]).transport())


def test_a_connection_dropped_mid_answer_fails_that_article_alone(
    articles: list[Article],
) -> None:
    answers = script()

    def handle(request: httpx2.Request) -> httpx2.Response:
        if b"Article 002" in request.content:
            raise httpx2.RemoteProtocolError("peer closed connection", request=request)
        status, headers, body = answers.respond(json.loads(request.content))
        return httpx2.Response(status, headers=headers, json=body)

    done = run(articles, httpx2.MockTransport(handle), http_retries=1)
    assert failures(done)["002"].startswith("the connection closed before the answer came")
    assert [r.article.id for r in done.result.articles] == ["001"]


def test_a_long_article_in_few_characters_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "001_tokyo.txt").write_text("東京で洪水が起きた。" * 60 + "\n", encoding="utf-8")
    article = load([tmp_path])
    answers = script()
    pipeline = Pipeline(
        Settings(api_key=DUMMY_KEY, model=MODEL, http_retries=0),
        transport=answers.transport(),
        max_article_tokens=700,
    )
    assert len(article[0].numbered()) < 700
    with pytest.raises(ModelError, match="too long: .* tokens, over --max-article-tokens 700"):
        asyncio.run(pipeline.run(article))
    assert answers.requests == []


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_concurrent_first_timeouts_are_each_sent_once_more(articles: list[Article]) -> None:
    with Trickle(first_only=True) as server:
        pipeline = Pipeline(
            Settings(api_key=DUMMY_KEY, model=MODEL, base_url=server.url, timeout=0.6),
            concurrency=2,
        )
        done = asyncio.run(pipeline.run(articles))
    assert done.result.failed == [] and done.result.failures == []
    assert server.requests == 2 * 2 + 2  # each article and the corpus: a timeout, then answered

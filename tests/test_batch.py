"""`--batch`: the article stage through the Batch API, end to end.

The recordings (`seeds-batch.yaml`, `seeds-batch-expired.yaml`) were made against the
scripted endpoint's Batch API (`scripted.Batches`) and replay here through the real openai
client: upload, create, the looks while it runs, the results download, then verification,
an ordinary re-ask and the corpus step. What a recording cannot show — a failed batch, a
rerun re-attaching to a batch still running, an endpoint without a Batch API — runs
against the scripted endpoint on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from typer.testing import CliRunner

from briefgen._batch import BatchRequest, _chunks, _result
from briefgen._cache import FILENAME
from briefgen._cli import app
from briefgen._errors import ModelError
from briefgen._ingest import load
from briefgen._llm import Settings, Usage
from briefgen._pipeline import Pipeline
from briefgen._prices import DEFAULT_PRICES
from briefgen._schema import ArticleBrief
from conftest import CASSETTES, SEED_CASSETTE, SEEDS
from faults import CORPUS, FIRE_ANSWER, FLOODS_ANSWER, write_two
from scripted import MODEL, Script, serve

BATCH = CASSETTES / "seeds-batch.yaml"
EXPIRED = CASSETTES / "seeds-batch-expired.yaml"


def interactions(path: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
    return found


def body(interaction: dict[str, Any]) -> str:
    raw = interaction["request"]["body"]
    return str(raw["string"] if isinstance(raw, dict) else raw)


def uploaded_lines(path: Path) -> list[dict[str, Any]]:
    """The JSONL lines the run uploaded, from the multipart body of its file upload."""
    upload = next(i for i in interactions(path) if i["request"]["uri"].endswith("/v1/files"))
    text = body(upload)
    start = text.index("\r\n\r\n", text.index('name="file"')) + 4
    jsonl = text[start : text.index("\r\n--", start)]
    return [json.loads(line) for line in jsonl.splitlines()]


def replay(path: Path, *more: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["summarize", str(SEEDS), "--replay", str(path), *more])
    return result.exit_code, result.stdout, result.stderr


def test_the_batch_recording_asks_the_batch_api_in_order() -> None:
    asked = [
        (i["request"]["method"], i["request"]["uri"].split("/v1", 1)[1])
        for i in interactions(BATCH)
    ]
    assert asked[:5] == [
        ("POST", "/files"),
        ("POST", "/batches"),
        ("GET", "/batches/batch_scripted_1"),
        ("GET", "/batches/batch_scripted_1"),
        ("GET", "/files/file-scripted-2/content"),
    ]
    # Then only what a batch cannot do: the re-ask of 001's invalid answer, and the corpus.
    assert asked[5:] == [("POST", "/chat/completions")] * 2
    create = json.loads(body(interactions(BATCH)[1]))
    assert create["endpoint"] == "/v1/chat/completions"
    assert create["completion_window"] == "24h"
    assert create["input_file_id"] == "file-scripted-1"
    upload = body(interactions(BATCH)[0])
    assert 'name="purpose"\r\n\r\nbatch\r\n' in upload
    assert 'filename="briefgen-batch.jsonl"' in upload


def test_each_batch_line_is_the_request_an_ordinary_run_sends() -> None:
    lines = uploaded_lines(BATCH)
    assert len(lines) == 5
    ordinary = [json.loads(body(i)) for i in interactions(SEED_CASSETTE)]
    for line in lines:
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        assert len(line["custom_id"]) == 64  # the cache key of the article's prompts
        user = line["body"]["messages"][1]["content"]
        same = [o for o in ordinary if o["messages"][1]["content"] == user]
        assert same, f"no ordinary request asks {user[:30]!r}"
        # The very body the ordinary run sent first (tools, temperature, max_tokens and all).
        assert line["body"] == same[0]
    assert len({line["custom_id"] for line in lines}) == 5


def test_a_batch_run_replays_to_the_same_brief_as_an_ordinary_run() -> None:
    code, batched, err = replay(BATCH)
    assert code == 0, err
    ordinary = (
        CliRunner().invoke(app, ["summarize", str(SEEDS), "--replay", str(SEED_CASSETTE)]).stdout
    )
    assert batched == ordinary and batched.startswith("# Brief: 5 articles")
    assert "briefgen: --batch (the recording's)" in err
    assert "sent batch batch_scripted_1 (validating, 5 requests)" in err
    assert "batch batch_scripted_1: in_progress, 0 of 5 answered" in err
    assert "batch batch_scripted_1: completed, 5 of 5 answered, 0 failed" in err
    usage = err.strip().splitlines()[-1]
    # 5 answers from the batch; 2 ordinary calls: 001's re-ask (its batch answer failed
    # validation) and the corpus step.
    assert "2 calls, 1 re-asks" in usage
    assert "5 answers from the Batch API" in usage


def test_a_batch_that_expired_asks_the_rest_by_ordinary_calls() -> None:
    code, out, err = replay(EXPIRED, "--batch")
    assert code == 0, err
    assert out == replay(BATCH)[1]  # the same brief, 003 asked the ordinary way
    assert "batch batch_scripted_1: expired, 4 of 5 answered, 1 failed" in err
    assert (
        "warning: batch batch_scripted_1: 1 of 5 requests have no answer (it expired before "
        "answering them); asking them by ordinary calls, at the standard price"
    ) in err
    asked = [
        json.loads(body(i))
        for i in interactions(EXPIRED)
        if "chat/completions" in i["request"]["uri"]
    ]
    firsts = [a["messages"][1]["content"].split(" (")[0] for a in asked if len(a["messages"]) == 2]
    assert "Article 003" in firsts  # the one the batch did not answer
    assert "4 answers from the Batch API" in err.strip().splitlines()[-1]


def test_a_batch_replay_of_an_ordinary_recording_says_so() -> None:
    code, out, err = replay(SEED_CASSETTE, "--batch")
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1] == (
        "briefgen: ReplayMissError: uploading the batch's requests: the recording has no "
        "such request; replay a recording made with --batch, or replay without --batch."
    )


def test_batch_results_lines_are_read_as_openai_writes_them() -> None:
    ok = {"id": "r1", "custom_id": "a", "response": {"status_code": 200, "body": {"id": "c"}}}
    assert _result(json.dumps({**ok, "error": None})) == ("a", ('{"id": "c"}', None))
    expired = {
        "custom_id": "b",
        "response": None,
        "error": {"code": "batch_expired", "message": "This request could not be executed"},
    }
    assert _result(json.dumps(expired)) == (
        "b",
        (None, "batch_expired: This request could not be executed"),
    )
    refused = {
        "custom_id": "c",
        "response": {"status_code": 400, "body": {"error": {"message": "Invalid max_tokens"}}},
        "error": None,
    }
    assert _result(json.dumps(refused)) == ("c", (None, "Invalid max_tokens"))
    assert _result("not json") is None and _result("[]") is None and _result("{}") is None


def test_requests_are_split_into_batches_openai_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    import briefgen._batch as batch

    requests = [(BatchRequest(str(n), "x", b"{}"), b"x" * 10) for n in range(7)]
    monkeypatch.setattr(batch, "MOST_REQUESTS", 3)
    assert [len(c) for c in _chunks(requests)] == [3, 3, 1]
    monkeypatch.setattr(batch, "MOST_REQUESTS", 100)
    monkeypatch.setattr(batch, "MOST_BYTES", 25)
    assert [len(c) for c in _chunks(requests)] == [2, 2, 2, 1]


def test_batch_tokens_are_priced_at_the_batch_price() -> None:
    price = DEFAULT_PRICES["gpt-4o-mini"]
    ordinary = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    batched = Usage(
        prompt_tokens=1_000_000,
        completion_tokens=1_000_000,
        batch_prompt_tokens=1_000_000,
        batch_completion_tokens=1_000_000,
    )
    assert ordinary.cost("gpt-4o-mini") == pytest.approx(price.input + price.output)
    assert batched.cost("gpt-4o-mini") == pytest.approx(
        price.batch_input_price + price.batch_output_price
    )
    assert batched.cost("gpt-4o-mini") == pytest.approx(ordinary.cost("gpt-4o-mini") / 2)


def dry_run_cost(*more: str) -> float:
    result = CliRunner().invoke(
        app, ["summarize", str(SEEDS), "--dry-run", "--model", "gpt-4o-mini", *more]
    )
    assert result.exit_code == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    return float(line.split("cost about $")[1].split()[0])


def test_the_dry_run_prices_the_article_calls_at_the_batch_price() -> None:
    ordinary, batched = dry_run_cost(), dry_run_cost("--batch")
    estimate = Pipeline(Settings(model="gpt-4o-mini")).estimate(load([SEEDS]))
    articles = Usage(
        prompt_tokens=estimate.article_prompt_tokens,
        completion_tokens=estimate.article_completion_tokens,
    ).cost("gpt-4o-mini")
    assert articles is not None and articles > 0
    assert batched == pytest.approx(ordinary - articles / 2, abs=2e-4)
    assert batched < ordinary


# --- against the scripted endpoint on loopback ----------------------------------------------


@pytest.fixture
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFGEN_BATCH_POLL", "0")


def on_loopback(test: Any) -> Any:
    """A test against the scripted endpoint on loopback, batches looked at without a wait."""
    for mark in (
        pytest.mark.usefixtures("fast_polls"),
        pytest.mark.enable_socket,
        pytest.mark.allow_hosts(["127.0.0.1"]),
    ):
        test = mark(test)
    return test


def batch_run(base_url: str) -> list[str]:
    """The arguments of `briefgen summarize --batch` of the seeds against `base_url`."""
    return ["summarize", str(SEEDS), "--batch", "--base-url", base_url, "--model", MODEL]


def summarize(script: Script, *more: str, server: Any = None) -> tuple[int, str, str]:
    """`summarize --batch` of the seeds against `script` (on `server`, if given: a rerun
    must ask the same endpoint to find the batches kept for it)."""
    with contextlib.ExitStack() as stack:
        if server is None:
            server = stack.enter_context(serve(script))
        server.script = script
        result = CliRunner().invoke(app, [*batch_run(server.base_url), *more])
    return result.exit_code, result.stdout, result.stderr


def state() -> sqlite3.Connection:
    con = sqlite3.connect(Path(os.environ["BRIEFGEN_DIR"]) / FILENAME)
    con.row_factory = sqlite3.Row
    return con


@on_loopback
def test_a_failed_batch_is_one_line_and_a_rerun_sends_a_new_one(
    seed_script: dict[str, list[Any]],
) -> None:
    message = "Enqueued token limit reached for scripted-analyst. Limit: 90,000 enqueued tokens."
    plan = {"status": "failed", "code": "token_limit_exceeded", "message": message}
    failing = Script({**seed_script, "_batch": [plan]})
    code, out, err = summarize(failing)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"briefgen: ModelError: batch batch_scripted_1 failed: token_limit_exceeded: {message}; "
        "nothing in it was answered or charged. Fix what it names, or run without --batch."
    )
    assert "Traceback" not in err
    assert not [r for r in failing.requests]  # no ordinary call was made at full price
    with state() as con:
        assert [tuple(r) for r in con.execute("SELECT id, status FROM batches")] == [
            ("batch_scripted_1", "failed")
        ]
    # A failed batch is not re-attached to: the rerun sends its own, and it completes.
    working = Script(seed_script)
    code, out, err = summarize(working)
    assert code == 0, err
    assert out.startswith("# Brief: 5 articles")
    assert working.batches.calls[:2] == ["POST /v1/files", "POST /v1/batches"]


@on_loopback
def test_a_request_the_batch_failed_is_asked_by_an_ordinary_call(
    seed_script: dict[str, list[Any]],
) -> None:
    # Served by count: the batch's line for 002 gets the 500, the ordinary call the answer.
    fault = {"_status": 500, "_message": "The server had an error processing your request."}
    script = Script({**seed_script, "002": [fault, *seed_script["002"]]}, by_reask=False)
    code, out, err = summarize(script)
    assert code == 0, err
    assert out.startswith("# Brief: 5 articles")
    assert (
        "batch batch_scripted_1: 1 of 5 requests have no answer (those requests failed (The "
        "server had an error processing your request.)); asking them by ordinary calls"
    ) in err
    firsts = [r for r in script.requests if r["messages"][1]["content"].startswith("Article 002")]
    assert len(firsts) == 2  # the batch's line, then the ordinary call
    # The call log marks what a batch answered, priced at the batch price.
    logged = json.loads(CliRunner().invoke(app, ["log", "--run", "1", "--json"]).stdout)
    outcomes = {c["subject"]: c["outcome"] for c in logged["calls"] if c["kind"] == "article"}
    assert outcomes["002_cd7e1f6584ec22a6.txt"] == "ok"  # asked by an ordinary call
    assert sum(o == "ok (answered by a batch)" for o in outcomes.values()) == 4


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_rerun_re_attaches_to_the_batch_instead_of_paying_twice(
    seed_script: dict[str, list[Any]], tmp_path: Path
) -> None:
    script = Script({**seed_script, "_batch": [{"hold": True}]})
    with serve(script) as server:
        env = {**os.environ, "BRIEFGEN_BATCH_POLL": "0.05"}
        command = [
            sys.executable,
            "-m",
            "briefgen",
            *batch_run(server.base_url),
            "-o",
            str(tmp_path / "brief.md"),
        ]
        first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while script.batches.calls.count("GET /v1/batches/batch_scripted_1") < 2:
            assert time.monotonic() < deadline and first.poll() is None, "no batch was polled"
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=30)
        assert first.returncode == 130
        assert "sent batch batch_scripted_1" in err
        assert (
            err.strip()
            .splitlines()[-1]
            .endswith("Any batch sent is kept: run the same command again to re-attach to it.")
        )
        assert not (tmp_path / "brief.md").exists()

        # `briefgen batch status` asks the endpoint and lists it as pending.
        status = CliRunner().invoke(app, ["batch", "status"])
        assert status.exit_code == 0, status.stderr
        header, row = status.stdout.strip().splitlines()
        assert header.split()[:2] == ["batch", "created"]
        assert row.split()[0] == "batch_scripted_1" and "in_progress" in row.split()
        assert (
            json.loads(CliRunner().invoke(app, ["batch", "status", "--json"]).stdout)[0]["requests"]
            == 5
        )

        # The same command again: no upload, no new batch; it waits for the one kept.
        uploads = script.batches.calls.count("POST /v1/files")
        script.batches.plan["hold"] = False
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "re-attached to batch batch_scripted_1 (in_progress)" in second.stderr
    assert script.batches.calls.count("POST /v1/files") == uploads == 1
    assert script.batches.calls.count("POST /v1/batches") == 1
    assert (tmp_path / "brief.md").read_text(encoding="utf-8").startswith("# Brief: 5 articles")
    assert CliRunner().invoke(app, ["batch", "status", "--offline"]).stdout.strip() == (
        "no pending batches"
    )
    listed = CliRunner().invoke(app, ["batch", "status", "--all", "--offline"]).stdout
    assert "completed" in listed.splitlines()[1].split()
    # A third run finds every brief in the cache: nothing is asked at all.
    calls = len(script.batches.calls)
    with serve(script) as server:
        result = CliRunner().invoke(app, batch_run(server.base_url))
    assert result.exit_code == 0 and len(script.batches.calls) == calls
    assert "6 cache hits" in result.stderr


@on_loopback
def test_what_a_batch_answered_is_never_paid_for_again(
    seed_script: dict[str, list[Any]],
) -> None:
    # The corpus call fails for good: the run ends, but the verified briefs are cached and
    # the batch's answers kept in the state database.
    fault = {"_status": 400, "_message": "scripted: the corpus call is refused"}
    with serve(Script(seed_script)) as server:
        code, _, err = summarize(Script({**seed_script, "corpus": [fault]}), server=server)
        assert code == 1, err
        with state() as con:
            kept = [r["answer"] for r in con.execute("SELECT answer FROM batch_requests")]
        assert len(kept) == 5
        assert all(json.loads(a)["object"] == "chat.completion" for a in kept)
        again = Script(seed_script)
        code, out, err = summarize(again, server=server)
        assert code == 0 and out.startswith("# Brief: 5 articles"), err
        assert again.batches.calls == [] and "5 cache hits" in err  # only the corpus call
        assert [r["messages"][1]["content"][:2] for r in again.requests] == ["5 "]
        # With the cache emptied, the kept answers still serve: no batch is sent or looked
        # at, and each is verified again (001's re-ask is the one ordinary article call).
        assert CliRunner().invoke(app, ["cache", "clear"]).exit_code == 0
        dry = CliRunner().invoke(app, [*batch_run(server.base_url), "--dry-run"])
        assert "0 answered by the cache, 5 in a batch already sent; 0 article calls" in dry.stderr
        third = Script(seed_script)
        code, _out, err = summarize(third, server=server)
    assert code == 0, err
    assert third.batches.calls == []
    usage = err.strip().splitlines()[-1]
    assert "(5 answers a batch gave an earlier run, counted then)" in usage
    assert "answers from the Batch API" not in usage  # not counted (nor billed) twice
    assert "2 calls, 1 re-asks" in usage


@on_loopback
def test_a_kept_batch_the_endpoint_no_longer_has_is_sent_again(
    seed_script: dict[str, list[Any]],
) -> None:
    with serve(Script(seed_script)) as server:
        assert summarize(Script(seed_script), server=server)[0] == 0
        # As if the run had been interrupted while the batch ran, and the batch then deleted.
        assert CliRunner().invoke(app, ["cache", "clear"]).exit_code == 0
        with state() as con:
            con.execute("UPDATE batches SET status = 'in_progress', downloaded = 0")
            con.execute("UPDATE batch_requests SET answer = NULL")
        fresh = Script({**seed_script, "_batch": [{"first": 2}]})  # no batch_scripted_1
        code, out, err = summarize(fresh, server=server)
    assert code == 0 and out.startswith("# Brief: 5 articles"), err
    assert "re-attached to batch batch_scripted_1 (in_progress)" in err
    assert (
        f"warning: batch batch_scripted_1 is no longer at {server.base_url} (deleted, or sent "
        "with another key or project); sending its 5 requests in a new batch"
    ) in err
    assert fresh.batches.calls[:3] == [
        "GET /v1/batches/batch_scripted_1",
        "POST /v1/files",
        "POST /v1/batches",
    ]
    assert "could not keep" not in err
    with state() as con:
        assert dict(con.execute("SELECT id, status FROM batches").fetchall()) == {
            "batch_scripted_1": "gone",
            "batch_scripted_2": "completed",
        }


@pytest.mark.parametrize("mode", ["tools-strict", "json", "md-json"])
def test_batch_lines_are_sent_as_the_mode_sends_them(
    seed_script: dict[str, list[Any]], mode: str
) -> None:
    script = Script(seed_script)
    settings = Settings(model=MODEL, base_url="http://scripted/v1", api_key="sk-x", mode=mode)
    pipeline = Pipeline(settings, transport=script.transport(), batch=True, poll_seconds=0)
    run = asyncio.run(pipeline.run(load([SEEDS])))
    assert len(run.result.articles) == 5 and run.usage.batched == 5
    jsonl = script.batches.files["file-scripted-1"].decode().splitlines()
    # Each line is the request the ordinary run in this mode sent, on the wire (recorded).
    recorded = [json.loads(body(i)) for i in interactions(CASSETTES / f"seeds-{mode}.yaml")]
    ordinary = {r["messages"][1]["content"]: r for r in recorded if len(r["messages"]) == 2}
    for line in map(json.loads, jsonl):
        sent = line["body"]
        assert sent == ordinary[sent["messages"][1]["content"]]
        if mode == "tools-strict":
            assert sent["tools"][0]["function"]["strict"] is True
        else:
            compact = json.dumps(ArticleBrief.model_json_schema(), separators=(",", ":"))
            assert compact in sent["messages"][0]["content"]


def test_azure_batches_go_to_the_resource_with_the_deployment_as_model() -> None:
    seen: list[httpx2.Request] = []
    script = Script({"001": [FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]})

    settings = Settings(
        model="my-batch-deployment",
        api_key="azure-key-dummy",
        azure_endpoint="https://example.openai.azure.com",
        api_version="2024-10-21",
    )
    folder = write_two(Path(tempfile.mkdtemp()) / "a")
    run = asyncio.run(
        Pipeline(settings, transport=script.transport(seen), batch=True, poll_seconds=0).run(
            load([folder])
        )
    )
    assert not run.result.failed and run.usage.batched == 2
    upload, create = seen[0], seen[1]
    assert str(upload.url) == "https://example.openai.azure.com/openai/files?api-version=2024-10-21"
    assert str(create.url).startswith("https://example.openai.azure.com/openai/batches?")
    assert json.loads(create.content)["endpoint"] == "/chat/completions"
    for line in map(json.loads, script.batches.files["file-scripted-1"].decode().splitlines()):
        assert line["url"] == "/chat/completions"
        assert line["body"]["model"] == "my-batch-deployment"
    assert all(r.headers["api-key"] == "azure-key-dummy" for r in seen)


@pytest.mark.parametrize("status", [404, 405])
def test_an_endpoint_without_a_batch_api_is_one_line_naming_the_fix(status: int) -> None:
    def handle(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json={"error": {"message": "Not Found"}})

    settings = Settings(model=MODEL, base_url="http://localhost:8080/v1", api_key="sk-x")
    pipeline = Pipeline(settings, transport=httpx2.MockTransport(handle), batch=True)
    with pytest.raises(ModelError) as caught:
        asyncio.run(pipeline.run(load([SEEDS])))
    assert str(caught.value) == (
        f"uploading the batch's requests: {status} from http://localhost:8080/v1 (Not "
        "Found); the endpoint has no Batch API, or not for this model; run without --batch."
    )


def test_batch_status_says_when_the_endpoint_cannot_be_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from briefgen._cache import Cache

    with Cache() as store:
        store.add_batch(
            "batch_abc",
            model="gpt-4o-mini",
            endpoint="http://127.0.0.1:9/v1",
            input_file="file-1",
            status="in_progress",
            requests=[("k1", "a.txt"), ("k2", "b.txt")],
        )
    result = CliRunner().invoke(app, ["batch", "status"])  # network blocked: cannot be asked
    assert result.exit_code == 0
    assert "briefgen: warning: asking about batch batch_abc: no answer from" in result.stderr
    assert "Showing the status last seen." in result.stderr
    row = result.stdout.strip().splitlines()[1].split()
    assert row[0] == "batch_abc" and "in_progress" in row and "2" in row


def test_batch_poll_must_be_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRIEFGEN_BATCH_POLL", "soon")
    result = CliRunner().invoke(app, ["summarize", str(SEEDS), "--batch", "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "briefgen: InputError: BRIEFGEN_BATCH_POLL='soon' is not a number of seconds (0-3600)."
    )


def run_pipeline(script: Script, folder: Path, warn: Any = None, **settings: Any) -> Any:
    """A --batch run of the pipeline over `folder` against `script`, in-process, with the
    state database."""
    from briefgen._cache import Cache

    asked = Settings(model=MODEL, base_url="http://scripted/v1", api_key="sk-x", **settings)
    with Cache() as store:
        pipeline = Pipeline(
            asked,
            cache=store,
            transport=script.transport(),
            batch=True,
            poll_seconds=0,
            warn=warn,
        )
        return asyncio.run(pipeline.run(load([folder])))


def test_a_cancelled_batch_ends_the_run_keeping_what_it_answered(
    seed_script: dict[str, list[Any]],
) -> None:
    cancelled = Script(
        {**seed_script, "_batch": [{"status": "cancelled", "unfinished": ["003", "004"]}]}
    )
    with pytest.raises(ModelError) as caught:
        run_pipeline(cancelled, SEEDS)
    assert str(caught.value) == (
        "batch batch_scripted_1 was cancelled; its 3 answers are kept. Run the same command "
        "again to send the other 2 in a new batch, or run without --batch."
    )
    assert not [r for r in cancelled.requests if len(r["messages"]) > 2]  # nothing more asked
    again = Script({**seed_script, "_batch": [{"first": 2}]})
    run = run_pipeline(again, SEEDS)
    assert len(run.result.articles) == 5
    assert run.usage.batch_kept == 3 and run.usage.batched == 2
    sent = again.batches.files["file-scripted-1"].decode().splitlines()
    assert len(sent) == 2  # only 003 and 004 went into the new batch


def test_a_lost_results_file_sends_its_requests_as_ordinary_calls(
    seed_script: dict[str, list[Any]],
) -> None:
    script = Script(seed_script)
    warnings: list[str] = []
    real = script.batches._finish

    def lose_output(batch: dict[str, Any]) -> None:
        real(batch)
        del script.batches.files[batch["output_file_id"]]  # the output file is gone

    script.batches._finish = lose_output  # type: ignore[method-assign]
    run = run_pipeline(script, SEEDS, warn=warnings.append)
    assert len(run.result.articles) == 5 and run.usage.batched == 0
    assert warnings[0] == "the results file file-scripted-2 of batch batch_scripted_1 is gone"
    assert warnings[1].startswith("batch batch_scripted_1: 5 of 5 requests have no answer")
    assert warnings[1].endswith("asking them by ordinary calls, at the standard price")


def seeds_subset(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / f"first-{count}"
    folder.mkdir()
    for path in sorted(SEEDS.iterdir())[:count]:
        (folder / path.name).write_bytes(path.read_bytes())
    return folder


def test_a_rerun_over_fewer_articles_keeps_the_answers_of_the_others(
    seed_script: dict[str, list[Any]], tmp_path: Path
) -> None:
    script = Script({**seed_script, "_batch": [{"hold": True}]})

    async def interrupted() -> None:
        # Run 1 over all five is cancelled (Ctrl-C) while its batch is in progress.
        from briefgen._cache import Cache

        asked = Settings(model=MODEL, base_url="http://scripted/v1", api_key="sk-x")
        with Cache() as store:
            pipeline = Pipeline(
                asked, cache=store, transport=script.transport(), batch=True, poll_seconds=0.01
            )
            task = asyncio.create_task(pipeline.run(load([SEEDS])))
            while script.batches.calls.count("GET /v1/batches/batch_scripted_1") < 2:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(interrupted())
    script.batches.plan["hold"] = False
    # Run 2 over three of them re-attaches and collects the batch: all five answers kept.
    run = run_pipeline(script, seeds_subset(tmp_path, 3))
    assert len(run.result.articles) == 3 and run.usage.batched == 3
    with state() as con:
        answers = [r["answer"] for r in con.execute("SELECT answer FROM batch_requests")]
    assert len(answers) == 5 and None not in answers
    # Run 3 over all five sends nothing to the Batch API: 003 and 004 were kept too.
    calls = len(script.batches.calls)
    run = run_pipeline(script, SEEDS)
    assert len(run.result.articles) == 5 and len(script.batches.calls) == calls
    assert run.usage.cache_hits == 3 and run.usage.batch_kept == 2


@pytest.mark.parametrize("change", [{"mode": "json"}, {"max_tokens": 4096}])
def test_a_kept_answer_serves_only_the_very_request_it_answered(
    seed_script: dict[str, list[Any]], change: dict[str, Any]
) -> None:
    script = Script(seed_script)
    run_pipeline(script, SEEDS, mode="tools")
    assert CliRunner().invoke(app, ["cache", "clear"]).exit_code == 0
    # Asked another way, the tool-call answers kept would not fit: a new batch is sent.
    run = run_pipeline(script, SEEDS, **{"mode": "tools", **change})
    assert script.batches.calls.count("POST /v1/batches") == 2
    assert run.usage.batched == 5 and run.usage.batch_kept == 0
    assert len(run.result.articles) == 5


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.parametrize("slow", [["create"], ["look", "download"]])
def test_a_batch_api_request_answered_late_neither_ends_the_run_nor_pays_twice(
    seed_script: dict[str, list[Any]], slow: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEFGEN_BATCH_POLL", "0")
    script = Script({**seed_script, "_batch": [{"slow": slow, "seconds": 1.5}]})
    code, out, err = summarize(script, "--timeout", "1")
    assert code == 0 and out.startswith("# Brief: 5 articles"), err
    # A create whose answer came too late had made the batch: it is found, not made again.
    assert script.batches.calls.count("POST /v1/batches") == 1
    assert list(script.batches.batches) == ["batch_scripted_1"]
    if slow == ["create"]:
        assert "GET /v1/batches?limit=100" in script.batches.calls


def test_the_state_keeps_one_batch_per_id_and_clear_all_keeps_running_ones() -> None:
    from briefgen._cache import Cache

    with Cache() as store:
        for requests in ([("a", "1.txt"), ("b", "2.txt")], [("c", "3.txt")]):
            store.add_batch(
                "batch_1",
                model="m",
                endpoint="http://x/v1",
                input_file="f",
                status="in_progress",
                requests=requests,
            )
        assert [r["custom_id"] for r in store.batch_requests("batch_1")] == ["c"]
        store.add_batch(
            "batch_2",
            model="m",
            endpoint="http://x/v1",
            input_file="g",
            status="in_progress",
            requests=[("d", "4.txt")],
        )
        store.update_batch("batch_2", status="completed", completed=1)
        # Ended but never collected: still pending, and `batch status` says so.
        assert [b["id"] for b in store.batches()] == ["batch_2", "batch_1"]
        status = CliRunner().invoke(app, ["batch", "status", "--offline"]).stdout
        assert "completed (not collected)" in status
        store.store_batch_results("batch_2", {"d": ('{"id": "x"}', None)})
        assert [b["id"] for b in store.batches()] == ["batch_1"]
        store.clear("all")
        assert [b["id"] for b in store.batches(pending_only=False)] == ["batch_1"]
        assert [r["custom_id"] for r in store.batch_requests("batch_1")] == ["c"]
        assert store.batch_requests("batch_2") == []


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_batch_status_asks_azure_with_azures_key_and_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from briefgen._cache import Cache

    script = Script({})
    script.batches.files["file-1"] = b'{"custom_id": "k", "body": {"messages": []}}\n'
    script.batches._create({"input_file_id": "file-1", "endpoint": "/chat/completions"})
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-dummy")
    monkeypatch.delenv("OPENAI_API_VERSION", raising=False)
    with serve(script) as server:
        endpoint = server.base_url.removesuffix("/v1")
        with Cache() as store:
            store.add_batch(
                "batch_scripted_1",
                model="dep",
                endpoint=endpoint,
                input_file="file-1",
                status="validating",
                requests=[("k", "a.txt")],
                api_version="2024-10-21",
            )
        result = CliRunner().invoke(app, ["batch", "status"])
    assert result.exit_code == 0, result.stderr
    assert script.batches.calls == ["GET /openai/batches/batch_scripted_1?api-version=2024-10-21"]
    assert script.batches.headers[0]["api-key"] == "azure-key-dummy"
    assert "authorization" not in {k.lower() for k in script.batches.headers[0]}
    assert "in_progress" in result.stdout.splitlines()[1].split()


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: Any, *runs: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        assert all(r.poll() is None for r in runs), "a run ended early"
        time.sleep(0.05)


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_run_stopped_while_creating_its_batch_is_settled_by_the_next(
    seed_script: dict[str, list[Any]],
) -> None:
    # The create is carried out, but its answer is slow; the run is stopped meanwhile.
    script = Script({**seed_script, "_batch": [{"slow": ["create"], "seconds": 2}]})
    env = {**os.environ, "BRIEFGEN_BATCH_POLL": "0.05"}
    with serve(script) as server:
        command = [sys.executable, "-m", "briefgen", *batch_run(server.base_url)]
        with start(command, env) as first:
            wait_for(lambda: "POST /v1/batches" in script.batches.calls, first)
            time.sleep(0.3)
            first.send_signal(signal.SIGINT)
            first.communicate(timeout=30)
        assert first.returncode == 130
        with state() as con:
            kept = [tuple(r) for r in con.execute("SELECT id, status, input_file FROM batches")]
        assert kept == [("sending:file-scripted-1", "sending", "file-scripted-1")]
        assert "sending" in CliRunner().invoke(app, ["batch", "status"]).stdout
        # The next run finds the batch made on that file and re-attaches to it.
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "re-attached to batch batch_scripted_1" in second.stderr
    assert script.batches.calls.count("POST /v1/batches") == 1
    assert script.batches.calls.count("POST /v1/files") == 1
    with state() as con:
        assert [tuple(r) for r in con.execute("SELECT id, status FROM batches")] == [
            ("batch_scripted_1", "completed")
        ]


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_two_runs_started_together_send_one_batch(seed_script: dict[str, list[Any]]) -> None:
    script = Script({**seed_script, "_batch": [{"hold": True}]})
    env = {**os.environ, "BRIEFGEN_BATCH_POLL": "0.05"}
    with serve(script) as server:
        command = [sys.executable, "-m", "briefgen", *batch_run(server.base_url)]
        with start(command, env) as one, start(command, env) as other:
            runs = [one, other]
            looks = "GET /v1/batches/batch_scripted_1"
            wait_for(lambda: script.batches.calls.count(looks) >= 6, *runs)
            script.batches.plan["hold"] = False
            errors = [run.communicate(timeout=60)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert script.batches.calls.count("POST /v1/files") == 1
    assert script.batches.calls.count("POST /v1/batches") == 1
    # One sent it; the other waited for it and re-attached (or, started late, took its
    # answers from the state).
    assert sorted("sent batch batch_scripted_1" in e for e in errors) == [False, True]

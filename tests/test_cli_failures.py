"""The `briefgen` command against a misbehaving endpoint on loopback: exit codes, one-line
errors that name the fix, preflight before anything is paid for, and nothing lost."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from briefgen._cli import app
from conftest import DUMMY_KEY
from faults import CONTEXT_400, CORPUS, FIRE_ANSWER, FLOODS_ANSWER, Trickle, script, write_two
from scripted import MODEL, Script, serve

pytestmark = [pytest.mark.enable_socket, pytest.mark.allow_hosts(["127.0.0.1"])]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_two(tmp_path / "articles")


def summarize(answers: Script, *args: str, url: str | None = None) -> tuple[int, str, str]:
    with serve(answers) as server:
        base = ["--base-url", url or server.base_url, "--model", MODEL, "--concurrency", "1"]
        result = CliRunner().invoke(app, ["summarize", *args, *base])
    return result.exit_code, result.stdout, result.stderr


def test_a_failed_article_is_exit_1_with_the_brief_written_and_the_article_named(
    folder: Path,
) -> None:
    code, out, err = summarize(script(_002=[CONTEXT_400]), str(folder))
    assert code == 1
    assert "# Brief: 1 articles" in out and "## Articles that could not be read" in out
    lines = err.strip().splitlines()
    assert any(line.startswith("briefgen: failed: 002_fire.txt: too long") for line in lines)
    assert lines[-1].startswith("briefgen: PartialError: brief written, but 1 of 2 articles")
    assert "Traceback" not in err


def test_every_article_failing_writes_no_brief(folder: Path) -> None:
    code, out, err = summarize(script(_001=[CONTEXT_400], _002=[CONTEXT_400]), str(folder))
    assert code == 1 and out == ""
    assert "no article could be read; 001_floods.txt: too long for this model" in err


@pytest.mark.parametrize(
    ("fault", "fix"),
    [
        ({"_status": 401, "_message": "Incorrect API key provided"}, "check OPENAI_API_KEY"),
        ({"_status": 404, "_message": "The model does not exist"}, "check --base-url"),
        ({"_status": 403, "_message": "Project lacks access"}, "may use --model"),
    ],
)
def test_endpoint_errors_end_the_run_with_the_fix_and_the_endpoints_words(
    folder: Path, fault: dict[str, Any], fix: str
) -> None:
    code, out, err = summarize(script(_001=[fault]), str(folder))
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert fix in err and str(fault["_message"]) in err


def test_connection_refused_asks_whether_the_server_runs(folder: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    url = f"http://user:sk-userinfosecret123456@127.0.0.1:{port}/v1?api-key=sk-querysecret1234"
    code, _, err = summarize(script(), str(folder), url=url)
    assert code == 1
    assert f"could not connect to http://127.0.0.1:{port}/v1" in err
    assert "is the server running there?" in err
    assert "sk-userinfosecret" not in err and "sk-querysecret" not in err


def test_the_key_is_never_printed_in_an_error(folder: Path) -> None:
    echo = {"_status": 401, "_message": f"Incorrect API key provided: {DUMMY_KEY}"}
    code, _, err = summarize(script(_001=[echo]), str(folder))
    assert code == 1 and DUMMY_KEY not in err and "REDACTED" in err


# --- preflight ---------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["-o", "--record"])
def test_an_unwritable_output_or_recording_is_exit_2_before_any_request(
    folder: Path, tmp_path: Path, option: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    answers = script()
    code, out, err = summarize(answers, str(folder), option, str(blocker / "brief.md"))
    assert code == 2 and out == ""
    assert "cannot be written" in err and err.count("\n") == 1
    assert answers.requests == []


def test_an_unwritable_cache_folder_is_exit_2_before_any_request(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("BRIEFGEN_DIR", str(blocker))
    answers = script()
    code, _, err = summarize(answers, str(folder))
    assert code == 2 and "BRIEFGEN_DIR" in err and "--no-cache" in err
    assert answers.requests == []


def test_a_failed_recording_leaves_the_old_cassette_as_it_was(folder: Path, tmp_path: Path) -> None:
    cassette = tmp_path / "run.yaml"
    cassette.write_text("old recording\n", encoding="utf-8")
    code, _, _ = summarize(script(_001=[{"_status": 401}]), str(folder), "--record", str(cassette))
    assert code == 1
    assert cassette.read_text(encoding="utf-8") == "old recording\n"
    assert [p.name for p in tmp_path.iterdir() if "run" in p.name] == ["run.yaml"]


def test_the_brief_written_with_o_inside_the_input_folder_is_not_read(folder: Path) -> None:
    target = folder / "brief.md"
    code, _, _ = summarize(script(), str(folder), "-o", str(target))
    assert code == 0
    answers = script()
    code, _, _ = summarize(answers, str(folder), "-o", str(target), "--no-cache")
    assert code == 0 and "# Brief: 2 articles" in target.read_text(encoding="utf-8")
    assert sorted(answers.counts) == ["001", "002", "corpus"]


# --- size guard, cache, progress -----------------------------------------------------------------


def test_an_article_over_the_size_limit_is_refused_before_any_call(folder: Path) -> None:
    (folder / "003_long.txt").write_text("The river rose again today. " * 400, encoding="utf-8")
    answers = script()
    code, out, err = summarize(answers, str(folder), "--max-article-tokens", "1000")
    assert code == 1
    assert "003" not in answers.counts
    assert "briefgen: failed: 003_long.txt: too long: " in err
    assert "over --max-article-tokens 1,000" in err and "003_long.txt" in out


@pytest.mark.parametrize(
    "damage",
    [
        "{not json",
        json.dumps({"brief": {"title": "x"}}),
        json.dumps({"brief": {}, "dropped": []}),
        json.dumps({"brief": {"figures": "abc"}, "dropped": []}),
        json.dumps({"brief": {"title": "x"}, "dropped": [{"where": 1, "reason": None}]}),
        "[1, 2]",
        "\udcff",
    ],
)
def test_a_damaged_cache_entry_is_one_warning_then_replaced(
    folder: Path, damage: str, tmp_path: Path
) -> None:
    code, _, _ = summarize(script(), str(folder))
    assert code == 0
    database = Path(os.environ["BRIEFGEN_DIR"]) / "briefgen.sqlite3"
    with closing(sqlite3.connect(database)) as con, con:
        keys = [k for (k,) in con.execute("SELECT key FROM cache WHERE kind = 'article'")]
        assert len(keys) == 2
        damaged = damage.encode("utf-8", "surrogateescape")
        con.execute("UPDATE cache SET value = ? WHERE key = ?", (damaged, keys[0]))
    answers = script()
    code, _, err = summarize(answers, str(folder))
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "is unusable" in warnings[0] and "Traceback" not in err
    assert sum(answers.counts.get(k, 0) for k in ("001", "002")) == 1
    with closing(sqlite3.connect(database)) as con:
        (value,) = con.execute("SELECT value FROM cache WHERE key = ?", (keys[0],)).fetchone()
    assert json.loads(value)["brief"]["title"]


def test_verbose_without_a_terminal_prints_a_line_per_article(folder: Path) -> None:
    code, _, err = summarize(script(_002=[CONTEXT_400]), str(folder), "-v")
    assert code == 1
    lines = err.splitlines()
    assert any(
        line.startswith("briefgen: 001_floods.txt: 3 verified, 0 dropped, ") for line in lines
    )
    assert any(line.startswith("briefgen: 002_fire.txt: failed (too long") for line in lines)


def test_many_articles_refused_at_once_still_give_one_line(folder: Path) -> None:
    for n in range(3, 9):
        (folder / f"00{n}_more.txt").write_text(f"Officials counted {n} boats.\n", encoding="utf-8")
    refused = [{"_status": 401, "_message": "Incorrect API key provided"}]
    answers = Script({f"00{n}": refused for n in range(1, 9)})
    with serve(answers) as server:
        result = CliRunner().invoke(
            app, ["summarize", str(folder), "--base-url", server.base_url, "--concurrency", "4"]
        )
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "check OPENAI_API_KEY" in result.stderr


def test_timeout_comes_from_briefgen_timeout_and_names_the_fix(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEFGEN_TIMEOUT", "1")
    with Trickle() as server:
        result = CliRunner().invoke(
            app, ["summarize", str(folder), "--base-url", server.url, "--concurrency", "1"]
        )
    assert result.exit_code == 1
    assert (
        "briefgen: failed: 002_fire.txt: no complete answer within --timeout 1s; "
        "raise --timeout or lower --concurrency" in result.stderr
    )


def test_max_tokens_reaches_every_request(folder: Path) -> None:
    answers = script()
    code, _, _ = summarize(answers, str(folder), "--max-tokens", "2048")
    assert code == 0
    assert {r["max_tokens"] for r in answers.requests} == {2048}


def test_a_run_without_the_cache_does_not_promise_a_cheap_rerun(folder: Path) -> None:
    code, _, err = summarize(script(_002=[CONTEXT_400]), str(folder), "--no-cache")
    assert code == 1
    assert "nothing was cached" in err and "ask only about those" not in err


def test_a_recorded_run_with_retried_rate_limits_replays(folder: Path, tmp_path: Path) -> None:
    limited = {"_status": 429, "_headers": {"retry-after": "0"}}
    answers = Script(
        {"001": [limited, FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]},
        by_reask=False,
    )
    cassette = tmp_path / "run.yaml"
    with serve(answers) as server:
        recorded = CliRunner().invoke(
            app,
            [
                *("summarize", str(folder), "--record", str(cassette)),
                *("--base-url", server.base_url, "--model", MODEL, "--concurrency", "1"),
            ],
        )
    assert recorded.exit_code == 0, recorded.stderr
    assert "retry-after-ms" in cassette.read_text(encoding="utf-8")
    replayed = CliRunner().invoke(app, ["summarize", str(folder), "--replay", str(cassette)])
    assert replayed.exit_code == 0, replayed.stderr
    assert replayed.stdout == recorded.stdout

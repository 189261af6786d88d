"""The state database: cache entries, the call log, migrations, two runs at once, and the
`briefgen log` / `briefgen cache` commands."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from briefgen._cache import FILENAME, MIGRATIONS, Cache, CacheEntryError
from briefgen._cli import app
from briefgen._errors import InputError
from conftest import DUMMY_KEY

ENTRY = {"brief": {"title": "Floods close the river road"}, "dropped": []}


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    with Cache(tmp_path) as opened:
        yield opened


def raw(path: Path) -> closing[sqlite3.Connection]:
    """A connection of the test's own, as another program would open the file."""
    return closing(sqlite3.connect(path))


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def home() -> Path:
    return Path(os.environ["BRIEFGEN_DIR"]) / FILENAME


def a_run(cache: Cache) -> int:
    run = cache.start_run("gpt-4o-mini", "https://api.openai.com/v1", articles=2)
    cache.log_call(
        run,
        model="gpt-4o-mini",
        kind="article",
        subject="001_floods.txt",
        prompt_tokens=1000,
        cached_tokens=200,
        completion_tokens=100,
        cost=0.0012,
    )
    cache.log_call(
        run,
        model="gpt-4o-mini",
        kind="article",
        subject="002_fire.txt",
        cached=True,
        outcome="cache hit",
    )
    cache.log_call(
        run,
        model="gpt-4o-mini",
        kind="corpus",
        subject="the corpus brief",
        prompt_tokens=500,
        completion_tokens=50,
        cost=0.0003,
    )
    cache.finish_run(run, "ok")
    return run


# --- the cache -----------------------------------------------------------------------------------


def test_an_entry_put_is_got_back_unchanged(cache: Cache) -> None:
    key = cache.key("gpt-4o-mini", "system", "user")
    assert cache.get(key) is None
    cache.put(key, ENTRY)
    assert cache.get(key) == ENTRY
    cache.put(key, {"brief": {}}, kind="corpus")
    assert cache.get(key) == {"brief": {}}


def test_the_key_changes_with_the_model_and_every_prompt(cache: Cache) -> None:
    keys = {cache.key("a", "s", "u"), cache.key("b", "s", "u"), cache.key("a", "s", "v")}
    assert len(keys) == 3 and all(len(k) == 64 for k in keys)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "not a JSON object"), (b"\xff", "not UTF-8")],
)
def test_a_damaged_entry_is_a_cache_entry_error(cache: Cache, damage: bytes, reason: str) -> None:
    key = cache.key("m", "p")
    cache.put(key, ENTRY)
    with raw(cache.path) as con, con:
        con.execute("UPDATE cache SET value = ? WHERE key = ?", (damage, key))
    with pytest.raises(CacheEntryError, match=reason):
        cache.get(key)
    cache.put(key, ENTRY)
    assert cache.get(key) == ENTRY


def test_where_names_the_entry_and_the_file(cache: Cache) -> None:
    key = cache.key("m", "p")
    assert cache.where(key) == f"cache entry {key[:12]} in {cache.path}"


def test_the_database_lives_in_briefgen_dir_else_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEFGEN_DIR", str(tmp_path / "state"))
    assert Cache().path == tmp_path / "state" / "briefgen.sqlite3"
    monkeypatch.delenv("BRIEFGEN_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Cache().path == tmp_path / "xdg" / "briefgen" / "briefgen.sqlite3"
    assert Cache(tmp_path / "given").path == tmp_path / "given" / "briefgen.sqlite3"


def test_nothing_is_created_until_the_database_is_used(tmp_path: Path) -> None:
    Cache(tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_the_database_runs_in_wal_mode_and_waits_when_busy(cache: Cache) -> None:
    cache.check()
    with raw(cache.path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with cache._session() as con:
        assert con.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_a_folder_that_cannot_hold_the_database_fails_the_check(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="BRIEFGEN_DIR.*--no-cache"):
        Cache(blocker).check()


def test_two_runs_writing_at_once_both_succeed(tmp_path: Path) -> None:
    with Cache(tmp_path) as first, Cache(tmp_path) as second:
        runs = [first.start_run("m", "e", 1), second.start_run("m", "e", 1)]

        def work(pair: tuple[Cache, int]) -> None:
            store, run = pair
            for n in range(40):
                store.put(store.key("m", str(run), str(n)), {"n": n})
                store.log_call(run, model="m", kind="article", subject=f"{n}.txt", cost=0.5)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(work, [(first, runs[0]), (second, runs[1])]))
        assert first.info()["entries"]["article"] == 80
        assert [r["calls"] for r in second.runs()] == [40, 40]
        assert second.get(first.key("m", str(runs[0]), "39")) == {"n": 39}


# --- migrations ----------------------------------------------------------------------------------


def test_a_version_1_database_is_migrated_and_keeps_its_entries(tmp_path: Path) -> None:
    with raw(tmp_path / FILENAME) as con, con:
        for statement in MIGRATIONS[0]:
            con.execute(statement)
        con.execute("INSERT INTO cache VALUES ('k', 'article', '{\"a\": 1}', 'then')")
        con.execute("PRAGMA user_version = 1")
    with Cache(tmp_path) as cache:
        assert cache.get("k") == {"a": 1}
        assert cache.runs() == []
        cache.log_call(cache.start_run("m", "e", 1), model="m", kind="article", subject="a")
    with raw(tmp_path / FILENAME) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) > 1


def test_a_database_from_a_newer_briefgen_is_refused(tmp_path: Path) -> None:
    with raw(tmp_path / FILENAME) as con:
        con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(InputError, match="newer briefgen.*upgrade briefgen"):
        Cache(tmp_path).check()


# --- the call log --------------------------------------------------------------------------------


def test_a_run_sums_its_paid_calls_and_counts_its_cache_hits(cache: Cache) -> None:
    run = a_run(cache)
    (summary,) = cache.runs()
    assert summary["id"] == run and summary["outcome"] == "ok" and summary["finished"]
    assert (summary["calls"], summary["cache_hits"]) == (2, 1)
    assert (summary["prompt_tokens"], summary["cached_tokens"]) == (1500, 200)
    assert summary["completion_tokens"] == 150
    assert summary["cost"] == pytest.approx(0.0015)
    calls = cache.calls(run)
    assert [c["subject"] for c in calls] == ["001_floods.txt", "002_fire.txt", "the corpus brief"]
    assert [c["cached"] for c in calls] == [False, True, False]
    assert cache.run(run) == summary and cache.run(run + 1) is None


def test_one_unpriced_call_makes_the_run_cost_unknown(cache: Cache) -> None:
    run = cache.start_run("local-llama", "http://localhost:11434/v1", articles=1)
    cache.log_call(run, model="local-llama", kind="article", subject="a.txt", cost=0.5)
    cache.log_call(run, model="local-llama", kind="merge", subject="merge 1", cost=None)
    assert cache.runs()[0]["cost"] is None


def test_runs_come_newest_first_up_to_the_limit(cache: Cache) -> None:
    ids = [cache.start_run("m", "e", n) for n in range(3)]
    assert [r["id"] for r in cache.runs(limit=2)] == ids[:0:-1]
    assert cache.runs()[-1]["outcome"] is None  # never finished


def test_nothing_that_looks_like_a_key_is_logged(cache: Cache) -> None:
    run = cache.start_run("m", "https://user:pw@example.com/v1?api-key=abc123xyz", 1)
    cache.log_call(
        run,
        model="m",
        kind="article",
        subject=f"note {DUMMY_KEY}.txt",
        outcome="failed: 401 for Bearer abcdef0123456789",
    )
    cache.finish_run(run, f"failed: sk-{'x' * 30}")
    dump = "\n".join(raw_dump(cache.path))
    for secret in (DUMMY_KEY, "abc123xyz", "pw@", "abcdef0123456789", "x" * 30):
        assert secret not in dump
    assert "REDACTED" in dump


def raw_dump(path: Path) -> list[str]:
    with raw(path) as con:
        return list(con.iterdump())


def test_info_counts_entries_by_kind_and_clear_empties_what_it_is_asked(cache: Cache) -> None:
    cache.put("a", {}, kind="article")
    cache.put("c", {}, kind="corpus")
    cache.put("m", {}, kind="merge")
    a_run(cache)
    info = cache.info()
    assert info["entries"] == {"article": 1, "corpus": 1, "merge": 1}
    assert (info["runs"], info["calls"], info["path"]) == (1, 3, str(cache.path))
    assert info["size"] > 0
    assert cache.clear() == 3
    assert cache.get("a") is None and len(cache.runs()) == 1
    cache.put("a", {})
    assert cache.clear("all") == 1
    assert cache.runs() == [] and cache.info()["calls"] == 0


def test_an_unknown_kind_is_refused(cache: Cache) -> None:
    with pytest.raises(ValueError, match="kind"):
        cache.put("k", {}, kind="summary")  # type: ignore[arg-type]


# --- the commands --------------------------------------------------------------------------------


def test_log_without_a_database_says_so_and_creates_nothing() -> None:
    code, out, _ = cli("log")
    assert code == 0 and out == f"no runs logged yet in {home()}\n"
    code, out, _ = cli("cache", "info")
    assert code == 0 and "no state database yet" in out
    assert not home().exists()


def test_log_lists_runs_with_tokens_and_cost() -> None:
    with Cache() as cache:
        a_run(cache)
        unpriced = cache.start_run("local-llama", "http://localhost:11434/v1", 1)
        cache.log_call(unpriced, model="local-llama", kind="article", subject="a.txt")
    code, out, err = cli("log")
    assert code == 0 and err == ""
    header, local, openai = out.splitlines()
    assert "cache hits" in header and "tokens prompt/cached/completion" in header
    assert "gpt-4o-mini" in openai and "1,500/200/150" in openai and "$0.0015" in openai
    assert "local-llama" in local and "unknown" in local and "unfinished" in local
    code, out, _ = cli("log", "--limit", "1", "--json")
    assert code == 0 and [r["model"] for r in json.loads(out)] == ["local-llama"]


def test_log_run_lists_its_calls() -> None:
    with Cache() as cache:
        run = a_run(cache)
    code, out, _ = cli("log", "--run", str(run))
    assert code == 0
    assert "001_floods.txt" in out and "1,000/200/100" in out and "$0.0012" in out
    assert "002_fire.txt" in out and "cache hit" in out
    code, out, _ = cli("log", "--run", str(run), "--json")
    shown = json.loads(out)
    assert shown["run"]["id"] == run and len(shown["calls"]) == 3


def test_log_of_an_unknown_run_is_one_line_and_exit_2() -> None:
    with Cache() as cache:
        a_run(cache)
    code, out, err = cli("log", "--run", "99")
    assert code == 2 and out == ""
    assert err.startswith("briefgen: InputError: no run 99") and err.count("\n") == 1


def test_cache_info_and_clear() -> None:
    with Cache() as cache:
        cache.put("a", {})
        cache.put("b", {}, kind="merge")
        a_run(cache)
    code, out, _ = cli("cache", "info")
    assert code == 0
    assert str(home()) in out and "entries  2 (article 1, corpus 0, merge 1)" in out
    assert "runs     1 logged (3 calls)" in out
    code, out, _ = cli("cache", "clear")
    assert code == 0 and out.startswith("removed 2 cache entries from")
    code, out, _ = cli("cache", "clear", "--all")
    assert code == 0 and out.startswith("removed 0 cache entries and 1 logged runs from")
    assert "no runs logged yet" in cli("log")[1]


def test_a_newer_database_is_one_line_and_exit_2() -> None:
    home().parent.mkdir(parents=True, exist_ok=True)
    with raw(home()) as con:
        con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    for command in (["log"], ["cache", "info"], ["cache", "clear"]):
        code, _, err = cli(*command)
        assert code == 2 and "upgrade briefgen" in err and err.count("\n") == 1

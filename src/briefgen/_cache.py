"""briefgen's state: one SQLite file holding the cache of verified answers, so a rerun never
pays twice, and a log of every model call, so a user can see what each run asked and cost.

Cache keys hash the model and the exact prompts sent (which contain the article), so a
changed article, template or model is a miss. Entries hold only what the model answered;
the log holds model names, file names and numbers, with anything that looks like a key
removed. WAL mode and a busy timeout let two runs share the file; every write is one short
transaction, so a crash leaves the old state or the new one. Only this module opens the
database: its schema is the list of migrations below.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from briefgen._errors import InputError
from briefgen._secrets import redact

SCHEMA_VERSION = "1"  # part of every key: bump it to retire entries whose shape changed
FILENAME = "briefgen.sqlite3"
BUSY_SECONDS = 10.0  # how long a write waits for another run's transaction to end

Kind = Literal["article", "corpus", "merge"]
KINDS: tuple[Kind, ...] = ("article", "corpus", "merge")

# Each entry brings the schema from the previous version to the next; `PRAGMA user_version`
# counts how many have run. Append only: a released migration never changes.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the cache
        """CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('article', 'corpus', 'merge')),
            value TEXT NOT NULL,
            stored TEXT NOT NULL
        )""",
    ),
    (  # 2: the call log
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            finished TEXT,
            model TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            articles INTEGER NOT NULL,
            outcome TEXT
        )""",
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            time TEXT NOT NULL,
            model TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('article', 'corpus', 'merge')),
            subject TEXT NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            cached_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cost REAL,
            cached INTEGER NOT NULL,
            outcome TEXT NOT NULL
        )""",
        "CREATE INDEX calls_by_run ON calls (run_id)",
    ),
    (  # 3: batches sent to a Batch API, so a rerun re-attaches instead of paying twice
        """CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            created TEXT NOT NULL,
            model TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            input_file TEXT NOT NULL,
            requests INTEGER NOT NULL,
            status TEXT NOT NULL,
            completed INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            checked TEXT NOT NULL,
            output_file TEXT,
            error_file TEXT,
            errors TEXT,
            downloaded INTEGER NOT NULL DEFAULT 0,
            api_version TEXT
        )""",
        """CREATE TABLE batch_requests (
            batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
            custom_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            answer TEXT,
            error TEXT,
            PRIMARY KEY (batch_id, custom_id)
        )""",
        "CREATE INDEX batch_requests_by_custom_id ON batch_requests (custom_id)",
    ),
)

# A batch in one of these states may still answer; "completed" and "expired" ones hold the
# answers they gave; "failed" and "cancelled" ones are given up, as is one the endpoint no
# longer has ("gone"). "sending" is briefgen's own: its file is uploaded and the batch being
# created, under `SENDING_PREFIX` + the file's id until the endpoint names it.
LIVE_BATCH = ("sending", "validating", "in_progress", "finalizing", "cancelling")
SENDING_PREFIX = "sending:"
LOCK_FILENAME = "briefgen.batches.lock"
ENDED_BATCH = ("completed", "expired", "failed", "cancelled")

# A run's totals count only the calls that were paid for; one unpriced call makes the
# run's cost unknown rather than quietly too low.
_SUMMARY = """
SELECT r.id, r.started, r.finished, r.model, r.endpoint, r.articles, r.outcome,
    COALESCE(SUM(c.cached = 0), 0) AS calls,
    COALESCE(SUM(c.cached = 1), 0) AS cache_hits,
    COALESCE(SUM(CASE WHEN c.cached = 0 THEN c.prompt_tokens END), 0) AS prompt_tokens,
    COALESCE(SUM(CASE WHEN c.cached = 0 THEN c.cached_tokens END), 0) AS cached_tokens,
    COALESCE(SUM(CASE WHEN c.cached = 0 THEN c.completion_tokens END), 0) AS completion_tokens,
    COALESCE(SUM(CASE WHEN c.cached = 0 THEN c.cost END), 0.0) AS cost,
    COALESCE(SUM(c.cached = 0 AND c.cost IS NULL), 0) AS unpriced
FROM runs AS r LEFT JOIN calls AS c ON c.run_id = r.id
"""


class CacheEntryError(ValueError):
    """A cache entry exists but cannot be used: unreadable, not JSON, or the wrong shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BatchLock:
    """A lock file beside the database: a second run over the same articles waits while the
    first looks for kept batches and sends its own, then finds that batch and re-attaches
    to it instead of sending another. Released when the process ends, however it ends.
    Where the system has no `fcntl` (Windows) there is no lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; whether it was."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None


def prompt_key(model: str, *prompts: str) -> str:
    """The key of what was asked: the model and the exact prompts (a cache key, and a
    batch request's custom id)."""
    digest = hashlib.sha256(f"{SCHEMA_VERSION}\0{model}".encode())
    for prompt in prompts:
        digest.update(b"\0" + prompt.encode())
    return digest.hexdigest()


def default_dir() -> Path:
    """`$BRIEFGEN_DIR`, else the user's cache folder."""
    root = os.environ.get("BRIEFGEN_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "briefgen"


class Cache:
    """The state database: cached answers by the hash of what was asked, and the call log.

    Safe to share between threads. Every method but `get` raises OSError when the database
    cannot be used, and InputError when a newer briefgen wrote it.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory or default_dir()) / FILENAME
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def key(self, model: str, *prompts: str) -> str:
        return prompt_key(model, *prompts)

    def where(self, key: str) -> str:
        """Where an entry lives, for a message."""
        return f"cache entry {key[:12]} in {self.path}"

    def check(self) -> None:
        """InputError, before anything is paid for, if the database cannot be written."""
        try:
            with self._session(write=True):
                pass
        except OSError as err:
            raise InputError(
                f"state database {self.path} cannot be written ({err.strerror or err}); "
                "set BRIEFGEN_DIR to a writable folder or pass --no-cache."
            ) from err

    # --- the cache --------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under `key`, None if there is none; CacheEntryError if it is
        damaged or cannot be read (the next `put` replaces it)."""
        try:
            with self._session() as con:
                row = con.execute(
                    "SELECT CAST(value AS BLOB) FROM cache WHERE key = ?", (key,)
                ).fetchone()
        except OSError as err:
            raise CacheEntryError(f"unreadable: {err}") from err
        if row is None:
            return None
        try:
            text = bytes(row[0]).decode("utf-8")
        except UnicodeDecodeError as err:
            raise CacheEntryError("unreadable: not UTF-8") from err
        try:
            data = json.loads(text)
        except ValueError as err:
            raise CacheEntryError("not valid JSON") from err
        if not isinstance(data, dict):
            raise CacheEntryError("not a JSON object")
        return data

    def put(self, key: str, value: dict[str, Any], kind: Kind = "article") -> None:
        _check_kind(kind)
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
        with self._session(write=True) as con:
            con.execute(
                "INSERT OR REPLACE INTO cache (key, kind, value, stored) VALUES (?, ?, ?, ?)",
                (key, kind, text, _now()),
            )

    # --- the call log -----------------------------------------------------------------------

    def start_run(self, model: str, endpoint: str, articles: int) -> int:
        """Log a run's start; its id, for `log_call` and `finish_run`."""
        with self._session(write=True) as con:
            cursor = con.execute(
                "INSERT INTO runs (started, model, endpoint, articles) VALUES (?, ?, ?, ?)",
                (_now(), _clean(model), _clean(endpoint), articles),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def log_call(
        self,
        run_id: int,
        *,
        model: str,
        kind: Kind,
        subject: str,
        prompt_tokens: int = 0,
        cached_tokens: int = 0,
        completion_tokens: int = 0,
        cost: float | None = None,
        cached: bool = False,
        outcome: str = "ok",
    ) -> None:
        """Log one call, or one answer taken from the cache (`cached`); `cost` None if the
        model's price is unknown."""
        _check_kind(kind)
        with self._session(write=True) as con:
            con.execute(
                "INSERT INTO calls (run_id, time, model, kind, subject, prompt_tokens,"
                " cached_tokens, completion_tokens, cost, cached, outcome)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    _now(),
                    _clean(model),
                    kind,
                    _clean(subject),
                    prompt_tokens,
                    cached_tokens,
                    completion_tokens,
                    cost,
                    int(cached),
                    _clean(outcome),
                ),
            )

    def finish_run(self, run_id: int, outcome: str) -> None:
        with self._session(write=True) as con:
            con.execute(
                "UPDATE runs SET finished = ?, outcome = ? WHERE id = ?",
                (_now(), _clean(outcome), run_id),
            )

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest runs, newest first, each with the totals of its calls."""
        with self._session() as con:
            rows = con.execute(f"{_SUMMARY} GROUP BY r.id ORDER BY r.id DESC LIMIT ?", (limit,))
            return [_summary(row) for row in rows]

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run with the totals of its calls, as in `runs`; None if there is none."""
        with self._session() as con:
            row = con.execute(f"{_SUMMARY} WHERE r.id = ? GROUP BY r.id", (run_id,)).fetchone()
            return None if row is None else _summary(row)

    def calls(self, run_id: int) -> list[dict[str, Any]]:
        """The calls of one run, in the order they were logged."""
        with self._session() as con:
            rows = con.execute("SELECT * FROM calls WHERE run_id = ? ORDER BY id", (run_id,))
            return [{**dict(row), "cached": bool(row["cached"])} for row in rows]

    # --- batches ----------------------------------------------------------------------------

    def add_batch(
        self,
        batch_id: str,
        *,
        model: str,
        endpoint: str,
        input_file: str,
        status: str,
        requests: Sequence[tuple[str, str]],
        api_version: str | None = None,
    ) -> None:
        """Keep a batch just created, with its requests as (custom id, subject) pairs, and
        the API version for an Azure endpoint. An id kept before (a local server that
        started counting again) now names this batch: the old one is forgotten."""
        with self._session(write=True) as con:
            con.execute("DELETE FROM batch_requests WHERE batch_id = ?", (batch_id,))
            con.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            con.execute(
                "INSERT INTO batches (id, created, model, endpoint, input_file, requests,"
                " status, checked, api_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    batch_id,
                    _now(),
                    _clean(model),
                    _clean(endpoint),
                    input_file,
                    len(requests),
                    status,
                    _now(),
                    api_version,
                ),
            )
            con.executemany(
                "INSERT OR IGNORE INTO batch_requests (batch_id, custom_id, subject)"
                " VALUES (?, ?, ?)",
                [(batch_id, custom_id, _clean(subject)) for custom_id, subject in requests],
            )

    def update_batch(
        self,
        batch_id: str,
        *,
        status: str,
        completed: int = 0,
        failed: int = 0,
        output_file: str | None = None,
        error_file: str | None = None,
        errors: str | None = None,
    ) -> None:
        """Record what the endpoint last said of a batch."""
        with self._session(write=True) as con:
            con.execute(
                "UPDATE batches SET status = ?, completed = ?, failed = ?, checked = ?,"
                " output_file = COALESCE(?, output_file), error_file = COALESCE(?, error_file),"
                " errors = COALESCE(?, errors) WHERE id = ?",
                (
                    status,
                    completed,
                    failed,
                    _now(),
                    output_file,
                    error_file,
                    None if errors is None else _clean(errors),
                    batch_id,
                ),
            )

    def rename_batch(self, old_id: str, new_id: str, status: str) -> None:
        """Give a kept batch the id the endpoint gave it (a "sending" one, now created)."""
        with self._session(write=True) as con:
            con.execute("DELETE FROM batch_requests WHERE batch_id = ?", (new_id,))
            con.execute("DELETE FROM batches WHERE id = ?", (new_id,))
            con.execute(
                "INSERT INTO batches SELECT ?, created, model, endpoint, input_file, requests,"
                " ?, completed, failed, ?, output_file, error_file, errors, downloaded,"
                " api_version FROM batches WHERE id = ?",
                (new_id, status, _now(), old_id),
            )
            con.execute(
                "UPDATE batch_requests SET batch_id = ? WHERE batch_id = ?", (new_id, old_id)
            )
            con.execute("DELETE FROM batches WHERE id = ?", (old_id,))

    def batch_lock(self) -> BatchLock:
        """The lock a run holds while it looks for the batches kept for its requests and
        sends those no batch holds (`BatchLock`)."""
        return BatchLock(self.path.with_name(LOCK_FILENAME))

    def store_batch_results(
        self, batch_id: str, results: Mapping[str, tuple[str | None, str | None]]
    ) -> None:
        """Keep a batch's results: per custom id, the answer (a chat completion as JSON) or
        why there is none."""
        with self._session(write=True) as con:
            con.execute("UPDATE batches SET downloaded = 1 WHERE id = ?", (batch_id,))
            con.executemany(
                "UPDATE batch_requests SET answer = ?, error = ?"
                " WHERE batch_id = ? AND custom_id = ?",
                [
                    (answer, None if error is None else _clean(error), batch_id, custom_id)
                    for custom_id, (answer, error) in results.items()
                ],
            )

    def batch_for(self, custom_ids: Iterable[str], endpoint: str) -> dict[str, dict[str, Any]]:
        """Per custom id, the newest batch at `endpoint` that can still answer it: one that
        may still answer, or one that holds its answer. Each value has the batch's row and
        the request's `answer` and `error`."""
        found: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(custom_ids))
        live = ", ".join("?" * len(LIVE_BATCH))
        with self._session() as con:
            for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
                chunk = wanted[start : start + 500]
                rows = con.execute(
                    "SELECT b.*, r.custom_id, r.answer, r.error FROM batch_requests AS r"
                    " JOIN batches AS b ON b.id = r.batch_id"
                    f" WHERE r.custom_id IN ({', '.join('?' * len(chunk))}) AND b.endpoint = ?"
                    f" AND (b.status IN ({live}) OR r.answer IS NOT NULL"
                    "      OR (b.status IN ('completed', 'expired') AND b.downloaded = 0))"
                    " ORDER BY b.created, b.rowid",
                    (*chunk, _clean(endpoint), *LIVE_BATCH),
                )
                for row in rows:
                    found[row["custom_id"]] = dict(row)  # the newest wins
        return found

    def batch_requests(self, batch_id: str) -> list[dict[str, Any]]:
        """The requests of one batch, with their answers or errors if downloaded."""
        with self._session() as con:
            rows = con.execute(
                "SELECT custom_id, subject, answer, error FROM batch_requests"
                " WHERE batch_id = ? ORDER BY rowid",
                (batch_id,),
            )
            return [dict(row) for row in rows]

    def batches(self, pending_only: bool = True) -> list[dict[str, Any]]:
        """The batches kept, newest first: those pending (that may still answer, or whose
        answers no run has collected yet), or all."""
        where = (
            f"WHERE status IN ({', '.join('?' * len(LIVE_BATCH))})"
            " OR (status IN ('completed', 'expired') AND downloaded = 0)"
            if pending_only
            else ""
        )
        with self._session() as con:
            rows = con.execute(
                f"SELECT * FROM batches {where} ORDER BY created DESC, rowid DESC",
                LIVE_BATCH if pending_only else (),
            )
            return [dict(row) for row in rows]

    # --- the whole file ---------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Where the database is, its size in bytes, its cache entries by kind, and how many
        runs and calls it has logged."""
        with self._session() as con:
            counts = dict(con.execute("SELECT kind, COUNT(*) FROM cache GROUP BY kind"))
            runs = con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            calls = con.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        files = (self.path, self.path.with_name(f"{FILENAME}-wal"))
        return {
            "path": str(self.path),
            "size": sum(f.stat().st_size for f in files if f.exists()),
            "entries": {kind: counts.get(kind, 0) for kind in KINDS},
            "runs": runs,
            "calls": calls,
        }

    def clear(self, what: str = "cache") -> int:
        """Delete every cache entry and, for "all", the call log too; how many cache
        entries were deleted."""
        if what not in ("cache", "all"):
            raise ValueError(f"clear what? {what!r} is neither 'cache' nor 'all'")
        with self._session(write=True) as con:
            deleted = con.execute("DELETE FROM cache").rowcount
            if what == "all":
                con.execute("DELETE FROM calls")
                con.execute("DELETE FROM runs")
                # Batches that ended, and the answers they gave; one still running stays,
                # so that a rerun re-attaches to it rather than paying again.
                ended = f"status NOT IN ({', '.join('?' * len(LIVE_BATCH))})"
                con.execute(
                    f"DELETE FROM batch_requests WHERE batch_id IN"
                    f" (SELECT id FROM batches WHERE {ended})",
                    LIVE_BATCH,
                )
                con.execute(f"DELETE FROM batches WHERE {ended}", LIVE_BATCH)
        return deleted

    # --- the connection ---------------------------------------------------------------------

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, held alone; a write is one transaction, committed whole or not at
        all. OSError if the database cannot be used."""
        with self._lock:
            try:
                con = self._connect()
                if not write:
                    yield con
                    return
                con.execute("BEGIN IMMEDIATE")  # take the write lock now, waiting if busy
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                    raise
            except sqlite3.Error as err:
                raise OSError(str(err)) from err

    def _connect(self) -> sqlite3.Connection:
        """The open connection, opening the file (and bringing its schema up to date) on
        first use. The caller holds the lock."""
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(
                self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
            )
            try:
                con.row_factory = sqlite3.Row
                con.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL loses no committed entry to a crash of briefgen, only
                # perhaps the last ones to a power cut; a sync per cache write costs more.
                con.execute("PRAGMA synchronous = NORMAL")
                con.execute("PRAGMA foreign_keys = ON")
                _migrate(con, self.path)
            except BaseException:
                con.close()
                raise
            weakref.finalize(self, con.close)  # a Cache dropped unclosed closes its file
            self._con = con
        return self._con


def _migrate(con: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations `con`'s database lacks, all in one transaction; InputError if
    it is newer than this briefgen."""

    def version() -> int:
        found = int(con.execute("PRAGMA user_version").fetchone()[0])
        if found > len(MIGRATIONS):
            raise InputError(
                f"state database {path} was written by a newer briefgen (schema {found}, this "
                f"one knows {len(MIGRATIONS)}); upgrade briefgen, or set BRIEFGEN_DIR to "
                "another folder."
            )
        return found

    if version() == len(MIGRATIONS):
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        for script in MIGRATIONS[version() :]:  # read again: another run may have migrated
            for statement in script:
                con.execute(statement)
        con.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _summary(row: sqlite3.Row) -> dict[str, Any]:
    run = dict(row)
    if run.pop("unpriced"):
        run["cost"] = None
    return run


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")


def _clean(text: str) -> str:
    """`text` with the run's key, and anything that looks like a key, removed."""
    return redact(text, [os.environ.get("OPENAI_API_KEY") or ""])


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

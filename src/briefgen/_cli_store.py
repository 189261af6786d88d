"""`briefgen log` and `briefgen cache info|clear`: the state database from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer

from briefgen._cache import Cache
from briefgen._errors import BriefgenError, InputError

cache_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="See or empty the cache of verified answers.",
)


batch_app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="See the batches `summarize --batch` sent.",
)


def register(app: typer.Typer) -> None:
    """Add the state commands to `app`."""
    app.command("log")(log)
    app.add_typer(cache_app, name="cache")
    app.add_typer(batch_app, name="batch")


@batch_app.command("status")
def batch_status(
    everything: Annotated[
        bool, typer.Option("--all", help="Also list batches that have ended.")
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Show the status last seen; ask the endpoint nothing."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the batches still pending (or all): each is asked for its status first.

    A pending batch is re-attached to by running the same `summarize --batch` command again.

    \b
    Examples:
      briefgen batch status
      briefgen batch status --all --json
    """
    with _store() as store:
        kept = store.path.is_file()
        if kept and not offline:
            for row in store.batches(pending_only=True):
                if row["status"] == "sending":  # not created yet: the endpoint has no id
                    continue
                seen = _look_at(row)
                if isinstance(seen, str):
                    typer.echo(f"briefgen: warning: {seen}", err=True)
                else:
                    store.update_batch(row["id"], **seen)
        rows = store.batches(pending_only=not everything) if kept else []
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif not rows:
        typer.echo("no pending batches" if not everything else "no batches kept")
    else:
        typer.echo(_table(_BATCH_COLUMNS, [_batch_row(r) for r in rows]))


def _look_at(row: dict[str, Any]) -> dict[str, Any] | str:
    """What the endpoint says of a kept batch now, or why it could not be asked."""
    from briefgen._batch import seen
    from briefgen._llm import retrieve_batch

    try:
        batch = retrieve_batch(row["id"], row["endpoint"], row["api_version"])
    except BriefgenError as err:
        return f"{err} Showing the status last seen."
    return seen(batch)


def log(
    limit: Annotated[int, typer.Option(min=1, help="How many recent runs to list.")] = 10,
    run: Annotated[int | None, typer.Option("--run", help="List the calls of this run.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List recent runs: model, articles, calls, cache hits, tokens and cost.

    \b
    Examples:
      briefgen log                 # the last 10 runs
      briefgen log --run 12        # every call run 12 made
      briefgen log --limit 50 --json
    """
    with _store() as store:
        if run is not None:
            _show_run(store, run, as_json)
            return
        runs = store.runs(limit) if store.path.is_file() else []
        if as_json:
            typer.echo(json.dumps(runs, indent=2))
        elif not runs:
            typer.echo(f"no runs logged yet in {store.path}")
        else:
            typer.echo(_table(_RUN_COLUMNS, [_run_row(r) for r in runs]))


@cache_app.command("info")
def cache_info() -> None:
    """Show where the state database is, its size, its entries by kind and the runs logged."""
    with _store() as store:
        if not store.path.is_file():
            typer.echo(f"no state database yet at {store.path}")
            return
        info = store.info()
    entries = info["entries"]
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in entries.items())
    typer.echo(f"path     {info['path']}")
    typer.echo(f"size     {_size(info['size'])}")
    typer.echo(f"entries  {sum(entries.values()):,} ({kinds})")
    typer.echo(f"runs     {info['runs']:,} logged ({info['calls']:,} calls)")


@cache_app.command("clear")
def cache_clear(
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also delete the log of runs and calls, and the batches that have ended "
            "with the answers they gave (a batch still running is kept).",
        ),
    ] = False,
) -> None:
    """Delete every cached answer (the next run pays again); with --all, the call log and
    the batches that have ended too."""
    with _store() as store:
        if not store.path.is_file():
            typer.echo(f"nothing to clear: no state database yet at {store.path}")
            return
        runs = store.info()["runs"] if everything else 0
        removed = store.clear("all" if everything else "cache")
    also = f" and {runs:,} logged runs" if everything else ""
    typer.echo(f"removed {removed:,} cache entries{also} from {store.path}")


@contextmanager
def _store() -> Iterator[Cache]:
    """The state database, closed after; a failure is one line and exit 2."""
    store = Cache()
    try:
        with store:
            yield store
    except InputError as err:
        _fail(str(err))
    except OSError as err:
        _fail(
            f"state database {store.path} cannot be used ({err.strerror or err}); "
            "set BRIEFGEN_DIR to another folder."
        )


def _fail(message: str) -> NoReturn:
    typer.echo(f"briefgen: InputError: {message}", err=True)
    raise typer.Exit(2)


def _show_run(store: Cache, run_id: int, as_json: bool) -> None:
    summary = store.run(run_id) if store.path.is_file() else None
    if summary is None:
        _fail(f"no run {run_id} is logged in {store.path}; `briefgen log` lists the runs.")
    calls = store.calls(run_id)
    if as_json:
        typer.echo(json.dumps({"run": summary, "calls": calls}, indent=2))
        return
    typer.echo(_table(_RUN_COLUMNS, [_run_row(summary)]))
    typer.echo("")
    if calls:
        typer.echo(_table(_CALL_COLUMNS, [_call_row(c) for c in calls]))
    else:
        typer.echo("no calls logged for this run")


_TOKENS = "tokens prompt/cached/completion"
_RUN_COLUMNS = (
    "run",
    "started (UTC)",
    "model",
    "articles",
    "calls",
    "cache hits",
    _TOKENS,
    "cost",
    "outcome",
)
_CALL_COLUMNS = ("time (UTC)", "kind", "subject", "model", _TOKENS, "cost", "outcome")


_BATCH_COLUMNS = (
    "batch",
    "created (UTC)",
    "model",
    "requests",
    "status",
    "answered",
    "failed",
    "checked (UTC)",
)


def _batch_row(batch: dict[str, Any]) -> list[str]:
    return [
        batch["id"],
        _time(batch["created"]),
        batch["model"],
        f"{batch['requests']:,}",
        batch["status"]
        + (
            " (not collected)"
            if batch["status"] in {"completed", "expired"} and not batch["downloaded"]
            else ""
        ),
        f"{batch['completed']:,}",
        f"{batch['failed']:,}",
        _time(batch["checked"]),
    ]


def _run_row(run: dict[str, Any]) -> list[str]:
    return [
        str(run["id"]),
        _time(run["started"]),
        run["model"],
        f"{run['articles']:,}",
        f"{run['calls']:,}",
        f"{run['cache_hits']:,}",
        _tokens(run),
        _cost(run["cost"]),
        run["outcome"] or ("unfinished" if run["finished"] is None else ""),
    ]


def _call_row(call: dict[str, Any]) -> list[str]:
    return [
        _time(call["time"]),
        call["kind"],
        call["subject"],
        call["model"],
        _tokens(call),
        "-" if call["cached"] else _cost(call["cost"]),
        "cache hit" if call["cached"] else call["outcome"],
    ]


def _table(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), *rows]
    )


def _tokens(counts: dict[str, Any]) -> str:
    return (
        f"{counts['prompt_tokens']:,}/{counts['cached_tokens']:,}/{counts['completion_tokens']:,}"
    )


def _cost(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"


def _time(stamp: str) -> str:
    return stamp.replace("T", " ").rstrip("Z")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024**2:
        return f"{size / 1024:,.1f} KiB"
    return f"{size / 1024**2:,.1f} MiB"

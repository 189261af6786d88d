"""The `briefgen` command: parse options, run the pipeline, print; errors as one line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from briefgen import __version__
from briefgen._batch import DEFAULT_POLL_SECONDS, BatchProgress
from briefgen._cache import Cache
from briefgen._cli_store import register as register_state_commands
from briefgen._disk import check_writable, write_whole
from briefgen._document import Document, build
from briefgen._errors import BriefgenError, ConfigError, InputError, PartialError, StrictError
from briefgen._ingest import Article, load
from briefgen._llm import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    MODES,
    Settings,
    Usage,
    choose_mode,
)
from briefgen._pipeline import (
    DEFAULT_CONTEXT_BUDGET,
    DEFAULT_MAX_ARTICLE_TOKENS,
    Pipeline,
    Run,
)
from briefgen._prices import Price, load_prices, unknown_price_hint
from briefgen._prompts import Prompts
from briefgen._render import to_json, to_markdown
from briefgen._secrets import redact
from briefgen._verify import ArticleResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # errors are one line; --debug shows the traceback
    rich_markup_mode=None,
)

# A dummy key for replays: vcrpy answers before anything could use it.
_REPLAY_KEY = "sk-replay-no-network"


class Format(StrEnum):
    md = "md"
    json = "json"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"briefgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Turn news articles into a brief where every number and quote traces to its sentence.

    \b
    Examples:
      briefgen summarize seeds/ --replay tests/cassettes/seeds.yaml   # offline demo
      OPENAI_API_KEY=sk-... briefgen summarize articles/ -o brief.md
      briefgen summarize a.txt b.md --format json --model gpt-4o
      briefgen summarize articles/ --base-url http://localhost:11434/v1 --model llama3.1
      briefgen schema > brief.schema.json
    """


@app.command()
def summarize(
    paths: Annotated[
        list[Path], typer.Argument(help="Folders and/or .txt/.md files.", show_default=False)
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the brief here, not stdout.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="md or json.")] = Format.md,
    model: Annotated[
        str | None,
        typer.Option(
            envvar="BRIEFGEN_MODEL",
            help=f"Model name [default: {DEFAULT_MODEL}, or with --replay the recorded one].",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(envvar="OPENAI_BASE_URL", help="OpenAI-compatible endpoint URL."),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            envvar="BRIEFGEN_MODE",
            help="How the answer's shape is asked for: tools, tools-strict, json-schema, json, "
            "md-json, or auto (strict tools for OpenAI and Azure, json-schema elsewhere; "
            "a replay uses its recording's).",
        ),
    ] = "auto",
    replay: Annotated[
        Path | None,
        typer.Option(help="Run offline against a recorded run (a cassette). No key needed."),
    ] = None,
    record: Annotated[
        Path | None, typer.Option(help="Record this run's model traffic to a cassette.")
    ] = None,
    prompts: Annotated[
        Path | None, typer.Option(help="Folder with your own copies of the templates.")
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            envvar="BRIEFGEN_CONCURRENCY",
            help="Requests at once, at most; halved on each 429 and raised again as calls "
            "succeed. 16 suits OpenAI's first usage tier; 1 for a local model on a CPU.",
        ),
    ] = 16,
    context_budget: Annotated[
        int,
        typer.Option(
            min=1_000,
            envvar="BRIEFGEN_CONTEXT_BUDGET",
            help="Most prompt tokens per corpus call (tiktoken cl100k_base); past it the "
            "briefs are synthesised in parts and merged.",
        ),
    ] = DEFAULT_CONTEXT_BUDGET,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="Ask the model even for articles seen before; read and write no state "
            "(the run is not logged).",
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any item failed verification.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Count the calls and prompt tokens the run would make (cache hits are "
            "free), estimate the rest and the cost, and call nothing.",
        ),
    ] = False,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Ask the article stage through OpenAI's Batch API: half the price, answers "
            "within 24 hours (polled every BRIEFGEN_BATCH_POLL seconds, default 30). The "
            "batch is kept under BRIEFGEN_DIR: running the same command again re-attaches "
            "to it; `briefgen batch status` lists those pending.",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=1,
            envvar="BRIEFGEN_TIMEOUT",
            help="Seconds one request may take, start to finish; a request that runs out is "
            "sent once more, then its article fails.",
        ),
    ] = DEFAULT_TIMEOUT,
    max_tokens: Annotated[
        int, typer.Option(min=256, help="Most tokens the model may write in one answer.")
    ] = DEFAULT_MAX_TOKENS,
    max_article_tokens: Annotated[
        int,
        typer.Option(
            min=100,
            help="Longest article sent (tiktoken cl100k_base); a longer one is refused "
            "before any call and listed as not read.",
        ),
    ] = DEFAULT_MAX_ARTICLE_TOKENS,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="A line per finished article, and dropped items, on stderr."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Summarise articles into one brief (Markdown on stdout by default).

    \b
    Examples:
      briefgen summarize seeds/ --replay tests/cassettes/seeds.yaml
      briefgen summarize articles/ -o brief.md
      briefgen summarize articles/ --format json --strict
      briefgen summarize articles/ --record run.yaml   # then replay it offline
    """
    request = _Request(
        paths=paths,
        output=output,
        fmt=fmt,
        model=model,
        base_url=base_url,
        mode=mode,
        replay=replay,
        record=record,
        prompts=prompts,
        concurrency=concurrency,
        context_budget=context_budget,
        timeout=timeout,
        max_tokens=max_tokens,
        max_article_tokens=max_article_tokens,
        no_cache=no_cache,
        strict=strict,
        verbose=verbose,
        dry_run=dry_run,
        batch=batch,
    )
    try:
        _summarize(request)
    except BriefgenError as err:
        if debug:
            raise
        _fail(err, err.exit_code)
    except KeyboardInterrupt:
        kept = (
            " Any batch sent is kept: run the same command again to re-attach to it."
            if batch and not (no_cache or replay or record)
            else ""
        )
        _fail(InputError(f"interrupted; verified article briefs so far are cached.{kept}"), 130)
    except Exception as err:  # an error we did not foresee: still one line unless --debug
        if debug:
            raise
        _fail(err, 1, hint=" (rerun with --debug for the traceback)")


@dataclass(frozen=True)
class _Request:
    """Everything `summarize` was asked to do, as the options gave it."""

    paths: list[Path]
    output: Path | None
    fmt: Format
    model: str | None
    base_url: str | None
    mode: str
    replay: Path | None
    record: Path | None
    prompts: Path | None
    concurrency: int
    context_budget: int
    timeout: float
    max_tokens: int
    max_article_tokens: int
    no_cache: bool
    strict: bool
    verbose: bool
    dry_run: bool = False
    batch: bool = False


def _fail(err: BaseException, code: int, hint: str = "") -> None:
    message = redact(str(err), [os.environ.get("OPENAI_API_KEY") or ""])
    typer.echo(f"briefgen: {type(err).__name__}: {message}{hint}", err=True)
    raise typer.Exit(code)


def _warn(message: str) -> None:
    typer.echo(f"briefgen: warning: {message}", err=True)


def _settings(request: _Request) -> Settings:
    """How to reach the model; ConfigError if there is no way to."""
    if request.mode not in {"auto", *MODES}:
        raise InputError(f"--mode {request.mode} is not one of auto, {', '.join(MODES)}.")
    api_key = os.environ.get("OPENAI_API_KEY") or None
    # Azure OpenAI: its own key and endpoint, the API version, and --model the deployment.
    azure = os.environ.get("AZURE_OPENAI_ENDPOINT") if not request.base_url else None
    version = os.environ.get("OPENAI_API_VERSION")
    if azure:
        api_key = os.environ.get("AZURE_OPENAI_API_KEY") or None
        if not api_key or not version:
            missing = [
                n
                for n, v in [("AZURE_OPENAI_API_KEY", api_key), ("OPENAI_API_VERSION", version)]
                if not v
            ]
            raise ConfigError(
                f"AZURE_OPENAI_ENDPOINT is set but {' and '.join(missing)} is not; set it "
                "(e.g. OPENAI_API_VERSION=2024-10-21), or unset AZURE_OPENAI_ENDPOINT."
            )
        if not request.model:
            raise ConfigError(
                "with Azure OpenAI, pass --model DEPLOYMENT (your deployment's name)."
            )
    model = request.model
    mode, why = choose_mode(request.mode, request.base_url, bool(azure))
    if request.replay:
        from briefgen._replay import recorded_mode, recorded_model

        if not request.replay.is_file():
            raise InputError(
                f"recording {request.replay} does not exist; give a cassette from --record."
            )
        model = model or recorded_model(request.replay)
        if request.mode == "auto":
            mode, why = recorded_mode(request.replay), "the recording's"
        # Replays never reach the network: nothing is sent with this key or to this URL.
        api_key = _REPLAY_KEY
    elif not api_key and not request.base_url and not request.dry_run:  # a dry run asks nothing
        raise ConfigError(
            "no model to ask: set OPENAI_API_KEY, pass --base-url for a local endpoint, "
            "set AZURE_OPENAI_ENDPOINT for Azure, or pass --replay CASSETTE to run a recorded "
            "run offline."
        )
    if request.mode == "auto":
        typer.echo(f"briefgen: mode {mode} ({why})", err=True)
    return Settings(
        model=model or DEFAULT_MODEL,
        base_url=None if azure else request.base_url,
        api_key=api_key or "sk-no-key-needed",
        timeout=request.timeout,
        max_tokens=request.max_tokens,
        mode=mode,
        azure_endpoint=azure,
        api_version=version if azure else None,
    )


def _check_writable(path: Path, what: str) -> None:
    """InputError, before anything is paid for, if `path` cannot be written."""
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give a file name.")
    try:
        check_writable(path.parent)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as err:
        raise InputError(
            f"{what} {path} cannot be written ({err.strerror or err}); choose another path."
        ) from err


def _summarize(request: _Request) -> None:
    if request.replay and request.record:
        raise InputError("--replay and --record exclude each other; give one.")
    settings = _settings(request)
    if request.replay and not request.batch and not request.dry_run:
        from briefgen._replay import recorded_batch

        if recorded_batch(request.replay):  # a replay asks the way its recording did
            typer.echo("briefgen: --batch (the recording's)", err=True)
            request = dataclasses.replace(request, batch=True)
    started = time.monotonic()
    # Recording and replaying must see every call, so they bypass the cache; a replay calls
    # nothing, so it is not logged either.
    # --no-cache touches no state at all (so it is the way round an unwritable BRIEFGEN_DIR).
    bypass = request.no_cache or request.replay or request.record
    store = None if request.replay or request.no_cache else Cache()
    cache = None if bypass else store
    # Preflight: every path this run will write is checked before anything is paid for.
    if request.output:
        _check_writable(request.output, "output")
    if request.record:
        _check_writable(request.record, "recording")
    if store is not None:
        store.check()
    prices = load_prices()
    excluded = [p for p in (request.output, request.record) if p]
    articles = load(request.paths, exclude=excluded, warn=_warn)
    if request.verbose:
        for article in articles:
            typer.echo(f"briefgen: {_cleaning_report(article)}", err=True)
    prompts = Prompts(request.prompts)
    if request.batch and (request.no_cache or request.record) and not request.dry_run:
        _warn(
            f"{'--no-cache' if request.no_cache else '--record'} keeps no state, so the batch "
            "is not kept: if this run is interrupted, running it again sends (and pays for) "
            "a new batch"
        )
    if request.dry_run:
        _dry_run(request, settings, prompts, cache, articles, prices)
        return
    run = _run_with_progress(request, settings, prompts, cache, articles, store, prices)
    document = build(run.result)
    text = to_json(document) if request.fmt is Format.json else to_markdown(document)
    if request.output:
        write_whole(request.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    for failed in document.failed:
        typer.echo(f"briefgen: failed: {failed.file}: {failed.reason}", err=True)
    for failure in document.incomplete:
        typer.echo(f"briefgen: failed: {failure}", err=True)
    _report(run, document, settings.model, prices, time.monotonic() - started, request.verbose)
    if document.failed or document.incomplete:
        parts = []
        if document.failed:
            total = len(document.failed) + len(document.articles)
            parts.append(f"{len(document.failed)} of {total} articles could not be read")
        if document.incomplete:
            parts.append(f"{len(document.incomplete)} corpus calls failed")
        again = (
            "run the same command again to ask only about those"
            if cache is not None
            else "nothing was cached (--no-cache, --record or --replay), so a rerun asks "
            "about every article again"
        )
        raise PartialError(f"brief written, but {' and '.join(parts)} (each named above); {again}.")
    if request.strict and document.verification.dropped:
        raise StrictError(
            f"{len(document.verification.dropped)} items failed verification "
            "(see --verbose or the JSON output); the brief was still written."
        )


def _run_with_progress(
    request: _Request,
    settings: Settings,
    prompts: Prompts,
    cache: Cache | None,
    articles: list[Article],
    store: Cache | None = None,
    prices: Mapping[str, Price] | None = None,
) -> Run:
    from rich.console import Console
    from rich.progress import (  # only the CLI draws progress
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from briefgen._replay import recording, replaying

    tape: AbstractContextManager[None] = nullcontext()
    if request.replay:
        tape = replaying(request.replay)
    elif request.record:
        tape = recording(request.record, secrets=[settings.api_key or ""])
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        transient=True,
        console=console,
        disable=not console.is_terminal,
    )
    # The bar counts articles done of all; beside it, failures, retries and re-asks as they
    # happen (so a slow or flaky endpoint still shows life) and the time so far.
    task = bar.add_task("Articles", total=len(articles), status="")
    tally = {"failed": 0, "retry": 0, "reask": 0, "throttle": 0}

    def show() -> None:
        parts = [f"{tally['failed']} failed", f"{tally['retry']} retries"]
        parts += [f"{tally['reask']} re-asks"] if tally["reask"] else []
        parts += ["slowed for rate limits"] if tally["throttle"] else []
        bar.update(task, status=", ".join(parts))

    def listener(event: str) -> None:
        if event in tally:
            tally[event] += 1
            show()

    def done(result: ArticleResult, seconds: float) -> None:
        tally["failed"] += result.failure is not None
        bar.advance(task)
        show()
        if request.verbose:
            if result.failure:
                line = f"failed ({result.failure})"
            else:
                line = f"{result.verified()} verified, {len(result.dropped)} dropped"
            console.print(
                f"briefgen: {result.article.name}: {line}, {seconds:.1f}s",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    bars: dict[str, Any] = {}  # per batch: its task on the bar
    statuses: dict[str, str] = {}  # and the status last shown

    def batch_listener(progress: BatchProgress) -> None:
        """A line when a batch is created, re-attached to, or changes status; its counts on
        the bar."""
        if progress.batch_id not in bars:
            bars[progress.batch_id] = bar.add_task(
                f"Batch {progress.batch_id}", total=progress.total or None, status=""
            )
            what = "re-attached to" if progress.attached else "sent"
            size = f", {progress.total} requests" if progress.total else ""
            line = f"{what} batch {progress.batch_id} ({progress.status}{size})"
        elif progress.status != statuses.get(progress.batch_id):
            line = (
                f"batch {progress.batch_id}: {progress.status}, {progress.completed} of "
                f"{progress.total} answered, {progress.failed} failed"
            )
        else:
            line = ""
        statuses[progress.batch_id] = progress.status
        bar.update(
            bars[progress.batch_id],
            completed=progress.completed + progress.failed,
            total=progress.total or None,
            status=progress.status,
        )
        if line:
            console.print(f"briefgen: {line}", markup=False, highlight=False, soft_wrap=True)

    pipeline = _pipeline(
        request,
        settings,
        prompts,
        cache,
        listener=listener,
        done=done,
        warn=_warn,
        log=store,
        prices=prices,
        batch_listener=batch_listener,
    )
    with tape, bar:
        return asyncio.run(pipeline.run(articles))


def _cleaning_report(article: Article) -> str:
    """One line on how an article was read: lines kept, lines removed by reason, metadata."""
    removed = article.cleaning.by_reason()
    reasons = ", ".join(f"{reason} {count}" for reason, count in removed.items())
    meta = article.meta
    found = [
        f"{name} {f.value!r} ({f.source})"
        for name, f in (
            ("headline", meta.title),
            ("date", meta.date),
            ("byline", meta.byline),
            ("outlet", meta.outlet),
        )
        if f is not None
    ]
    return (
        f"read {article.name}: {article.cleaning.kept} lines kept, "
        f"{sum(removed.values())} removed{f' ({reasons})' if reasons else ''}; "
        f"{len(article.sentences)} sentences; metadata: {'; '.join(found) or 'none found'}"
    )


def _report(
    run: Run,
    document: Document,
    model: str,
    prices: Mapping[str, Price],
    seconds: float,
    verbose: bool,
) -> None:
    u = run.usage
    cost = u.cost(model, prices)
    shown = f"${cost:.4f}" if cost is not None else "unknown for this model"
    levels = f" in {u.levels} corpus levels" if u.levels > 1 else ""
    failed = f", {len(document.failed)} failed" if document.failed else ""
    cached = (
        f" ({u.cached_tokens} prompt tokens from the provider's cache)" if u.cached_tokens else ""
    )
    if u.batched:
        cached += (
            f" ({u.batched} answers from the Batch API, {u.batch_prompt_tokens}+"
            f"{u.batch_completion_tokens} tokens at the batch price)"
        )
    if u.batch_kept:
        cached += f" ({u.batch_kept} answers a batch gave an earlier run, counted then)"
    typer.echo(
        f"briefgen: {len(document.articles)} articles{failed}, {u.calls} calls{levels}, "
        f"{u.reasks} re-asks, {u.retries} retries, "
        f"{u.cache_hits} cache hits, {u.prompt_tokens}+{u.completion_tokens} tokens{cached}, "
        f"cost {shown}, {document.verification.verified} items verified, "
        f"{len(document.verification.dropped)} dropped, {seconds:.1f}s",
        err=True,
    )
    if cost is None and u.calls:
        typer.echo(f"briefgen: {unknown_price_hint(model)}", err=True)
    if verbose:
        for d in document.verification.dropped:
            typer.echo(f"briefgen: dropped {d.where}: {d.reason}", err=True)


def _pipeline(
    request: _Request, settings: Settings, prompts: Prompts, cache: Cache | None, **more: Any
) -> Pipeline:
    """The pipeline the options describe."""
    return Pipeline(
        settings,
        prompts=prompts,
        cache=cache,
        concurrency=request.concurrency,
        context_budget=request.context_budget,
        max_article_tokens=request.max_article_tokens,
        batch=request.batch,
        poll_seconds=0.0 if request.replay else _poll_seconds(),
        **more,
    )


def _poll_seconds() -> float:
    """Seconds between looks at a running batch: BRIEFGEN_BATCH_POLL, else 30."""
    given = os.environ.get("BRIEFGEN_BATCH_POLL")
    if not given:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600 or seconds != seconds:
        raise InputError(f"BRIEFGEN_BATCH_POLL={given!r} is not a number of seconds (0-3600).")
    return seconds


def _dry_run(
    request: _Request,
    settings: Settings,
    prompts: Prompts,
    cache: Cache | None,
    articles: list[Article],
    prices: Mapping[str, Price],
) -> None:
    """Print what the run would ask and cost; call nothing, write nothing."""
    e = _pipeline(request, settings, prompts, cache).estimate(articles)
    usage = Usage(prompt_tokens=e.prompt_tokens, completion_tokens=e.completion_tokens)
    if request.batch:  # the article calls at the Batch API's price, the corpus step not
        usage.batch_prompt_tokens = e.article_prompt_tokens
        usage.batch_completion_tokens = e.article_completion_tokens
    cost = usage.cost(settings.model, prices)
    shown = f"about ${cost:.4f}" if cost is not None else "unknown for this model"
    kept = f", {e.in_batches} in a batch already sent" if e.in_batches else ""
    how = " through the Batch API" if request.batch else ""
    priced = " (article calls at the batch price)" if request.batch else ""
    typer.echo(
        f"briefgen: dry run: {e.articles} articles, {e.cache_hits} answered by the cache{kept}; "
        f"{e.calls} article calls{how} and about {e.corpus_calls} corpus calls; "
        f"{e.prompt_tokens:,} prompt tokens (article calls counted, corpus estimated), "
        f"about {e.completion_tokens:,} completion tokens; cost {shown}{priced} with "
        f"{settings.model}; nothing was called",
        err=True,
    )
    if cost is None:
        typer.echo(f"briefgen: {unknown_price_hint(settings.model)}", err=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of `summarize --format json`."""
    typer.echo(json.dumps(Document.model_json_schema(), indent=2))


register_state_commands(app)


def main() -> None:
    app()

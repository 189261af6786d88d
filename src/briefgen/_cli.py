"""The `briefgen` command: parse options, run the pipeline, print; errors as one line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from briefgen import __version__
from briefgen._cache import Cache
from briefgen._corpus import Article, load
from briefgen._document import Document, build
from briefgen._errors import BriefgenError, ConfigError, InputError, StrictError
from briefgen._llm import DEFAULT_MODEL, Settings
from briefgen._pipeline import DEFAULT_CONTEXT_BUDGET, Pipeline, Run
from briefgen._prompts import Prompts
from briefgen._render import to_json, to_markdown

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
        int, typer.Option(min=1, max=64, help="Articles asked about at once.")
    ] = 4,
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
        bool, typer.Option("--no-cache", help="Ask the model even for articles seen before.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 if any item failed verification.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List dropped items on stderr.")
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
    try:
        _summarize(
            paths,
            output,
            fmt,
            model,
            base_url,
            replay,
            record,
            prompts,
            concurrency,
            context_budget,
            no_cache,
            strict,
            verbose,
        )
    except BriefgenError as err:
        if debug:
            raise
        _fail(err, err.exit_code)
    except KeyboardInterrupt:
        _fail(InputError("interrupted."), 130)
    except Exception as err:  # an error we did not foresee: still one line unless --debug
        if debug:
            raise
        _fail(err, 1, hint=" (rerun with --debug for the traceback)")


def _fail(err: BaseException, code: int, hint: str = "") -> None:
    typer.echo(f"briefgen: {type(err).__name__}: {err}{hint}", err=True)
    raise typer.Exit(code)


def _summarize(
    paths: list[Path],
    output: Path | None,
    fmt: Format,
    model: str | None,
    base_url: str | None,
    replay: Path | None,
    record: Path | None,
    prompts_dir: Path | None,
    concurrency: int,
    context_budget: int,
    no_cache: bool,
    strict: bool,
    verbose: bool,
) -> None:
    if replay and record:
        raise InputError("--replay and --record exclude each other; give one.")
    api_key = os.environ.get("OPENAI_API_KEY") or None
    if replay:
        from briefgen._replay import recorded_model

        if not replay.is_file():
            raise InputError(f"recording {replay} does not exist; give a cassette from --record.")
        model = model or recorded_model(replay)
        # Replays never reach the network: nothing is sent with this key or to this URL.
        api_key = _REPLAY_KEY
    elif not api_key and not base_url:
        raise ConfigError(
            "no model to ask: set OPENAI_API_KEY, pass --base-url for a local endpoint, "
            "or pass --replay CASSETTE to run a recorded run offline."
        )
    model = model or DEFAULT_MODEL
    started = time.monotonic()
    articles = load(paths)
    prompts = Prompts(prompts_dir)
    # Recording and replaying must see every call, so they bypass the cache.
    cache = None if (no_cache or replay or record) else Cache()
    settings = Settings(
        model=model,
        base_url=base_url,
        api_key=api_key or "sk-no-key-needed",
        http_retries=0 if replay else 3,
    )
    pipeline = Pipeline(
        settings,
        prompts=prompts,
        cache=cache,
        concurrency=concurrency,
        context_budget=context_budget,
    )
    run = _run_with_progress(pipeline, articles, replay, record)
    document = build(run.result)
    text = to_json(document) if fmt is Format.json else to_markdown(document)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    _report(run, document, model, time.monotonic() - started, verbose)
    if strict and document.verification.dropped:
        raise StrictError(
            f"{len(document.verification.dropped)} items failed verification "
            "(see --verbose or the JSON output); the brief was still written."
        )


def _run_with_progress(
    pipeline: Pipeline, articles: list[Article], replay: Path | None, record: Path | None
) -> Run:
    from rich.progress import Progress  # only the CLI draws progress

    from briefgen._replay import recording, replaying

    tape: AbstractContextManager[None] = nullcontext()
    if replay:
        tape = replaying(replay)
    elif record:
        tape = recording(record)
    from rich.console import Console

    console = Console(stderr=True)
    with tape:
        if not console.is_terminal:  # logs and pipes get the one usage line and nothing else
            return asyncio.run(pipeline.run(articles))
        with Progress(transient=True, console=console) as bar:
            task = bar.add_task("Reading articles", total=len(articles) + 1)
            return asyncio.run(pipeline.run(articles, progress=lambda _: bar.advance(task)))


def _report(run: Run, document: Document, model: str, seconds: float, verbose: bool) -> None:
    u = run.usage
    cost = u.cost(model)
    shown = f"${cost:.4f}" if cost is not None else "unknown for this model"
    levels = f" in {u.levels} corpus levels" if u.levels > 1 else ""
    typer.echo(
        f"briefgen: {len(document.articles)} articles, {u.calls} calls{levels}, "
        f"{u.reasks} re-asks, "
        f"{u.cache_hits} cache hits, {u.prompt_tokens}+{u.completion_tokens} tokens, "
        f"cost {shown}, {document.verification.verified} items verified, "
        f"{len(document.verification.dropped)} dropped, {seconds:.1f}s",
        err=True,
    )
    if verbose:
        for d in document.verification.dropped:
            typer.echo(f"briefgen: dropped {d.where}: {d.reason}", err=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of `summarize --format json`."""
    typer.echo(json.dumps(Document.model_json_schema(), indent=2))


def main() -> None:
    app()

"""The only module that talks to openai and instructor: one structured answer, with usage.

Everything that reaches the model goes through `Extractor.ask`. instructor renders messages
through Jinja whenever it is given a validation context, so it is given none: the context
the validators need is set for the asking task (`briefgen._context`), and article or model
text containing `{{ }}` or `{% %}` reaches the model verbatim, never rendered (and no
template is compiled per call).

Who retries what:
- the openai client retries 429, 5xx and connection errors (`http_retries`, honouring
  Retry-After);
- `_Deadline`, the HTTP transport under it, bounds every request from its start to the last
  byte of its answer (a server trickling bytes cannot hold a run), lets a request that timed
  out be sent once more and no more, and counts every request actually sent;
- `Extractor.ask` re-asks an answer that fails validation (`reasks`), always from the
  original two messages plus the last answer and its errors, so a re-ask cannot grow; a
  body that is not a chat completion is sent once more.
What retrying cannot fix ends the question with an `Outcome` saying why (the article fails
alone); what no question can survive (a refused key, a wrong URL or model, no server) is a
`ModelError` that ends the run.

openai and instructor are imported when a client is built, not at import time, so that
`briefgen` answers a usage error within a fraction of a second.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from briefgen._context import asking as validating
from briefgen._errors import BriefgenError, ModelError, ReplayMissError
from briefgen._prices import DEFAULT_PRICES, Price, cost, price_for
from briefgen._secrets import redact, redact_url

M = TypeVar("M", bound=BaseModel)

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Seconds one request may take from sending to the last byte of the answer. A 128k-context
# hosted model writes a long brief in well under a minute; a local model on a CPU needs more.
DEFAULT_TIMEOUT = 120.0
# Completion tokens a call may use: the most gpt-4o and gpt-4o-mini can write, about twelve
# times the longest seed article's brief and room for a corpus answer over a full budget.
DEFAULT_MAX_TOKENS = 16_384
_ERRORS_SHOWN = 40  # validation errors sent back in one re-ask, so a re-ask stays bounded
_ERROR_CHARS = 6_000
_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?length|context window|maximum context|too many tokens|prompt is too long|"
    r"input is too long|exceeds? the (?:model'?s? )?(?:maximum|context)|n_ctx|"
    r"requested \d+ tokens",
    re.IGNORECASE,
)
_REFUSAL = re.compile(r"^Unable to generate a response due to (?P<words>.*)$", re.DOTALL)


@dataclass
class Usage:
    """What the calls cost: counted across re-asks and retries, summed across articles."""

    calls: int = 0  # HTTP requests actually sent, whatever came of them
    reasks: int = 0
    retries: int = 0  # requests sent again after a 429, 5xx, timeout or unusable body
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens the provider served from its prompt cache
    completion_tokens: int = 0
    cache_hits: int = 0
    levels: int = 1  # corpus synthesis levels: 2 or more when the briefs exceeded the budget
    # Answers that came through a Batch API, and their tokens: a part of the totals above,
    # billed at the batch price.
    batched: int = 0
    batch_prompt_tokens: int = 0
    batch_completion_tokens: int = 0
    batch_kept: int = 0  # answers an earlier run downloaded (and counted): not counted again

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.reasks += other.reasks
        self.retries += other.retries
        self.prompt_tokens += other.prompt_tokens
        self.cached_tokens += other.cached_tokens
        self.completion_tokens += other.completion_tokens
        self.cache_hits += other.cache_hits
        self.batched += other.batched
        self.batch_kept += other.batch_kept
        self.batch_prompt_tokens += other.batch_prompt_tokens
        self.batch_completion_tokens += other.batch_completion_tokens

    def cost(self, model: str, prices: Mapping[str, Price] | None = None) -> float | None:
        """USD, with prompt-cache tokens and batch answers at their own prices; None for a
        model with no known price."""
        price = price_for(model, DEFAULT_PRICES if prices is None else prices)
        if price is None:
            return None
        standard = cost(
            price,
            prompt_tokens=self.prompt_tokens - self.batch_prompt_tokens,
            cached_tokens=self.cached_tokens,
            completion_tokens=self.completion_tokens - self.batch_completion_tokens,
        )
        return standard + cost(
            price,
            prompt_tokens=self.batch_prompt_tokens,
            completion_tokens=self.batch_completion_tokens,
            batch=True,
        )


@dataclass
class Answer:
    """A validated answer; or the answers that failed validation (newest last), for item-by-
    item salvage, and `failure`: why no valid answer came."""

    parsed: BaseModel | None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    failure: str | None = None
    kind: str | None = None  # "invalid" (re-asks ran out), "too_long" or "failed"


@dataclass(frozen=True)
class Settings:
    """How to reach the model."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = None
    reasks: int = 2
    http_retries: int = 3
    timeout: float = DEFAULT_TIMEOUT
    max_tokens: int = DEFAULT_MAX_TOKENS
    mode: str = "tools"  # one of MODES; `choose_mode` turns "auto" into one
    azure_endpoint: str | None = None  # Azure OpenAI: the resource's endpoint ...
    api_version: str | None = None  # ... and the API version; `model` is the deployment

    @property
    def url(self) -> str:
        """The endpoint as errors may show it: no user info, no key in the query."""
        return redact_url(self.azure_endpoint or self.base_url or DEFAULT_BASE_URL)


# How the answer's shape is asked for (instructor's modes): as a tool call, a strict tool
# call (OpenAI checks the schema), a `response_format` JSON Schema (OpenAI's structured
# outputs; vLLM, llama.cpp, Ollama and LM Studio enforce it with a grammar), JSON mode, or
# JSON in a Markdown block with the schema in the prompt.
MODES = {
    "tools": "TOOLS",
    "tools-strict": "TOOLS",  # and the tool marked strict (`_as_sent`)
    "json-schema": "JSON_SCHEMA",
    "json": "JSON",
    "md-json": "MD_JSON",
}
_STRICT_MODES = {"tools-strict", "json-schema"}
_OPENAI_HOSTS = re.compile(r"^https://(?:api\.openai\.com|[\w.-]+\.openai\.azure\.com)(?:/|$)")


def choose_mode(mode: str, base_url: str | None, azure: bool) -> tuple[str, str]:
    """The mode to use, and why: `mode` itself unless it is "auto", which takes strict tool
    calls where OpenAI checks the schema (api.openai.com, Azure) and a JSON Schema
    `response_format` elsewhere — servers for local models enforce it with a grammar, and
    many run tool calls through chat templates that small models follow badly."""
    if mode != "auto":
        return mode, f"--mode {mode}"
    if azure or base_url is None or _OPENAI_HOSTS.match(base_url):
        return "tools-strict", "OpenAI checks strict tool schemas"
    return "json-schema", "a server other than OpenAI's: the schema goes as response_format"


Listener = Callable[[str], None]  # told "call", "retry", "reask" or "throttle" as they happen

# The usage of the question being asked in this task, for the transport to count requests.
_asking: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("asking", default=None)
# Set while a request is being built for a batch: the transport keeps its body, sends nothing.
_capturing: contextvars.ContextVar[list[bytes] | None] = contextvars.ContextVar(
    "capturing", default=None
)


@dataclass
class _Outcome:
    """One failed attempt: what to send back (if a re-ask can help) or why to stop."""

    failure: str
    reask: str | None = None  # the errors to send back, if re-asking can help (kind "invalid")
    retry: bool = False  # send the same messages again: the body was not a chat completion
    raw: dict[str, Any] | None = None
    message: Any = None  # the assistant message that failed, for the re-ask

    @property
    def kind(self) -> str:
        if self.reask is not None:
            return "invalid"
        return "too_long" if self.failure.startswith("too long") else "failed"


class AdaptiveLimit:
    """How many requests may be in flight, fitted to the endpoint: halved on each 429, and
    raised by one again after as many successes in a row as the limit (additive increase,
    multiplicative decrease), never above the `--concurrency` asked for. A rate-limited run
    thus backs off as a whole instead of every task retrying at full width."""

    def __init__(self, most: int, listener: Listener) -> None:
        self.most = self.limit = max(1, most)
        self.listener = listener
        self.active = 0
        self._successes = 0
        self._freed = asyncio.Condition()

    async def __aenter__(self) -> None:
        async with self._freed:
            await self._freed.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._freed:
            self.active -= 1
            self._freed.notify_all()

    def throttled(self) -> None:
        if self.limit > 1:
            self.limit = max(1, self.limit // 2)
            self.listener("throttle")
        self._successes = 0

    async def succeeded(self) -> None:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.most:
            self.limit += 1
            self._successes = 0
            async with self._freed:
                self._freed.notify_all()


def _transport_classes() -> tuple[type[Any], type[Exception], type[Any]]:
    """The deadline transport, the error it raises for an endpoint that answers nothing, and
    the transport above it that answers from a batch (built on first use: httpx2 and openai
    are imported only when a run starts)."""
    import httpx2
    import openai

    class EndpointSilent(openai.APITimeoutError):
        """Every request so far timed out: the endpoint is stalled, not slow."""

    class NotRecorded(openai.APIConnectionError):
        """A replay lacks this request: sending it again cannot help (an OpenAIError, which
        the client does not retry)."""

    class Deadline(httpx2.AsyncBaseTransport):
        """Bounds each request start to finish, counts it, and lets a timed-out one be sent
        once more only."""

        def __init__(
            self,
            inner: Any,
            timeout: float,
            listener: Listener,
            limit: AdaptiveLimit,
            mode: str = "tools",
        ) -> None:
            self.inner = inner
            self.mode = mode
            self.timeout = timeout
            self.listener = listener
            self.limit = limit
            self.timed_out: set[str] = set()
            self.answered = 0

        async def handle_async_request(self, request: Any) -> Any:
            await request.aread()  # a multipart upload streams: it is hashed below
            request = _as_sent(request, self.mode)
            usage = _asking.get()
            if usage is not None:
                usage.calls += 1
                if request.headers.get("x-stainless-retry-count", "0") != "0":
                    usage.retries += 1
            if request.headers.get("x-stainless-retry-count", "0") != "0":
                self.listener("retry")
            # What was asked: every GET has an empty body, so the URL is part of it.
            key = hashlib.sha256(
                f"{request.method} {request.url}\n".encode() + request.content
            ).hexdigest()
            try:
                async with self.limit, asyncio.timeout(_seconds_for(request, self.timeout)):
                    response = await self.inner.handle_async_request(request)
                    try:
                        body = await response.aread()  # decoded: the encoding goes below
                    finally:
                        await response.aclose()
            except TimeoutError as err:
                if key in self.timed_out:  # the resend timed out too
                    stalled = EndpointSilent if not self.answered else openai.APITimeoutError
                    raise stalled(request=request) from err  # an OpenAIError: not retried
                self.timed_out.add(key)
                raise httpx2.ReadTimeout("no complete answer in time", request=request) from err
            except Exception as err:
                if type(err).__name__ == "CannotOverwriteExistingCassetteException":
                    raise NotRecorded(request=request) from err
                raise
            finally:
                self.listener("call")
            self.answered += 1
            if response.status_code == 429:
                self.limit.throttled()
            elif response.status_code < 400:
                await self.limit.succeeded()
            headers = [
                (k, v)
                for k, v in response.headers.multi_items()
                if k.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
            ]
            return httpx2.Response(
                response.status_code,
                headers=headers,
                content=body,
                extensions=response.extensions,
                request=request,
            )

        async def aclose(self) -> None:
            await self.inner.aclose()

    class Answered(httpx2.AsyncBaseTransport):
        """Above the deadline: keeps a request's body instead of sending it while one is
        being built for a batch (`_capturing`), and answers a request a batch has already
        answered with that answer, its tokens counted at the batch price."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner
            # sha256 of the body: the answer, and whether its tokens count in this run
            self.stored: dict[str, tuple[dict[str, Any], bool]] = {}

        async def handle_async_request(self, request: Any) -> Any:
            await request.aread()
            captured = _capturing.get()
            if captured is not None:
                captured.append(request.content)
                return httpx2.Response(418, json={"error": {"message": "kept"}}, request=request)
            # Kept, not used up: the same article twice in a run is one request in the batch.
            stored = self.stored.get(hashlib.sha256(request.content).hexdigest())
            if stored is None:
                return await self.inner.handle_async_request(request)
            body, paid = dict(stored[0]), stored[1]
            spent = Usage()
            _add_usage(spent, _Tokens(body.pop("usage", None)))
            usage = _asking.get()
            if usage is not None and not paid:
                usage.batch_kept += 1
            elif usage is not None:
                usage.batched += 1
                usage.prompt_tokens += spent.prompt_tokens
                usage.completion_tokens += spent.completion_tokens
                usage.batch_prompt_tokens += spent.prompt_tokens
                usage.batch_completion_tokens += spent.completion_tokens
            return httpx2.Response(200, json=body, request=request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    return Deadline, EndpointSilent, Answered


def _seconds_for(request: Any, timeout: float) -> float:
    """How long `request` may take: `timeout`, or longer where the caller asked for a longer
    one (a Batch API file upload or download, which can run to hundreds of megabytes)."""
    asked = request.extensions.get("timeout")
    if isinstance(asked, dict):
        longest = max((v for v in asked.values() if isinstance(v, int | float)), default=0)
        return max(timeout, float(longest))
    return timeout


class _Tokens:
    """A usage block as a chat completion's JSON holds it, read like the client's object."""

    def __init__(self, data: Any) -> None:
        data = data if isinstance(data, dict) else {}
        self.prompt_tokens = data.get("prompt_tokens")
        self.completion_tokens = data.get("completion_tokens")
        self.prompt_tokens_details = None


class Extractor:
    """Asks the model for a pydantic model, re-asking with validation errors."""

    def __init__(
        self,
        settings: Settings,
        transport: Any = None,
        listener: Listener | None = None,
        concurrency: int = 16,
    ) -> None:
        # instructor logs every failed attempt at ERROR; briefgen reports failures itself,
        # in one line, and its logs must never echo request contents.
        logging.getLogger("instructor").setLevel(logging.CRITICAL)
        self.settings = settings
        self.listener: Listener = listener or (lambda _: None)
        self._transport = transport
        self.concurrency = concurrency
        self.limit: AdaptiveLimit | None = None
        self._client: Any = None
        self.openai: Any = None  # the openai client under instructor, for the Batch API
        self._answered: Any = None
        self._http: Any = None
        self._silent: type[Exception] = Exception
        self._secrets = [settings.api_key] if settings.api_key else []

    async def __aenter__(self) -> Extractor:
        """Open the connection pool for one run (an event loop's worth of calls)."""
        import httpx2
        import instructor
        import openai

        _check_models_once()
        deadline, self._silent, answered = _transport_classes()
        inner = self._transport or httpx2.AsyncHTTPTransport()
        self.limit = AdaptiveLimit(self.concurrency, self.listener)
        self._answered = answered(
            deadline(
                inner,
                self.settings.timeout,
                self.listener,
                self.limit,
                mode=self.settings.mode,
            )
        )
        self._http = httpx2.AsyncClient(transport=self._answered, timeout=self.settings.timeout)
        client: Any
        if self.settings.azure_endpoint:
            client = openai.AsyncAzureOpenAI(
                api_key=self.settings.api_key,
                azure_endpoint=self.settings.azure_endpoint,
                api_version=self.settings.api_version,
                max_retries=self.settings.http_retries,
                timeout=self.settings.timeout,
                http_client=self._http,
            )
        else:
            client = openai.AsyncOpenAI(
                api_key=self.settings.api_key,
                base_url=self.settings.base_url,
                max_retries=self.settings.http_retries,
                timeout=self.settings.timeout,
                http_client=self._http,
            )
        mode = getattr(instructor.Mode, MODES[self.settings.mode])
        self.openai = client
        self._client = instructor.from_openai(client, mode=mode)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        self._client = self._http = self.openai = self._answered = None

    async def request_body(self, response_model: type[BaseModel], system: str, user: str) -> bytes:
        """The exact body `ask` sends first for these messages, built by the same client and
        sent nowhere: a Batch API request, and the key its answer is served under."""
        captured: list[bytes] = []
        token = _capturing.set(captured)
        try:
            await self._create(response_model, _first_messages(system, user))
        except Exception:  # the kept request is answered with an error on purpose
            pass
        finally:
            _capturing.reset(token)
        if not captured:
            raise ModelError("could not build the batch request (the client sent nothing)")
        return captured[0]

    def answer_from_batch(self, body: bytes, answer: dict[str, Any], paid: bool = True) -> None:
        """Answer the request `body` with `answer` (a chat completion a batch returned) when
        it is asked; `paid`: its tokens count in this run's cost (False for an answer an
        earlier run downloaded, and counted)."""
        assert self._answered is not None, "outside `async with extractor`"
        self._answered.stored[hashlib.sha256(body).hexdigest()] = (answer, paid)

    def batch_body(self, body: bytes) -> dict[str, Any]:
        """`body` as the Batch API is to send it: the request as this mode sends it."""
        data: dict[str, Any] = json.loads(body)
        _rewrite(data, self.settings.mode)
        return data

    async def _create(self, response_model: type[BaseModel], messages: list[Any]) -> Any:
        return await self._client.create_with_completion(
            model=self.settings.model,
            messages=messages,
            response_model=_response_schema(response_model, self.settings.mode in _STRICT_MODES),
            max_retries=0,  # re-asks are ours: bounded, and they keep the best answer
            temperature=0,
            **self._limit(),
        )

    async def ask(
        self,
        response_model: type[M],
        system: str,
        user: str,
        context: dict[str, Any],
        label: str,
    ) -> Answer:
        """One structured answer; `label` names what is asked about in run-ending errors."""
        usage = Usage()
        _asking.set(usage)
        validating.set(context)  # what the validators check against, for this task only
        base = _first_messages(system, user)
        messages, retried = base, False
        candidates: list[dict[str, Any]] = []
        while True:
            try:
                parsed, completion = await self._create(response_model, messages)
            except Exception as err:  # classified below: what ends the run is raised there
                outcome = self._outcome(err, label, usage)
                # The endpoint's and the model's words are shown to the user: never a key.
                outcome.failure = redact(outcome.failure, self._secrets)
            else:
                _add_usage(usage, getattr(completion, "usage", None))
                return Answer(parsed=parsed, candidates=candidates, usage=usage)
            if outcome.raw is not None:
                candidates.append(outcome.raw)
            if outcome.retry and not retried:
                retried = True
                usage.retries += 1
                self.listener("retry")
                continue
            if outcome.reask is None or usage.reasks >= self.settings.reasks:
                return Answer(None, candidates, usage, outcome.failure, outcome.kind)
            usage.reasks += 1
            self.listener("reask")
            errors = _reask_text(outcome.reask, usage.reasks, self.settings.reasks)
            messages = [*base, *_reask_messages(outcome, errors)]

    def _limit(self) -> dict[str, int]:
        # OpenAI's reasoning models refuse max_tokens and take max_completion_tokens; every
        # OpenAI-compatible server takes max_tokens.
        if re.match(r"^(o\d|gpt-5)", self.settings.model):
            return {"max_completion_tokens": self.settings.max_tokens}
        return {"max_tokens": self.settings.max_tokens}

    def _outcome(self, err: Exception, label: str, usage: Usage) -> _Outcome:
        """Why an attempt failed, and whether a re-ask or a retry can help; raises what ends
        the run."""
        import instructor.core.exceptions as ie

        _raise_for_run(err, label, self.settings, self._silent)
        if isinstance(err, ie.IncompleteOutputException):
            _add_usage(usage, getattr(err.last_completion, "usage", None))
            return _Outcome(
                f"the answer was cut off at --max-tokens {self.settings.max_tokens:,}; "
                "raise --max-tokens"
            )
        failure = _endpoint_failure(err, self.settings)
        if failure is not None:
            return _Outcome(failure)
        if not isinstance(err, ie.InstructorRetryException):
            # Unforeseen: this question fails, with what is known of it; the run goes on.
            return _Outcome(f"unexpected {type(err).__name__}: {_first_line(str(err))}")
        attempts = getattr(err, "failed_attempts", None) or []
        completion = attempts[-1].completion if attempts else None
        cause = attempts[-1].exception if attempts else err.__cause__
        _add_usage(usage, getattr(completion, "usage", None))
        refusal = _REFUSAL.match(str(cause or ""))
        if refusal:
            return _Outcome(f"the model refused: {_first_line(refusal['words'])}")
        choices = getattr(completion, "choices", None)
        first = choices[0] if choices else None
        message = getattr(first, "message", None)
        if message is None:
            return _Outcome(
                "the endpoint answered with something that is not a chat completion "
                f"({_not_completion(completion, cause)})",
                retry=True,
            )
        if getattr(first, "finish_reason", None) == "content_filter":
            return _Outcome("the endpoint's content filter stopped the answer")
        tools = self.settings.mode in {"tools", "tools-strict"}
        raw, unreadable = _raw_arguments(message, tools)
        if isinstance(cause, ValidationError):
            errors = _errors(cause)
            return _Outcome(f"the answer failed validation: {errors}", errors, False, raw, message)
        if tools and not getattr(message, "tool_calls", None):
            said = _first_line(str(message.content or ""))
            return _Outcome(
                f"the model answered in plain text, without the structured answer (it said: "
                f"{said!r}); if the server ignores tools, use --mode json-schema (or --mode "
                "json)",
                "the answer has no structured result: call the function with the whole answer",
                message=message,
            )
        problem = unreadable or _first_line(str(cause))
        what = "the function arguments" if tools else "the answer"
        return _Outcome(
            f"the answer could not be read: {problem}",
            f"{what} could not be read ({problem}); send one valid JSON object",
            message=message,
        )


def _first_messages(system: str, user: str) -> list[Any]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _add_usage(usage: Usage, total: Any) -> None:
    details = getattr(total, "prompt_tokens_details", None)
    for name, source in (
        ("prompt_tokens", total),
        ("completion_tokens", total),
        ("cached_tokens", details),
    ):
        try:
            reported = int(getattr(source, name, 0) or 0)
        except (TypeError, ValueError):  # an endpoint's odd usage block costs nothing here
            continue
        setattr(usage, name, getattr(usage, name) + reported)


def _not_completion(completion: Any, cause: BaseException | None) -> str:
    """What came back instead of a chat completion, for the failure line."""
    if isinstance(completion, str):
        return _first_line(completion) or "an empty body"
    if isinstance(cause, json.JSONDecodeError):
        return "a body that is not JSON"
    if completion is None:
        return "no answer"
    return "a choice with no message" if getattr(completion, "choices", None) else "no choices"


def _errors(err: ValidationError) -> str:
    """Validation errors as `where: what` lines, at most `_ERRORS_SHOWN` and a few pages."""
    lines = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(x) for x in e["loc"])
        lines.append(f"{loc}: {e['msg']}" if loc else str(e["msg"]))
    shown = lines[:_ERRORS_SHOWN]
    if len(lines) > len(shown):
        shown.append(f"... and {len(lines) - len(shown)} more errors")
    return "\n".join(shown).replace("Value error, ", "")[:_ERROR_CHARS]


def _reask_text(errors: str, number: int, most: int) -> str:
    return (
        f"Validation Error found (re-ask {number} of {most}):\n{errors}\n"
        "Recall the function correctly, fix the errors: answer again with the whole answer, "
        "keeping every item that passed and correcting or leaving out those that failed."
    )


def _content(message: Any) -> str:
    return str(getattr(message, "content", None) or "")


def _reask_messages(outcome: _Outcome, errors: str) -> list[dict[str, Any]]:
    """The failed answer and its errors, after the original two messages: a re-ask is never
    longer than the first ask plus one answer and a bounded list of errors."""
    message = outcome.message
    calls = list(getattr(message, "tool_calls", None) or [])[:1]
    if not calls:
        said = _content(message)
        previous = [{"role": "assistant", "content": said}] if said else []
        return [*previous, {"role": "user", "content": errors}]
    call = calls[0]
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id or "call_0",
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id or "call_0", "content": errors},
    ]


_FENCED = re.compile(r"```(?:json)?\s*(?P<body>.*?)```", re.DOTALL)


def _raw_arguments(message: Any, tools: bool = True) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object the model answered with (a tool call's arguments, or in the JSON
    modes the message itself, fenced or not), for item-by-item salvage, or why not."""
    try:
        if tools:
            text = message.tool_calls[0].function.arguments
        else:
            text = str(message.content or "")
            fenced = _FENCED.search(text)
            text = fenced["body"] if fenced else text
        data = json.loads(text)
    except (AttributeError, IndexError, TypeError):
        return None, "no function call" if tools else "no answer"
    except json.JSONDecodeError as err:
        return None, f"not valid JSON ({err.msg})"
    return (data, None) if isinstance(data, dict) else (None, "not a JSON object")


def _first_line(text: str, limit: int = 200) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _cause_chain(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _endpoint_message(err: Any, settings: Settings) -> str:
    """The endpoint's own words about an error: first line, secrets removed."""
    body = getattr(err, "body", None)
    text = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        text = inner.get("message") if isinstance(inner, dict) else None
    if not text:
        response = getattr(err, "response", None)
        text = getattr(response, "text", None) or str(body or "")
    secrets = [settings.api_key] if settings.api_key else []
    return _first_line(redact(str(text), secrets)) or "no message"


def _raise_for_run(
    err: BaseException, label: str, settings: Settings, silent: type[Exception]
) -> None:
    """Raise the errors that no other question could escape: the run ends with them."""
    import httpx2
    import openai

    for cause in _cause_chain(err):
        if type(cause).__name__ == "CannotOverwriteExistingCassetteException":
            raise ReplayMissError(
                f"the recording has no answer for {label}; the article or prompts changed "
                "since it was recorded. Re-record with --record, or run without --replay."
            ) from err
    for cause in _cause_chain(err):
        said = _endpoint_message(cause, settings)
        if isinstance(cause, openai.AuthenticationError):
            raise ModelError(
                f"the endpoint refused the API key (401: {said}); check OPENAI_API_KEY."
            ) from err
        if isinstance(cause, openai.PermissionDeniedError):
            raise ModelError(
                f"the endpoint denied access (403: {said}); check that the key may use "
                f"--model {settings.model}."
            ) from err
        if isinstance(cause, openai.NotFoundError):
            raise ModelError(
                f"the endpoint has no such model or path (404: {said}); check --base-url "
                f"({settings.url}) and --model ({settings.model})."
            ) from err
        if isinstance(cause, silent):
            raise ModelError(
                f"the endpoint at {settings.url} answered nothing within --timeout "
                f"{settings.timeout:g}s while asking about {label}; is it stalled or "
                "overloaded? Raise --timeout or lower --concurrency."
            ) from err
        if isinstance(cause, httpx2.ConnectError):  # refused, or no such host
            raise ModelError(
                f"could not connect to {settings.url}; is the server running there? "
                "Check --base-url and your network."
            ) from err
        if isinstance(cause, openai.RateLimitError) and _code(cause) == "insufficient_quota":
            raise ModelError(
                f"the endpoint says the account is out of quota (429: {said}); check the "
                "plan and billing of the key's account."
            ) from err


def endpoint_error(
    err: BaseException, settings: Settings, doing: str, unsupported: str
) -> BriefgenError:
    """The one line for a request other than a chat completion (the Batch API's) that
    failed after the client's retries; `unsupported` says what to do if the endpoint lacks
    what was asked of it."""
    import openai

    if any(type(c).__name__ == "NotRecorded" for c in _cause_chain(err)):
        return ReplayMissError(
            f"{doing}: the recording has no such request; replay a recording made with "
            "--batch, or replay without --batch."
        )
    for cause in _cause_chain(err):
        said = _endpoint_message(cause, settings)
        if isinstance(cause, openai.AuthenticationError):
            return ModelError(
                f"{doing}: the endpoint refused the API key (401: {said}); check OPENAI_API_KEY."
            )
        if isinstance(cause, openai.APIStatusError):
            status = cause.status_code
            if status in {404, 405, 501} or (status == 400 and "batch" in said.lower()):
                return ModelError(f"{doing}: {status} from {settings.url} ({said}); {unsupported}.")
            later = "; try again later" if status == 429 or status >= 500 else ""
            return ModelError(f"{doing}: the endpoint answered {status} ({said}){later}.")
        if isinstance(cause, openai.APIConnectionError):  # timeouts too
            return ModelError(
                f"{doing}: no answer from {settings.url} ({_first_line(str(cause)) or 'timed out'}"
                "); check --base-url and your network, then run the same command again."
            )
    return ModelError(f"{doing}: unexpected {type(err).__name__}: {_first_line(str(err))}")


def retrieve_batch(batch_id: str, endpoint: str, api_version: str | None = None) -> Any:
    """A kept batch as the endpoint at `endpoint` sees it now, asked with the key in the
    environment (Azure's, for a batch kept with an API version); ModelError, in one line, if
    it cannot be."""
    import openai

    azure = api_version is not None
    key = os.environ.get("AZURE_OPENAI_API_KEY" if azure else "OPENAI_API_KEY") or None
    settings = Settings(api_key=key, base_url=endpoint)
    try:
        client: Any
        if azure:
            client = openai.AzureOpenAI(
                api_key=key,
                azure_endpoint=endpoint,
                api_version=os.environ.get("OPENAI_API_VERSION") or api_version,
                max_retries=1,
                timeout=30,
            )
        else:
            client = openai.OpenAI(
                api_key=key or "sk-no-key-needed", base_url=endpoint, max_retries=1, timeout=30
            )
        return client.batches.retrieve(batch_id)
    except Exception as err:
        raise endpoint_error(
            err, settings, f"asking about batch {batch_id}", "is it still there?"
        ) from err


def _code(err: BaseException) -> str | None:
    code = getattr(err, "code", None)
    return code if isinstance(code, str) else None


def _retries_taken(err: BaseException) -> int:
    """How often the client sent the request that ended in `err` again before giving up."""
    request = getattr(getattr(err, "response", None), "request", None)
    try:
        return int(request.headers.get("x-stainless-retry-count", 0)) if request else 0
    except ValueError:
        return 0


def _endpoint_failure(err: BaseException, settings: Settings) -> str | None:
    """Why the endpoint could not answer this one question (after the client's retries)."""
    import openai

    for cause in _cause_chain(err):
        if isinstance(cause, openai.APITimeoutError):
            return (
                f"no complete answer within --timeout {settings.timeout:g}s; raise --timeout "
                "or lower --concurrency"
            )
        if isinstance(cause, openai.APIConnectionError):
            return f"the connection closed before the answer came ({_first_line(str(cause))})"
        if not isinstance(cause, openai.APIStatusError):
            continue
        said = _endpoint_message(cause, settings)
        status = cause.status_code
        retries = _retries_taken(cause)
        if settings.mode == "json-schema" and _NO_SCHEMA.search(said):
            # llama-cpp-python's server answers this with a 500: no retry can help.
            return (
                f"the endpoint does not take a JSON Schema response_format ({status}: "
                f"{said}); use --mode json (or --mode md-json)"
            )
        if status in {400, 413, 422} and (
            _code(cause) == "context_length_exceeded" or _CONTEXT_LENGTH.search(said)
        ):
            return f"too long for this model ({status}: {said})"
        if status == 429:
            return (
                f"rate limited (429: {said}) after {retries} retries; lower --concurrency "
                "or try again later"
            )
        if status >= 500:
            return (
                f"the endpoint failed ({status}: {said}) after {retries} retries; try again later"
            )
        if settings.mode in {"tools", "tools-strict"} and _NO_TOOLS.search(said):
            return (
                f"the endpoint does not take tool calls ({status}: {said}); use --mode "
                "json-schema (or --mode json)"
            )
        return f"the endpoint rejected the request ({status}: {said})"
    return None


# What a server says when it refuses a JSON Schema response_format ("Input should be 'text'
# or 'json_object'", "response_format type json_schema is not supported").
_NO_SCHEMA = re.compile(r"json_schema|response_format", re.IGNORECASE)
# What servers say when they cannot do tool calls: "tools is not supported", "does not
# support tools", "tool_choice ... not supported", "function calling is not enabled".
_NO_TOOLS = re.compile(
    r"\btool(?:s|_choice| calls?)?\b.{0,60}\b(?:not|unsupported|no)\b|"
    r"\b(?:not|unsupported|no|does ?n.t)\b.{0,60}\b(?:tools?|tool_choice|function call)",
    re.IGNORECASE,
)


def schema_tokens(model: type[BaseModel]) -> int:
    """Tokens of the tool schema sent with every call for `model`, as compact JSON."""
    import instructor

    from briefgen._tokens import count_tokens

    schema: Any = instructor.openai_schema(model).openai_schema  # type: ignore[attr-defined]
    return count_tokens(json.dumps(schema, separators=(",", ":")))


@functools.cache
def _response_schema(model: type[BaseModel], strict: bool = False) -> type[BaseModel]:
    """`model` as instructor wraps it, wrapped once per process: instructor would otherwise
    build a new class (and its validators and schema) for every request. For a strict mode,
    its schema follows OpenAI's strict rules (`strict_schema`)."""
    import instructor

    if strict:
        compact = model.model_json_schema()

        class Strict(model):  # type: ignore[valid-type,misc]
            @classmethod
            def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
                return strict_schema(compact)

        Strict.__name__ = Strict.__qualname__ = model.__name__
        Strict.__doc__ = model.__doc__
        model = Strict
    wrapped: type[BaseModel] = instructor.openai_schema(model)
    return wrapped


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as OpenAI's strict mode takes it: every object typed, closed
    (`additionalProperties: false`) and with every property required — a field the model
    may leave empty is already nullable."""

    def close(node: Any) -> Any:
        if isinstance(node, list):
            return [close(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: close(v) for k, v in node.items()}
        if "properties" in out:
            out["type"] = "object"
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out

    closed: dict[str, Any] = close(schema)
    return closed


@functools.cache
def _check_models_once() -> None:
    """instructor checks the response model for async validators seven times per request,
    walking every class it is made of: about 7 ms of CPU per call, a third of what briefgen
    spends per article. What it finds cannot change for a class, so it is checked once per
    class; a class with an async validator is still refused, as before."""
    from instructor.v2.core import patch
    from instructor.v2.validation import async_validators

    check = getattr(async_validators, "reject_async_validators", None)
    if check is None:  # another instructor: leave it be
        return
    passed: set[int] = set()

    def once(response_model: Any) -> None:
        if id(response_model) in passed:
            return
        check(response_model)
        if isinstance(response_model, type):
            passed.add(id(response_model))

    async_validators.reject_async_validators = once
    if getattr(patch, "reject_async_validators", None) is check:
        setattr(patch, "reject_async_validators", once)  # noqa: B010 - not exported there


def _as_sent(request: Any, mode: str) -> Any:
    """`request` as briefgen sends it in `mode` (`_rewrite`), or as it was."""
    import httpx2

    if mode not in {"tools-strict", "json", "md-json"}:
        return request
    try:
        body = json.loads(request.content)
    except ValueError:  # not JSON: a Batch API upload
        return request
    if not isinstance(body, dict) or not _rewrite(body, mode):
        return request
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
    return httpx2.Request(
        request.method,
        request.url,
        headers=headers,
        content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        extensions=request.extensions,
    )


def _rewrite(body: dict[str, Any], mode: str) -> bool:
    """Change a chat-completion request in place where instructor 1.17 does not send what
    the mode needs; whether anything changed.

    - `tools-strict`: the tools marked strict. instructor builds the tool but deprecated its
      strict mode, and OpenAI constrains an answer to the schema only when the function
      says `"strict": true`.
    - `json`, `md-json`: the schema instructor writes into the system prompt made compact.
      It writes it indented, some 750 tokens where compact JSON takes about 330."""
    if mode == "tools-strict":
        return _mark_strict(body)
    if mode in {"json", "md-json"}:
        return _compact_schema(body)
    return False


# Where instructor's JSON-mode instructions put the schema in the system prompt.
_SCHEMA_AT = re.compile(r"match the following json_schema:\s*")


def _compact_schema(body: dict[str, Any]) -> bool:
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    content = first.get("content") if isinstance(first, dict) else None
    found = _SCHEMA_AT.search(content) if isinstance(content, str) else None
    if first is None or content is None or found is None:
        return False
    try:
        schema, end = json.JSONDecoder().raw_decode(content, found.end())
    except ValueError:
        return False
    compact = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    first["content"] = content[: found.end()] + compact + content[end:]
    return True


def _mark_strict(body: dict[str, Any]) -> bool:
    """Mark the tools of a chat-completion request strict; whether it had any."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools:
        return False
    for tool in tools:
        tool.get("function", {})["strict"] = True
    return True

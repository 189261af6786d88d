"""The only module that talks to openai and instructor: one structured call, with usage.

Everything that reaches the model goes through `Extractor.ask`. Message text is passed to
instructor as Jinja *values* behind fixed `{{ system }}` / `{{ user }}` placeholders: instructor
renders messages through Jinja whenever a validation context is given, and article text
containing `{{ }}` or `{% %}` must reach the model verbatim.

openai and instructor are imported when a client is built, not at import time, so that
`briefgen` answers a usage error within a fraction of a second.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from briefgen._errors import ModelError, ReplayMissError

M = TypeVar("M", bound=BaseModel)

DEFAULT_MODEL = "gpt-4o-mini"
# USD per million tokens (input, output), for the estimate on stderr only.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
}


@dataclass
class Usage:
    """What the calls cost: counted across re-asks, summed across articles."""

    calls: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    levels: int = 1  # corpus synthesis levels: 2 or more when the briefs exceeded the budget

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.reasks += other.reasks
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cache_hits += other.cache_hits

    def cost(self, model: str) -> float | None:
        price = PRICES.get(model)
        if price is None:
            return None
        return (self.prompt_tokens * price[0] + self.completion_tokens * price[1]) / 1e6


@dataclass
class Answer:
    """A validated answer, or the raw last answer when re-asks ran out (`failure` says why)."""

    parsed: BaseModel | None
    raw: dict[str, Any]
    usage: Usage = field(default_factory=Usage)
    failure: str | None = None


@dataclass(frozen=True)
class Settings:
    """How to reach the model."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = None
    reasks: int = 2
    http_retries: int = 3
    timeout: float = 120.0


class Extractor:
    """Asks the model for a pydantic model, re-asking with validation errors."""

    def __init__(self, settings: Settings, http_client: Any = None) -> None:
        import instructor
        import openai

        # instructor logs every failed attempt at ERROR; briefgen reports failures itself,
        # in one line, and its logs must never echo request contents.
        logging.getLogger("instructor").setLevel(logging.CRITICAL)
        self.settings = settings
        client = openai.AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            max_retries=settings.http_retries,  # 429/5xx, honouring Retry-After
            timeout=settings.timeout,
            http_client=http_client,
        )
        self._client = instructor.from_openai(client, mode=instructor.Mode.TOOLS)

    async def ask(
        self,
        response_model: type[M],
        system: str,
        user: str,
        context: dict[str, Any],
        label: str,
    ) -> Answer:
        """One structured call; `label` names what is asked about in errors."""
        import instructor
        import openai
        from instructor.core.hooks import Hooks

        usage = Usage()
        hooks = Hooks()
        hooks.on("completion:response", lambda *a, **k: _bump(usage, "calls"))
        hooks.on("parse:error", lambda *a, **k: _bump(usage, "reasks"))
        messages: list[Any] = [
            {"role": "system", "content": "{{ system }}"},
            {"role": "user", "content": "{{ user }}"},
        ]
        try:
            parsed, completion = await self._client.create_with_completion(
                model=self.settings.model,
                messages=messages,
                response_model=response_model,
                max_retries=self.settings.reasks,
                context={**context, "system": system, "user": user},
                hooks=hooks,
                temperature=0,
            )
        except instructor.core.exceptions.InstructorRetryException as err:
            _raise_transport(err, label)
            _add_usage(usage, getattr(err, "total_usage", None))
            usage.reasks = max(usage.reasks - 1, 0)  # the last failure is not re-asked
            raw, note = _raw_arguments(err.last_completion)
            return Answer(parsed=None, raw=raw, usage=usage, failure=note or str(err))
        except openai.APIError as err:
            _raise_transport(err, label)
            raise  # pragma: no cover - _raise_transport always raises for APIError
        total = getattr(parsed, "_total_usage", None) or getattr(completion, "usage", None)
        _add_usage(usage, total)
        return Answer(parsed=parsed, raw=parsed.model_dump(mode="json"), usage=usage)


def _bump(usage: Usage, name: str) -> None:
    setattr(usage, name, getattr(usage, name) + 1)


def _add_usage(usage: Usage, total: Any) -> None:
    if total is None:
        return
    usage.prompt_tokens += int(getattr(total, "prompt_tokens", 0) or 0)
    usage.completion_tokens += int(getattr(total, "completion_tokens", 0) or 0)


def _raw_arguments(completion: Any) -> tuple[dict[str, Any], str | None]:
    """The JSON the model last answered with, for item-by-item salvage."""
    try:
        call = completion.choices[0].message.tool_calls[0]
        data = json.loads(call.function.arguments)
    except (AttributeError, IndexError, TypeError):
        return {}, "the model answered without the structured result"
    except json.JSONDecodeError as err:
        return {}, f"the model's answer was not valid JSON ({err.msg})"
    return (data, None) if isinstance(data, dict) else ({}, "the answer was not a JSON object")


def _cause_chain(err: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _raise_transport(err: BaseException, label: str) -> None:
    """Turn an endpoint failure into a one-line error; return if it was a validation failure."""
    import openai

    for cause in _cause_chain(err):
        if type(cause).__name__ == "CannotOverwriteExistingCassetteException":
            raise ReplayMissError(
                f"the recording has no answer for {label}; the article or prompts changed "
                "since it was recorded. Re-record with --record, or run without --replay."
            ) from err
    for cause in _cause_chain(err):
        if isinstance(cause, openai.AuthenticationError):
            raise ModelError(
                f"the endpoint refused the API key while asking about {label} (401); "
                "check OPENAI_API_KEY."
            ) from err
        if isinstance(cause, openai.APIStatusError):
            raise ModelError(
                f"the endpoint answered {cause.status_code} while asking about {label}, "
                "after retries; try again later or check --base-url and --model."
            ) from err
        if isinstance(cause, openai.APITimeoutError):
            raise ModelError(f"the endpoint timed out while asking about {label}.") from err
        if isinstance(cause, openai.APIConnectionError):
            raise ModelError(
                f"could not reach the endpoint while asking about {label}; "
                "check --base-url or your network."
            ) from err


ErrorMapper = Callable[[BaseException, str], None]

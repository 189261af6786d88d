"""What a model's tokens cost, for the cost estimate briefgen prints (issue 11).

Prices are USD per million tokens. The built-in table can be overridden per model, first
by `$BRIEFGEN_DIR/prices.json`, then by the `BRIEFGEN_PRICES` variable holding the same
JSON inline:

    {"llama3.1": {"input": 0.0, "output": 0.0}}
    {"my-model": {"input": 1.0, "cached_input": 0.5, "output": 2.0,
                  "batch_input": 0.5, "batch_output": 1.0}}

`input` and `output` are required; `cached_input` defaults to `input` and the batch prices
to half of `input` and `output` (OpenAI's Batch API is 50% off).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from briefgen._errors import InputError

PRICES_FILE = "prices.json"
PRICES_ENV = "BRIEFGEN_PRICES"
BATCH_DISCOUNT = 0.5  # the Batch API bills input and output at half the standard price

_FIELDS = ("input", "cached_input", "output", "batch_input", "batch_output")
_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens. Batch prices left as None are half the standard ones."""

    input: float
    cached_input: float
    output: float
    batch_input: float | None = None
    batch_output: float | None = None

    @property
    def batch_input_price(self) -> float:
        """Per million uncached prompt tokens sent through the Batch API."""
        return self.input * BATCH_DISCOUNT if self.batch_input is None else self.batch_input

    @property
    def batch_output_price(self) -> float:
        """Per million completion tokens written through the Batch API."""
        return self.output * BATCH_DISCOUNT if self.batch_output is None else self.batch_output


# Standard-tier text-token prices from OpenAI's pricing page,
# https://developers.openai.com/api/docs/pricing (formerly platform.openai.com/docs/pricing),
# as of November 2026: gpt-5-mini and gpt-5-nano checked on OpenAI's own model pages, the
# rest against copies of that page (one dated 2026-11-05) that agree with each other.
# Update them here when OpenAI changes its prices; users can override any of them without
# a release (see load_prices).
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, cached_input=0.025, output=0.40),
    "gpt-5": Price(input=1.25, cached_input=0.125, output=10.00),
    "gpt-5-mini": Price(input=0.25, cached_input=0.025, output=2.00),
    "gpt-5-nano": Price(input=0.05, cached_input=0.005, output=0.40),
    "o4-mini": Price(input=1.10, cached_input=0.275, output=4.40),
    # The project's hand-written test endpoint: free, so tests and demos report $0.00.
    "scripted-analyst": Price(
        input=0.0, cached_input=0.0, output=0.0, batch_input=0.0, batch_output=0.0
    ),
}


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of `model`: its own entry, else that of the base name of a dated snapshot
    ("gpt-4o-mini-2024-07-18" is priced as "gpt-4o-mini"), else None.

    Only a trailing `-YYYY-MM-DD` is ever dropped, so "gpt-4o-mini" can never be priced as
    "gpt-4o", nor "gpt-4o-2024-08-06" as anything but "gpt-4o"."""
    price = prices.get(model)
    if price is not None:
        return price
    snapshot = _SNAPSHOT.match(model)
    if snapshot is None:
        return None
    return prices.get(snapshot.group("base"))


def unknown_price_hint(model: str) -> str:
    """One line saying how to give briefgen the price of a model it does not know."""
    example = json.dumps({model: {"input": 0.0, "output": 0.0}})
    return (
        f"no price known for model {model!r}; add it to $BRIEFGEN_DIR/{PRICES_FILE} "
        f"as {example} or set {PRICES_ENV} to that JSON"
    )


def cost(
    price: Price,
    *,
    prompt_tokens: int,
    cached_tokens: int = 0,
    completion_tokens: int,
    batch: bool = False,
) -> float:
    """USD for one set of token counts. `cached_tokens` is the part of `prompt_tokens` the
    endpoint served from its prompt cache (clamped to 0..prompt_tokens, as endpoints
    disagree); those are billed at `cached_input`, the rest at `input`, or at the batch
    input price when `batch`. Completion tokens are billed at `output` (or batch output)."""
    cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
    uncached = max(prompt_tokens, 0) - cached
    input_rate = price.batch_input_price if batch else price.input
    output_rate = price.batch_output_price if batch else price.output
    total = uncached * input_rate + cached * price.cached_input
    total += max(completion_tokens, 0) * output_rate
    return total / 1e6


def load_prices(
    env: Mapping[str, str] | None = None, directory: Path | None = None
) -> dict[str, Price]:
    """The built-in prices, overridden model by model by `<directory>/prices.json`
    (`directory` defaults to `$BRIEFGEN_DIR`; no file, no override), then by the JSON in
    `$BRIEFGEN_PRICES`. A malformed file or variable raises InputError saying which and why."""
    env = os.environ if env is None else env
    prices = dict(DEFAULT_PRICES)
    if directory is None:
        root = env.get("BRIEFGEN_DIR")
        directory = Path(root) if root else None
    if directory is not None:
        path = directory / PRICES_FILE
        text = _read(path)
        if text is not None:
            prices.update(_parse(text, f"prices file {path}"))
    inline = env.get(PRICES_ENV)
    if inline is not None and inline.strip():
        prices.update(_parse(inline, f"{PRICES_ENV}"))
    return prices


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise InputError(
            f"prices file {path} is not UTF-8 text; rewrite it as JSON or delete it"
        ) from None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InputError(f"cannot read prices file {path}: {reason}") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _parse(text: str, source: str) -> dict[str, Price]:
    """`{"model": {"input": ..., "output": ...}, ...}` from `source`, or InputError."""
    example = '{"model": {"input": 1.0, "cached_input": 0.5, "output": 2.0}}'
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{source} is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno}); "
            f"expected {example}"
        ) from None
    except ValueError as err:
        raise InputError(f"{source} is not valid JSON ({err}); expected {example}") from None
    if not isinstance(data, dict):
        raise InputError(
            f"{source} must be a JSON object of models, not {_kind(data)}; expected {example}"
        )
    parsed: dict[str, Price] = {}
    for model, entry in data.items():
        if not model.strip():
            raise InputError(f"{source} has an empty model name; expected {example}")
        parsed[model] = _price(entry, f"{source}, model {model!r},")
    return parsed


def _price(entry: object, where: str) -> Price:
    if not isinstance(entry, dict):
        raise InputError(
            f'{where} must be an object like {{"input": 1.0, "output": 2.0}}, not {_kind(entry)}'
        )
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise InputError(
            f"{where} has unknown field {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(_FIELDS)}"
        )
    missing = [name for name in ("input", "output") if name not in entry]
    if missing:
        raise InputError(f"{where} lacks {' and '.join(map(repr, missing))}")
    values: dict[str, float] = {}
    for name in _FIELDS:
        if name not in entry or (entry[name] is None and name.startswith("batch_")):
            continue
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where} {name!r} must be a number of USD per million tokens")
        if not math.isfinite(value) or value < 0:
            raise InputError(f"{where} {name!r} must be zero or more, not {value}")
        values[name] = float(value)
    return Price(
        input=values["input"],
        cached_input=values.get("cached_input", values["input"]),
        output=values["output"],
        batch_input=values.get("batch_input"),
        batch_output=values.get("batch_output"),
    )


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)

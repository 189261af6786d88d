"""The price table behind the cost estimate: defaults, snapshot names, overrides, arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from briefgen._errors import InputError
from briefgen._prices import (
    DEFAULT_PRICES,
    PRICES_ENV,
    Price,
    cost,
    load_prices,
    price_for,
    unknown_price_hint,
)


def _write(directory: Path, data: object) -> Path:
    path = directory / "prices.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# --- defaults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", (0.15, 0.075, 0.60)),
        ("gpt-4o", (2.50, 1.25, 10.00)),
        ("gpt-4.1", (2.00, 0.50, 8.00)),
        ("gpt-4.1-mini", (0.40, 0.10, 1.60)),
        ("gpt-4.1-nano", (0.10, 0.025, 0.40)),
        ("gpt-5", (1.25, 0.125, 10.00)),
        ("gpt-5-mini", (0.25, 0.025, 2.00)),
        ("gpt-5-nano", (0.05, 0.005, 0.40)),
        ("o4-mini", (1.10, 0.275, 4.40)),
    ],
)
def test_default_prices(model: str, expected: tuple[float, float, float]) -> None:
    price = DEFAULT_PRICES[model]
    assert (price.input, price.cached_input, price.output) == expected
    assert price.batch_input_price == pytest.approx(expected[0] / 2)
    assert price.batch_output_price == pytest.approx(expected[2] / 2)


def test_scripted_analyst_is_free() -> None:
    price = DEFAULT_PRICES["scripted-analyst"]
    assert cost(price, prompt_tokens=10**9, cached_tokens=10**8, completion_tokens=10**9) == 0
    assert cost(price, prompt_tokens=10**9, completion_tokens=10**9, batch=True) == 0


def test_explicit_batch_prices_win_over_the_half() -> None:
    price = Price(input=1.0, cached_input=0.5, output=2.0, batch_input=0.9, batch_output=1.9)
    assert (price.batch_input_price, price.batch_output_price) == (0.9, 1.9)


def test_load_prices_without_overrides_is_a_copy_of_the_defaults(tmp_path: Path) -> None:
    prices = load_prices(env={}, directory=tmp_path)
    assert prices == DEFAULT_PRICES
    prices["gpt-4o"] = Price(0, 0, 0)
    assert DEFAULT_PRICES["gpt-4o"].input == 2.50


# --- model names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("o4-mini-2025-04-16", "o4-mini"),
    ],
)
def test_dated_snapshot_is_priced_as_its_base(model: str, base: str) -> None:
    assert price_for(model, DEFAULT_PRICES) is DEFAULT_PRICES[base]


def test_gpt_4o_mini_is_never_priced_as_gpt_4o() -> None:
    assert price_for("gpt-4o-mini", DEFAULT_PRICES) is DEFAULT_PRICES["gpt-4o-mini"]
    # Even without its own entry, gpt-4o-mini must not fall back to gpt-4o's price.
    only_4o = {"gpt-4o": DEFAULT_PRICES["gpt-4o"]}
    assert price_for("gpt-4o-mini", only_4o) is None
    assert price_for("gpt-4o-mini-2024-07-18", only_4o) is None


@pytest.mark.parametrize(
    "model",
    [
        "llama3.1",
        "gpt-4o-audio-preview",  # a different model, not a snapshot
        "gpt-4o-latest",
        "gpt-4o-2024-08",  # not a full date
        "gpt-4o-20240806",
        "2024-08-06",
        "",
    ],
)
def test_unknown_models_have_no_price(model: str) -> None:
    assert price_for(model, DEFAULT_PRICES) is None


def test_exact_entry_beats_the_snapshot_base() -> None:
    special = Price(input=9.0, cached_input=9.0, output=9.0)
    prices = {**DEFAULT_PRICES, "gpt-4o-2024-05-13": special}
    assert price_for("gpt-4o-2024-05-13", prices) is special
    assert price_for("gpt-4o-2024-08-06", prices) is DEFAULT_PRICES["gpt-4o"]


def test_unknown_price_hint() -> None:
    hint = unknown_price_hint("llama3.1")
    assert hint == (
        "no price known for model 'llama3.1'; add it to $BRIEFGEN_DIR/prices.json as "
        '{"llama3.1": {"input": 0.0, "output": 0.0}} or set BRIEFGEN_PRICES to that JSON'
    )
    assert "\n" not in hint


def test_the_hint_example_is_accepted_as_is(tmp_path: Path) -> None:
    example = unknown_price_hint('we"ird').split(" as ", 1)[1].split(" or set ")[0]
    prices = load_prices(env={PRICES_ENV: example}, directory=tmp_path)
    assert prices['we"ird'] == Price(input=0.0, cached_input=0.0, output=0.0)


# --- overrides ----------------------------------------------------------------------------


def test_file_override(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "llama3.1": {"input": 0.2, "output": 0.4},
            "gpt-4o": {"input": 3.0, "cached_input": 1.0, "output": 12.0, "batch_output": 5},
        },
    )
    prices = load_prices(env={}, directory=tmp_path)
    assert prices["llama3.1"] == Price(input=0.2, cached_input=0.2, output=0.4)
    assert prices["gpt-4o"] == Price(input=3.0, cached_input=1.0, output=12.0, batch_output=5.0)
    assert prices["gpt-4o"].batch_input_price == 1.5
    assert prices["gpt-4o-mini"] == DEFAULT_PRICES["gpt-4o-mini"]
    # A snapshot of an overridden model takes the override.
    assert price_for("gpt-4o-2024-08-06", prices) == prices["gpt-4o"]


def test_file_is_found_through_briefgen_dir(tmp_path: Path) -> None:
    _write(tmp_path, {"local": {"input": 1, "output": 2}})
    prices = load_prices(env={"BRIEFGEN_DIR": str(tmp_path)})
    assert prices["local"] == Price(input=1.0, cached_input=1.0, output=2.0)


def test_default_env_is_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEFGEN_DIR", str(tmp_path))
    monkeypatch.setenv(PRICES_ENV, '{"from-env": {"input": 1, "output": 1}}')
    _write(tmp_path, {"from-file": {"input": 2, "output": 2}})
    prices = load_prices()
    assert "from-env" in prices
    assert "from-file" in prices


def test_no_briefgen_dir_means_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, {"stray": {"input": 1, "output": 1}})
    assert load_prices(env={}) == DEFAULT_PRICES


def test_env_override_wins_over_file(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "gpt-4o": {"input": 3.0, "output": 12.0},
            "llama3.1": {"input": 0.2, "output": 0.4},
        },
    )
    env = {PRICES_ENV: json.dumps({"gpt-4o": {"input": 4.0, "output": 16.0}})}
    prices = load_prices(env=env, directory=tmp_path)
    assert prices["gpt-4o"] == Price(input=4.0, cached_input=4.0, output=16.0)
    assert prices["llama3.1"] == Price(input=0.2, cached_input=0.2, output=0.4)


def test_empty_env_value_is_ignored(tmp_path: Path) -> None:
    assert load_prices(env={PRICES_ENV: "  "}, directory=tmp_path) == DEFAULT_PRICES


# --- malformed overrides ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "wording"),
    [
        ('{"gpt-4o": {"input": 1.0, "output": 2.0}', "is not valid JSON"),
        ("", "is not valid JSON"),
        ('{"m": {"input": NaN, "output": 1}}', "is not valid JSON"),
        ('[{"input": 1, "output": 2}]', "must be a JSON object of models, not a list"),
        ('{"m": 1.5}', "model 'm', must be an object"),
        ('{"m": {"input": 1.0}}', "model 'm', lacks 'output'"),
        ('{"m": {"output": 1.0}}', "model 'm', lacks 'input'"),
        ('{"m": {"input": 1.0, "ouptut": 2.0}}', "unknown field 'ouptut'"),
        ('{"m": {"input": "1.0", "output": 2.0}}', "'input' must be a number"),
        ('{"m": {"input": true, "output": 2.0}}', "'input' must be a number"),
        ('{"m": {"input": 1.0, "output": -2.0}}', "'output' must be zero or more"),
        ('{"m": {"input": 1.0, "output": 1e999}}', "'output' must be zero or more"),
        ('{"": {"input": 1.0, "output": 2.0}}', "empty model name"),
    ],
)
def test_malformed_file_raises_one_line_input_error(
    tmp_path: Path, text: str, wording: str
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_prices(env={}, directory=tmp_path)
    message = str(caught.value)
    assert f"prices file {path}" in message
    assert wording in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert caught.value.__cause__ is None
    assert caught.value.exit_code == 2


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_text('{\n  "m": {"input": 1,}\n}', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 2, column"):
        load_prices(env={}, directory=tmp_path)


def test_malformed_env_names_the_variable(tmp_path: Path) -> None:
    _write(tmp_path, {"fine": {"input": 1, "output": 1}})
    with pytest.raises(InputError) as caught:
        load_prices(env={PRICES_ENV: "gpt-4o=2.5"}, directory=tmp_path)
    message = str(caught.value)
    assert message.startswith("BRIEFGEN_PRICES is not valid JSON (")
    assert "prices.json" not in message.split(";")[0]
    assert "\n" not in message


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "prices.json").mkdir()
    with pytest.raises(InputError, match=r"cannot read prices file .*prices\.json"):
        load_prices(env={}, directory=tmp_path)


def test_non_utf8_file_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "prices.json").write_bytes(b'{"m\xff": {"input": 1, "output": 1}}')
    with pytest.raises(InputError, match="is not UTF-8"):
        load_prices(env={}, directory=tmp_path)


# --- arithmetic ---------------------------------------------------------------------------


def test_cost_without_cache() -> None:
    price = DEFAULT_PRICES["gpt-4o-mini"]
    # 1M in at 0.15 + 1M out at 0.60
    assert cost(price, prompt_tokens=1_000_000, completion_tokens=1_000_000) == pytest.approx(0.75)


def test_cached_tokens_are_a_subset_of_prompt_tokens() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0)
    # 600k uncached at 2.0 = 1.2; 400k cached at 0.5 = 0.2; 100k out at 8.0 = 0.8
    got = cost(price, prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=100_000)
    assert got == pytest.approx(2.2)


def test_batch_halves_uncached_input_and_output_only() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0)
    # 600k uncached at 1.0 = 0.6; 400k cached at 0.5 = 0.2; 100k out at 4.0 = 0.4
    got = cost(
        price,
        prompt_tokens=1_000_000,
        cached_tokens=400_000,
        completion_tokens=100_000,
        batch=True,
    )
    assert got == pytest.approx(1.2)


def test_batch_uses_explicit_batch_prices() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0, batch_input=1.5, batch_output=7.0)
    got = cost(price, prompt_tokens=2_000_000, completion_tokens=1_000_000, batch=True)
    assert got == pytest.approx(3.0 + 7.0)


def test_cached_tokens_are_clamped_to_the_prompt() -> None:
    price = Price(input=2.0, cached_input=0.5, output=8.0)
    assert cost(
        price, prompt_tokens=1_000_000, cached_tokens=5_000_000, completion_tokens=0
    ) == pytest.approx(0.5)
    assert cost(
        price, prompt_tokens=1_000_000, cached_tokens=-3, completion_tokens=0
    ) == pytest.approx(2.0)


def test_cost_matches_the_old_estimate_when_nothing_is_cached() -> None:
    # Usage.cost in _llm.py: (prompt * input + completion * output) / 1e6.
    for model in ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"):
        price = DEFAULT_PRICES[model]
        expected = (12_345 * price.input + 678 * price.output) / 1e6
        got = cost(price, prompt_tokens=12_345, completion_tokens=678)
        assert got == pytest.approx(expected)

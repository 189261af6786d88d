"""The ways of asking for the answer's shape: tool calls (strict or not), a JSON Schema
`response_format`, JSON mode and JSON in Markdown; Azure; and the line that says what to
change when a server cannot do tool calls.

Each mode's seed run is recorded (`tests/cassettes/seeds-MODE.yaml`, against the scripted
endpoint, which answers in the form each mode asks for) and replayed here through the real
openai client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from briefgen._cli import app
from briefgen._llm import choose_mode, strict_schema
from briefgen._schema import ArticleBrief, CorpusBrief
from briefgen._tokens import count_tokens
from conftest import CASSETTES, SEEDS
from faults import CORPUS, FIRE_ANSWER, FLOODS_ANSWER, write_two
from scripted import MODEL, Script, serve

MODES = ["tools", "tools-strict", "json-schema", "json", "md-json"]


def cassette(mode: str) -> Path:
    return CASSETTES / ("seeds.yaml" if mode == "tools" else f"seeds-{mode}.yaml")


def first_request(mode: str) -> dict[str, Any]:
    data = yaml.safe_load(cassette(mode).read_text(encoding="utf-8"))
    body = data["interactions"][0]["request"]["body"]
    parsed: dict[str, Any] = json.loads(body["string"] if isinstance(body, dict) else body)
    return parsed


@pytest.mark.parametrize("mode", ["json", "md-json"])
def test_the_json_modes_carry_the_schema_compactly(mode: str) -> None:
    system = first_request(mode)["messages"][0]["content"]
    start = system.index("{", system.index("json_schema:"))
    schema, end = json.JSONDecoder().raw_decode(system, start)
    assert schema == ArticleBrief.model_json_schema()
    assert system[start:end] == json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
    # The system prompt, schema included, is little more than the tool modes' schema alone.
    assert count_tokens(system) < 600


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_sends_its_own_request(mode: str) -> None:
    request = first_request(mode)
    tools = request.get("tools")
    form = request.get("response_format") or {}
    if mode.startswith("tools"):
        assert tools and tools[0]["function"]["name"] == "ArticleBrief" and not form
        assert bool(tools[0]["function"].get("strict")) == (mode == "tools-strict")
    elif mode == "json-schema":
        assert not tools and form["type"] == "json_schema"
        assert form["json_schema"]["name"] == "ArticleBrief"
    elif mode == "json":
        assert not tools and form == {"type": "json_object"}
        assert '"figures"' in request["messages"][0]["content"]  # the schema, in the prompt
    else:
        assert not tools and not form
        assert '"figures"' in request["messages"][0]["content"]


@pytest.mark.parametrize("mode", MODES)
def test_each_modes_answer_is_parsed_verified_and_rendered(mode: str) -> None:
    result = CliRunner().invoke(
        app, ["summarize", str(SEEDS), "--replay", str(cassette(mode)), "--mode", "auto"]
    )
    assert result.exit_code == 0, result.stderr
    assert f"mode {mode} (the recording's)" in result.stderr
    assert "143 items verified, 0 dropped" in result.stderr
    assert "# Brief: 5 articles" in result.stdout and "| 907,391 |" in result.stdout


def test_the_strict_schema_follows_openais_rules() -> None:
    def check(node: Any, where: str) -> None:
        if isinstance(node, list):
            for n, item in enumerate(node):
                check(item, f"{where}[{n}]")
            return
        if not isinstance(node, dict):
            return
        for keyword in ("minItems", "maxItems", "default", "$ref", "anyOf", "allOf", "$defs"):
            assert keyword not in node or where.endswith("properties"), (where, keyword)
        if "properties" in node:
            assert node["type"] == "object", where
            assert node["additionalProperties"] is False, where
            assert set(node["required"]) == set(node["properties"]), where
        for key, value in node.items():
            check(value, f"{where}.{key}")

    for model in (ArticleBrief, CorpusBrief):
        check(strict_schema(model.model_json_schema()), model.__name__)


def test_auto_picks_strict_tools_for_openai_and_json_schema_elsewhere() -> None:
    assert choose_mode("auto", None, azure=False)[0] == "tools-strict"
    assert choose_mode("auto", "https://api.openai.com/v1", azure=False)[0] == "tools-strict"
    assert choose_mode("auto", None, azure=True)[0] == "tools-strict"
    for local in ("http://localhost:11434/v1", "http://127.0.0.1:8000/v1"):
        assert choose_mode("auto", local, azure=False)[0] == "json-schema"
    assert choose_mode("json", None, azure=False) == ("json", "--mode json")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_two(tmp_path / "articles")


def run(answers: Script, *args: str) -> tuple[int, str, str]:
    with serve(answers) as server:
        base = ["--base-url", server.base_url, "--model", MODEL, "--concurrency", "1"]
        result = CliRunner().invoke(app, ["summarize", *args, *base])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_auto_says_what_it_chose_and_a_local_server_gets_json_schema(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRIEFGEN_MODE")
    answers = Script({"001": [FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]})
    code, out, err = run(answers, str(folder))
    assert code == 0, err
    assert "briefgen: mode json-schema (a server other than OpenAI's" in err
    assert all(r["response_format"]["type"] == "json_schema" for r in answers.requests)
    assert "| 1,200 |" in out


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_server_that_rejects_tools_gets_a_line_saying_which_mode_to_use(folder: Path) -> None:
    refused = {"_status": 400, "_message": "tools is not supported for this model"}
    answers = Script({"001": [refused], "002": [refused], "corpus": [CORPUS]})
    code, _, err = run(answers, str(folder), "--mode", "tools")
    assert code == 1
    assert "does not take tool calls" in err and "use --mode json-schema" in err


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_server_that_answers_without_the_tool_call_is_told_the_mode_too(
    folder: Path,
) -> None:
    prose = {"_text": "The floods forced 1,200 families from their homes."}
    answers = Script({"001": [prose], "002": [prose], "corpus": [CORPUS]})
    code, _, err = run(answers, str(folder), "--mode", "tools")
    assert code == 1
    assert "answered in plain text" in err and "use --mode json-schema" in err


@pytest.mark.parametrize("mode", ["json", "md-json", "json-schema"])
@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_json_answer_that_is_not_json_is_re_asked(folder: Path, mode: str) -> None:
    garbage = {"_raw": "{not json"}
    answers = Script({"001": [garbage, FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]})
    code, out, err = run(answers, str(folder), "--mode", mode)
    assert code == 0, err
    assert answers.counts["001"] == 2 and "| 1,200 |" in out


def test_azure_needs_its_key_and_api_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    result = CliRunner().invoke(app, ["summarize", str(SEEDS), "--model", "my-deployment"])
    assert result.exit_code == 2
    assert "AZURE_OPENAI_API_KEY and OPENAI_API_VERSION is not" in result.stderr


def test_azure_sends_to_the_deployment_with_the_api_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import httpx2

    from briefgen._ingest import load
    from briefgen._llm import Settings
    from briefgen._pipeline import Pipeline

    seen: list[httpx2.Request] = []
    answers = Script({"001": [FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]})

    settings = Settings(
        model="my-deployment",
        api_key="azure-key-dummy",
        azure_endpoint="https://example.openai.azure.com",
        api_version="2024-10-21",
        mode="tools-strict",
    )
    folder = write_two(Path(__import__("tempfile").mkdtemp()) / "a")
    done = asyncio.run(Pipeline(settings, transport=answers.transport(seen)).run(load([folder])))
    assert not done.result.failed
    url = str(seen[0].url)
    assert url.startswith("https://example.openai.azure.com/openai/deployments/my-deployment/")
    assert "api-version=2024-10-21" in url and seen[0].headers["api-key"] == "azure-key-dummy"


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_server_that_refuses_json_schema_is_told_to_use_json(folder: Path) -> None:
    # What llama-cpp-python's server (0.3.36) answered in the smoke test: a 500.
    refused = {
        "_status": 500,
        "_message": "1 validation error: response_format.type: Input should be 'text' or "
        "'json_object'",
    }
    answers = Script({"001": [refused], "002": [refused], "corpus": [CORPUS]}, by_reask=False)
    code, _, err = run(answers, str(folder), "--mode", "json-schema")
    assert code == 1
    assert "does not take a JSON Schema response_format" in err and "use --mode json" in err

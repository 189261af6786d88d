"""Keys never land in a cassette or an error: URL and text redaction, and recording with them.

Recordings go through the real openai client to an in-process transport; nothing of
briefgen is patched.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
import yaml

from briefgen._replay import recording, replaying
from briefgen._secrets import redact, redact_url

# ---- redact_url -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@api.example/v1", "https://api.example/v1"),
        ("https://sk-only@api.example/v1", "https://api.example/v1"),
        ("https://h/v1?api-key=abc", "https://h/v1?api-key=REDACTED"),
        ("https://h/v1?API_KEY=abc&model=x", "https://h/v1?API_KEY=REDACTED&model=x"),
        (
            "https://h/?apikey=1&key=2&token=3",
            "https://h/?apikey=REDACTED&key=REDACTED&token=REDACTED",
        ),
        (
            "https://h/?access_token=a&sig=b&signature=c",
            "https://h/?access_token=REDACTED&sig=REDACTED&signature=REDACTED",
        ),
        (
            "https://h/?code=a&password=b&Secret=c",
            "https://h/?code=REDACTED&password=REDACTED&Secret=REDACTED",
        ),
        ("https://h/cb#access_token=a&state=s", "https://h/cb#access_token=REDACTED&state=s"),
        ("http://u:p@h:9/v1?key=k&x=%20y", "http://h:9/v1?key=REDACTED&x=%20y"),
    ],
)
def test_redact_url_removes_user_info_and_key_parameters(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/chat/completions",
        "http://127.0.0.1:8000/v1",
        "https://h/search?q=a+b&page=2&monkey=1&keys=3",
        "https://h/path?",
        "https://h/docs#section-2",
        "not a url at all",
        "",
    ],
)
def test_redact_url_leaves_ordinary_urls_byte_for_byte(url: str) -> None:
    assert redact_url(url) == url


# ---- redact -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("Incorrect key: hunter2hunter2.", ["hunter2hunter2"], "Incorrect key: REDACTED."),
        ("a%2Fb%2Bc in a URL", ["a/b+c"], "REDACTED in a URL"),
        ("key sk-abcdefghijklmnop1234 was", [], "key REDACTED was"),
        ("key sk-proj-abc_DEF-ghi-jkl-mno was", [], "key REDACTED was"),
        ("Authorization: Bearer abc123xyz", [], "Authorization: Bearer REDACTED"),
        ("sent bearer eyJhbGciOiJIUzI1NiJ9.e30.x", [], "sent bearer REDACTED"),
        ("GET https://u:pw@h/v1 failed", [], "GET https://REDACTED@h/v1 failed"),
        ("POST /v1/chat?api-key=abc&x=1 failed", [], "POST /v1/chat?api-key=REDACTED&x=1 failed"),
        ("see https://h/?token=t0k3n.", [], "see https://h/?token=REDACTED."),
        ("at https://h/?key=k&model=gpt", [], "at https://h/?key=REDACTED&model=gpt"),
    ],
)
def test_redact_replaces_given_secrets_and_what_looks_like_a_key(
    text: str, secrets: list[str], expected: str
) -> None:
    assert redact(text, secrets) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Officials said 1,200 families left on Monday.",
        "Bearer bonds are back, the minister’s task-force said.",
        "The key=value pairs and the risk-free sk-rate stay.",
        "A skeleton key opened https://example.com/page?id=4&lang=en.",
        "A short secret is no secret.",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text, ["", "is", "abc"]) == text  # too short to be a key: never replaced


# ---- recording --------------------------------------------------------------------------

RUN_KEY = "plain-run-key-4711"  # looks like nothing: only `secrets=` can remove it
USER_SECRET = "sk-secretsecretsecret1234"
QUERY_SECRET = "sk-querysecret1234567"
SHORT_QUERY_KEY = "qk-98765"
BASE_URL = f"http://user:{USER_SECRET}@127.0.0.1:9/v1"
SECRETS = (RUN_KEY, USER_SECRET, QUERY_SECRET, SHORT_QUERY_KEY)
Handler = Callable[[httpx2.Request], httpx2.Response]


def endpoint(request: httpx2.Request) -> httpx2.Response:
    """Answers "fail" like a careless endpoint: the key and the URL echoed in the error."""
    asked = httpx2.Request("POST", "/", content=request.content).read().decode()
    if '"fail"' in asked:
        message = f"Incorrect API key provided: {RUN_KEY}. You asked {request.url}."
        return httpx2.Response(
            401, headers={"x-echo": RUN_KEY}, json={"error": {"message": message}}
        )
    return httpx2.Response(200, json=completion("answered"))


def completion(text: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "finish_reason": "stop", "message": message}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [choice],
    }


def ask(handler: Handler, content: str) -> str | None:
    """One chat completion through the real openai client, with keys in URL and query."""
    client = openai.AsyncOpenAI(
        api_key=RUN_KEY,
        base_url=BASE_URL,
        default_query={"api-key": QUERY_SECRET, "key": SHORT_QUERY_KEY},
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    messages: Any = [{"role": "user", "content": content}]
    answer = asyncio.run(client.chat.completions.create(model="m", messages=messages))
    return answer.choices[0].message.content


def unreachable(request: httpx2.Request) -> httpx2.Response:
    raise AssertionError(f"a replay went past the cassette to {request.url}")


@pytest.fixture
def cassette(tmp_path: Path) -> Path:
    """A recording of one answered call and one refused call that echoed the key."""
    path = tmp_path / "run.yaml"
    with recording(path, secrets=[RUN_KEY]):
        assert ask(endpoint, "hello") == "answered"
        with pytest.raises(openai.AuthenticationError):
            ask(endpoint, "fail")
    return path


def test_the_requests_really_carried_the_keys() -> None:
    seen: list[httpx2.Request] = []

    def spy(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return endpoint(request)

    ask(spy, "hello")
    assert f"api-key={QUERY_SECRET}" in str(seen[0].url)
    assert seen[0].url.password == USER_SECRET


def test_a_cassette_holds_no_key_from_urls_headers_or_error_bodies(cassette: Path) -> None:
    text = cassette.read_text(encoding="utf-8")
    basic = base64.b64encode(f"user:{USER_SECRET}".encode()).decode()
    for secret in (*SECRETS, basic):
        assert secret not in text
    interactions = yaml.safe_load(text)["interactions"]
    uri = "http://127.0.0.1:9/v1/chat/completions?api-key=REDACTED&key=REDACTED"
    assert [i["request"]["uri"] for i in interactions] == [uri, uri]
    refused = interactions[1]["response"]
    assert refused["body"]["string"] == (
        '{"error":{"message":"Incorrect API key provided: REDACTED. '
        f'You asked http://REDACTED@{uri.removeprefix("http://")}."}}}}'
    )
    assert refused["headers"]["x-echo"] == ["REDACTED"]
    assert refused["headers"]["content-length"] == [str(len(refused["body"]["string"]))]


def test_a_redacted_cassette_still_replays(cassette: Path) -> None:
    with replaying(cassette):
        assert ask(unreachable, "hello") == "answered"
        with pytest.raises(openai.AuthenticationError) as refused:
            ask(unreachable, "fail")
    assert "REDACTED" in str(refused.value)
    assert RUN_KEY not in str(refused.value)


def test_a_new_recording_replaces_the_old_one_whole(cassette: Path) -> None:
    with recording(cassette, secrets=[RUN_KEY]):
        ask(endpoint, "something else")
    assert len(yaml.safe_load(cassette.read_text())["interactions"]) == 1
    assert list(cassette.parent.iterdir()) == [cassette]  # no temporary file left


def test_a_failed_run_leaves_the_old_recording_untouched(cassette: Path) -> None:
    before = cassette.read_bytes()
    with pytest.raises(RuntimeError, match="the run broke"), recording(cassette):
        ask(endpoint, "something else")
        raise RuntimeError("the run broke")
    assert cassette.read_bytes() == before
    assert list(cassette.parent.iterdir()) == [cassette]


def test_a_failed_first_run_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    with pytest.raises(RuntimeError), recording(path):
        ask(endpoint, "hello")
        raise RuntimeError("the run broke")
    assert list(tmp_path.iterdir()) == []

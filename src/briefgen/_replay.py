"""Recording and replaying model traffic with vcrpy (`--record`, `--replay`, the test suite).

Requests match on a fingerprint of what was asked — the model and the messages — so
concurrent calls replay in any order, and nothing volatile (headers, request ids, the
pydantic version inside a re-ask message) decides whether a recording still fits.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
import vcr.errors

from briefgen._errors import InputError
from briefgen._secrets import redact, redact_url

# Request and response headers that identify an account or a session.
SECRET_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "openai-organization",
    "openai-project",
)
_RESPONSE_SECRETS = {
    "set-cookie",
    "openai-organization",
    "openai-project",
    "x-request-id",
    "cf-ray",
    "openai-processing-ms",
}
_RETRY_AFTER = {"retry-after", "retry-after-ms"}
_PYDANTIC_URL = re.compile(r"\s*For further information visit https://errors\.pydantic\.dev/\S+")
_VERSIONED_URL = re.compile(r"https://errors\.pydantic\.dev/[\d.]+/")


def fingerprint(body: bytes | str | None) -> str:
    """A stable hash of what a chat-completion request asks: model and messages."""
    if body is None:
        return "empty"
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raw = body if isinstance(body, bytes) else body.encode()
        return hashlib.sha256(_without_boundary(raw)).hexdigest()
    if not isinstance(data, dict):
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    asked = {"model": data.get("model"), "messages": _stable(data.get("messages"))}
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def _without_boundary(body: bytes) -> bytes:
    """A multipart body (a Batch API upload) with its random boundary made constant."""
    if not body.startswith(b"--"):
        return body
    boundary = body.split(b"\r\n", 1)[0]
    return body.replace(boundary, b"--boundary")


def _stable(value: Any) -> Any:
    """`value` without the text that varies between library versions or runs."""
    if isinstance(value, str):
        return _VERSIONED_URL.sub("https://errors.pydantic.dev/", _PYDANTIC_URL.sub("", value))
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, dict):
        # Tool-call ids are minted per run by the endpoint; they say nothing about the ask.
        return {k: _stable(v) for k, v in value.items() if k not in {"id", "tool_call_id"}}
    return value


def _match_fingerprint(r1: Any, r2: Any) -> None:
    if fingerprint(r1.body) != fingerprint(r2.body):
        raise AssertionError("the requests ask different things")


def _scrub_request(request: Any) -> Any:
    # Matching is on method, path and body, so a URI without its keys still replays.
    request.uri = redact_url(request.uri)
    return request


def _scrub_response(response: dict[str, Any], secrets: Sequence[str] = ()) -> dict[str, Any]:
    """`response` without session headers, and with keys an endpoint echoed removed."""
    headers = response.get("headers") or {}
    for name in list(headers):
        if name.lower() in _RESPONSE_SECRETS or name.lower() in _RETRY_AFTER:
            del headers[name]
        elif isinstance(headers[name], list):
            headers[name] = [redact(str(v), secrets) for v in headers[name]]
    status = (response.get("status") or {}).get("code", 200)
    if status == 429 or status >= 500:
        # A replay retries what the run retried, at once rather than after the wait asked.
        headers["retry-after-ms"] = ["1"]
    body = response.get("body") or {}
    data = body.get("string")
    if isinstance(data, bytes | str) and (cleaned := _redact_body(data, secrets)) != data:
        body["string"] = cleaned
        _set_length(headers, cleaned)
    return response


def _redact_body(data: bytes | str, secrets: Sequence[str]) -> bytes | str:
    if isinstance(data, str):
        return redact(data, secrets)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # not text (still compressed, or binary): no key to find
        return data
    return redact(text, secrets).encode("utf-8")


def _set_length(headers: dict[str, Any], data: bytes | str) -> None:
    # A shorter body under the old content-length would be cut short or waited on at replay.
    size = len(data.encode("utf-8") if isinstance(data, str) else data)
    for name in headers:
        if name.lower() == "content-length":
            headers[name] = [str(size)]


def vcr_config(secrets: Sequence[str] = ()) -> dict[str, Any]:
    """Options shared by the CLI and the tests (record mode is set by the caller)."""
    known = tuple(secrets)
    return {
        "match_on": ["method", "path", "fingerprint"],
        "filter_headers": list(SECRET_HEADERS),
        "before_record_request": _scrub_request,
        "before_record_response": lambda response: _scrub_response(response, known),
        "decode_compressed_response": True,
    }


def make_vcr(secrets: Sequence[str] = ()) -> vcr.VCR:
    recorder = vcr.VCR(**vcr_config(secrets))
    recorder.register_matcher("fingerprint", _match_fingerprint)
    return recorder


@contextmanager
def replaying(path: Path) -> Iterator[None]:
    """Serve every model call from the recording at `path`; nothing goes to the network."""
    if not path.is_file():
        raise InputError(f"recording {path} does not exist; give a cassette from --record.")
    # Each recorded answer plays once, in the order recorded: a request the run sent again
    # (after a 429 or a timeout) gets the answer it got the second time.
    with make_vcr().use_cassette(str(path), record_mode="none"):
        yield


@contextmanager
def recording(path: Path, *, secrets: Sequence[str] = ()) -> Iterator[None]:
    """Record every model call of this run to `path`, replacing what it held.

    The run is written beside `path` and moved into place only when it ends well, so a
    failed run leaves the previous recording as it was. `secrets` (the run's key) are
    removed from every recorded response, as are URL keys from every recorded request.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than mkstemp: vcrpy creates the file, with the usual permissions.
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        with make_vcr(secrets).use_cassette(
            str(partial), record_mode="all", record_on_exception=False
        ):
            yield
        if partial.exists():
            os.replace(partial, path)
        else:  # no call was made: the recording of this run holds nothing
            path.unlink(missing_ok=True)
    finally:
        partial.unlink(missing_ok=True)


def recorded_model(path: Path) -> str | None:
    """The model a recording was made with, so a replay asks for the same one."""
    model = _first_request(path).get("model")
    return model if isinstance(model, str) else None


def recorded_mode(path: Path) -> str:
    """The mode a recording was made in (briefgen's names), so a replay asks the same way."""
    body = _first_request(path)
    if body.get("tools"):
        strict = any(t.get("function", {}).get("strict") for t in body["tools"])
        return "tools-strict" if strict else "tools"
    kind = (body.get("response_format") or {}).get("type")
    return {"json_schema": "json-schema", "json_object": "json"}.get(str(kind), "md-json")


def recorded_batch(path: Path) -> bool:
    """Whether a recording was made with --batch, so a replay asks the same way."""
    return any(
        str(i.get("request", {}).get("uri", "")).rstrip("/").endswith("/batches")
        for i in _interactions(path)
    )


def _interactions(path: Path) -> list[dict[str, Any]]:
    """The recorded interactions, read once however many questions are asked of them."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as err:
        raise InputError(f"{path} is not a briefgen recording ({type(err).__name__}).") from err
    return _read_interactions(path, stamp)


@functools.lru_cache(maxsize=4)
def _read_interactions(path: Path, stamp: int) -> list[dict[str, Any]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [i for i in data["interactions"] if isinstance(i, dict)]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as err:
        raise InputError(f"{path} is not a briefgen recording ({type(err).__name__}).") from err


def _first_request(path: Path) -> dict[str, Any]:
    interactions = _interactions(path)
    # The first chat completion: a --batch run's first requests are the Batch API's.
    for interaction in interactions:
        try:
            body = interaction["request"]["body"]
            body = body.get("string") if isinstance(body, dict) else body
            request = json.loads(str(body))
        except (KeyError, TypeError, ValueError):
            continue
        if isinstance(request, dict) and "messages" in request:
            return request
    raise InputError(f"{path} is not a briefgen recording (it holds no chat completion).")

"""A scripted, local OpenAI-compatible endpoint: hand-written answers, served on loopback.

No hosted model is reachable from briefgen's machines, so recordings are made against this
server. Its answers are written by hand from the articles (see `cassettes/script/`); it is
not a language model and never claims to be one: every response names the model
`scripted-analyst` and carries the system fingerprint `scripted`.

Which answer is served:
- the user message names what is asked about: `Article 001 (...)` → `001`; a corpus prompt
  (`N article briefs follow (000, 001).`) → `corpus-000-001` if the script has that key,
  else `corpus`; a merge prompt (`N partial briefs follow (000-001, 002).`) → `merge`;
- the number of re-ask messages in the conversation picks the answer: the first ask gets
  `answers[0]`, the first re-ask `answers[1]`, and so on (the last answer repeats).

With `by_reask=False`, answers are served by how often the key was asked instead, for faults
the HTTP client retries rather than re-asks. An answer may also be a fault, for tests:
- `{"_status": 429, "_headers": {...}, "_message": "..."}`: that HTTP status, with the
  message (and `"_code"`) in an OpenAI-style error body;
- `{"_raw": "..."}`: those characters as the tool-call arguments;
- `{"_body": "...", "_type": "text/html"}`: a 200 whose body is not a chat completion;
- `{"_text": "..."}`: a plain-text answer with no tool call; `{"_refusal": "..."}`: a refusal;
- `{"_choices": []}`: a completion with no choices;
- `{"_finish": "length", ...answer}`: the answer, marked cut off at the token limit.

The answer's form follows the request, as a server's would: a tool call when tools are sent,
the JSON as the message when a `response_format` is, and a fenced ```json block otherwise.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL = "scripted-analyst"
_ARTICLE = re.compile(r"^Article (?P<id>[A-Za-z0-9-]+) \(")
_CORPUS = re.compile(r"^\d+ (?P<kind>article|partial) briefs follow \((?P<ids>[^)]*)\)\.")
_REASK = re.compile(r"Validation Error found \(re-ask (\d+) of \d+\)")


def load_script(directory: Path) -> dict[str, list[Any]]:
    """`{key: answers}` from `directory/*.json`, each file holding `{"answers": [...]}`."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))["answers"]
        for path in sorted(directory.glob("*.json"))
    }


def _keys(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """The script keys that may answer these messages, most specific first."""
    for message in messages:
        if message.get("role") != "user":
            continue
        content = str(message.get("content") or "")
        if match := _ARTICLE.match(content):
            return [match["id"]]
        if match := _CORPUS.match(content):
            if match["kind"] == "partial":
                return ["merge"]
            return ["corpus-" + "-".join(match["ids"].split(", ")), "corpus"]
    return ["unknown"]


def _clean(answer: Any) -> Any:
    """The answer without `_note`-style keys, which are for humans reading the script."""
    if isinstance(answer, dict):
        return {k: _clean(v) for k, v in answer.items() if not k.startswith("_")}
    if isinstance(answer, list):
        return [_clean(v) for v in answer]
    return answer


def _tokens(text: str) -> int:
    # A scripted endpoint has no tokenizer; four characters a token is the usual estimate.
    return max(1, len(text) // 4)


class Script:
    """Scripted answers and what was asked of them; shared by the server and the transport."""

    def __init__(self, answers: dict[str, list[Any]], by_reask: bool = True) -> None:
        self.answers = answers
        self.by_reask = by_reask
        self.requests: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.batches = Batches(self, (answers.get("_batch") or [{}])[0])

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        """(status, headers, body) for one HTTP request: a chat completion, or the Batch
        API's files and batches."""
        if path.endswith("/chat/completions") and method == "POST":
            return self.respond(json.loads(body or b"{}"))
        return self.batches.handle(method, path, headers, body)

    def respond(self, request: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        """(status, headers, body) for one chat-completion request."""
        with self._lock:
            self.requests.append(request)
            messages = request.get("messages") or []
            keys = _keys(messages)
            key = next((k for k in keys if k in self.answers), keys[0])
            answers = self.answers.get(key)
            if not answers:
                return 404, {}, {"error": {"message": f"no scripted answer for {key!r}"}}
            reasks = max(
                (int(n) for m in messages for n in _REASK.findall(str(m.get("content") or ""))),
                default=0,
            )
            count = self.counts.get(key, 0)
            self.counts[key] = count + 1
        index = reasks if self.by_reask else count
        answer = answers[min(index, len(answers) - 1)]
        fault = answer if isinstance(answer, dict) else {}
        if "_status" in fault:
            error = {"message": fault.get("_message", "scripted fault"), "type": "scripted"}
            if "_code" in fault:
                error["code"] = fault["_code"]
            return int(fault["_status"]), dict(fault.get("_headers", {})), {"error": error}
        if "_body" in fault:
            return 200, {"content-type": fault.get("_type", "text/html")}, fault["_body"]
        asked = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(asked.encode()).hexdigest()[:24]
        arguments = (
            str(fault["_raw"])
            if "_raw" in fault
            else json.dumps(_clean(answer), ensure_ascii=False)
        )
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if "_text" in fault:
            message["content"] = fault["_text"]
        elif "_refusal" in fault:
            message["refusal"] = fault["_refusal"]
        elif request.get("tools"):
            name = request["tools"][0]["function"]["name"]
            call = {"id": f"call_{digest}", "type": "function"}
            message["tool_calls"] = [{**call, "function": {"name": name, "arguments": arguments}}]
        elif request.get("response_format"):  # json_schema or json_object: the JSON itself
            message["content"] = arguments
        else:  # asked for JSON in the prompt alone (md-json): a fenced block, as models write
            message["content"] = f"Here is the brief.\n```json\n{arguments}\n```"
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        choice = {
            "index": 0,
            "finish_reason": fault.get("_finish", finish),
            "message": message,
        }
        return (
            200,
            {},
            {
                "id": f"chatcmpl-scripted-{digest}",
                "object": "chat.completion",
                "created": 0,
                "model": MODEL,
                "system_fingerprint": "scripted",
                "choices": fault.get("_choices", [choice]),
                "usage": {
                    "prompt_tokens": _tokens(asked),
                    "completion_tokens": _tokens(arguments),
                    "total_tokens": _tokens(asked) + _tokens(arguments),
                },
            },
        )

    def transport(self, seen: list[Any] | None = None) -> Any:
        """An httpx2 transport that answers in-process: the real openai client, no socket;
        each request is appended to `seen`, if given."""
        import httpx2

        def handle(request: httpx2.Request) -> httpx2.Response:
            if seen is not None:
                seen.append(request)
            status, headers, body = self.handle(
                request.method, request.url.path, request.headers, request.read()
            )
            if isinstance(body, bytes):
                return httpx2.Response(status, headers=headers, content=body)
            if isinstance(body, str):
                return httpx2.Response(status, headers=headers, content=body.encode())
            return httpx2.Response(status, headers=headers, json=body)

        return httpx2.MockTransport(handle)


class Batches:
    """The Batch API, scripted: uploaded files are kept, a batch is answered line by line
    from the script when it is looked at the second time (the first look finds it in
    progress), and `plan` (a script's `_batch.json`) can make it end otherwise:

    - `{"status": "expired", "unfinished": ["003"]}`: those articles' lines get a
      `batch_expired` error, the rest their answers;
    - `{"status": "failed", "code": "...", "message": "..."}`: the batch fails, answering
      nothing;
    - `{"status": "cancelled", "unfinished": [...]}`: cancelled after answering the rest;
    - `{"hold": true}`: in progress until `plan["hold"]` is set false;
    - `{"first": 2}`: batch ids count from 2 (an endpoint that never made batch 1);
    - `{"slow": ["create", "look", "download"], "seconds": 1.5}`: the first request of each
      kind named is answered that late (a create is carried out first, then answered).
    """

    def __init__(self, script: Script, plan: Mapping[str, Any]) -> None:
        self.script = script
        self.plan = dict(plan)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.looks: dict[str, int] = {}
        self.calls: list[str] = []  # "METHOD path" of every Batch API request
        self.headers: list[dict[str, str]] = []  # and its headers
        self.slowed: set[str] = set()

    def _slow(self, what: str) -> None:
        """The first request of a kind `plan["slow"]` names waits `plan["seconds"]`."""
        if what in self.plan.get("slow", []) and what not in self.slowed:
            self.slowed.add(what)
            time.sleep(float(self.plan.get("seconds", 1.5)))

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        self.calls.append(f"{method} {path}")
        self.headers.append(dict(headers))
        path = re.sub(r"^/(?:v1|openai)(?=/)", "", path.split("?")[0])  # OpenAI's or Azure's
        if method == "POST" and path == "/files":
            return self._upload(headers, body)
        if method == "POST" and path == "/batches":
            created = self._create(json.loads(body))
            self._slow("create")  # made, but answered late
            return created
        if method == "GET" and path == "/batches":
            newest = [self._public(b) for b in reversed(self.batches)]
            return 200, {}, {"object": "list", "data": newest, "has_more": False}
        if method == "GET" and path.startswith("/batches/"):
            self._slow("look")
            return self._retrieve(path.removeprefix("/batches/"))
        if method == "GET" and path.startswith("/files/") and path.endswith("/content"):
            self._slow("download")
            found = self.files.get(path.removeprefix("/files/").removesuffix("/content"))
            if found is None:
                return 404, {}, {"error": {"message": "No such File object"}}
            return 200, {"content-type": "application/octet-stream"}, found
        return 404, {}, {"error": {"message": f"no scripted route for {method} {path}"}}

    def _upload(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + str(headers.get("content-type")).encode() + b"\r\n\r\n" + body
        )
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        data = parts["file"].get_payload(decode=True)
        file_id = f"file-scripted-{len(self.files) + 1}"
        self.files[file_id] = data
        return (
            200,
            {},
            {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": 0,
                "filename": parts["file"].get_filename(),
                "purpose": parts["purpose"].get_content().strip(),
                "status": "processed",
            },
        )

    def _create(self, asked: Mapping[str, Any]) -> tuple[int, dict[str, str], Any]:
        data = self.files.get(str(asked.get("input_file_id")))
        if data is None:
            return 404, {}, {"error": {"message": "No such File object"}}
        batch_id = f"batch_scripted_{len(self.batches) + int(self.plan.get('first', 1))}"
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": asked.get("endpoint"),
            "errors": None,
            "input_file_id": asked.get("input_file_id"),
            "completion_window": asked.get("completion_window"),
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": 0,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": asked.get("metadata"),
            "_lines": lines,
        }
        return 200, {}, self._public(batch_id)

    def _retrieve(self, batch_id: str) -> tuple[int, dict[str, str], Any]:
        batch = self.batches.get(batch_id)
        if batch is None:
            return 404, {}, {"error": {"message": f"No batch found with id '{batch_id}'."}}
        looks = self.looks[batch_id] = self.looks.get(batch_id, 0) + 1
        if batch["status"] == "validating" and looks == 1:
            batch["status"] = "in_progress"
        elif batch["status"] in {"validating", "in_progress"} and not self.plan.get("hold"):
            self._finish(batch)
        return 200, {}, self._public(batch_id)

    def _finish(self, batch: dict[str, Any]) -> None:
        status = str(self.plan.get("status", "completed"))
        if status == "failed":
            batch["status"] = "failed"
            batch["errors"] = {
                "object": "list",
                "data": [
                    {
                        "code": self.plan.get("code", "failed"),
                        "message": self.plan.get("message", "scripted failure"),
                        "line": None,
                        "param": None,
                    }
                ],
            }
            return
        unfinished = set(self.plan.get("unfinished", []))
        output, errors = [], []
        for n, line in enumerate(batch["_lines"], 1):
            request = line["body"]
            keys = _keys(request.get("messages") or [])
            result: dict[str, Any] = {
                "id": f"batch_req_scripted_{n}",
                "custom_id": line["custom_id"],
            }
            if keys[0] in unfinished:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                why = "This request could not be executed before the completion window expired."
                errors.append({**result, "response": None, "error": {"code": code, "message": why}})
                continue
            code, _, body = self.script.respond(request)
            response = {"status_code": code, "request_id": f"req_scripted_{n}", "body": body}
            (output if code == 200 else errors).append(
                {**result, "response": response, "error": None}
            )
        for name, lines in (("output_file_id", output), ("error_file_id", errors)):
            if lines:
                file_id = f"file-scripted-{len(self.files) + 1}"
                text = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines)
                self.files[file_id] = text.encode()
                batch[name] = file_id
        batch["status"] = status
        batch["request_counts"].update(completed=len(output), failed=len(errors))

    def _public(self, batch_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.batches[batch_id].items() if not k.startswith("_")}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        status, headers, body = self.server.script.handle(
            self.command, self.path, self.headers, self.rfile.read(length)
        )
        raw = isinstance(body, str | bytes)
        data = (
            body
            if isinstance(body, bytes)
            else body.encode()
            if isinstance(body, str)
            else json.dumps(body, ensure_ascii=False).encode()
        )
        self.send_response(status)
        if not raw:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up (a cancelled run) is not the server's error to print

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def serve(script: Script) -> Iterator[_Server]:
    """Run the scripted endpoint on a free loopback port for the duration of the block."""
    server = _Server(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

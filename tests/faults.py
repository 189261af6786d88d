"""Two small articles, an analyst's answers for them, and endpoints that misbehave: the
shared material of the fault tests."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scripted import Script

FLOODS = (
    "Officials said 1,200 families were moved on Tuesday.\n"
    "“We will rebuild every home,” Mayor Ana Ruiz said.\n"
)
FIRE = "Firefighters said 40 homes burned near Lyon on Monday.\nChief Marc Roux led the crews.\n"
FLOODS_ANSWER = {
    "title": "Families moved after floods",
    "published": {"date": None, "inferred": True, "basis": "no date in the text"},
    "summary": "Officials moved families; the mayor promised to rebuild.",
    "actors": [
        {"name": "Ana Ruiz", "kind": "person", "role": "mayor", "aliases": [], "sentences": [2]}
    ],
    "figures": [
        {"value": "1,200", "measures": "families moved", "unit": "families", "sentences": [1]}
    ],
    "positions": [
        {
            "actor": "Ana Ruiz",
            "issue": "rebuilding",
            "stance": "will rebuild",
            "quote": "We will rebuild every home",
            "sentences": [2],
        }
    ],
    "disputes": [],
}
FIRE_ANSWER = {
    "title": "Homes burned near Lyon",
    "published": {"date": None, "inferred": True, "basis": "no date in the text"},
    "summary": "A fire burned homes near Lyon.",
    "actors": [
        {
            "name": "Marc Roux",
            "kind": "person",
            "role": "fire chief",
            "aliases": [],
            "sentences": [2],
        }
    ],
    "figures": [{"value": "40", "measures": "homes burned", "unit": "homes", "sentences": [1]}],
    "positions": [],
    "disputes": [],
}
CORPUS = {
    "overview": "Floods and a fire damaged homes.",
    "actors": [],
    "figure_groups": [],
    "disputes": [],
    "timeline": [],
}
CONTEXT_400 = {
    "_status": 400,
    "_code": "context_length_exceeded",
    "_message": "This model's maximum context length is 2048 tokens, you requested 3042 tokens."
    "\nSecond line of the message.",
}


def write_two(folder: Path) -> Path:
    """`folder` holding the two articles, 001_floods.txt and 002_fire.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "001_floods.txt").write_text(FLOODS, encoding="utf-8")
    (folder / "002_fire.txt").write_text(FIRE, encoding="utf-8")
    return folder


def script(**answers: list[Any]) -> Script:
    base = {"001": [FLOODS_ANSWER], "002": [FIRE_ANSWER], "corpus": [CORPUS]}
    return Script({**base, **{k.lstrip("_"): v for k, v in answers.items()}})


class Trickle(threading.Thread):
    """A loopback endpoint: trickles a header line a tenth of a second, for at most `limit`
    seconds, in answer to article 002; answers everything else at once. With
    `first_only`, it trickles only the first time each article is asked, for every article."""

    def __init__(self, limit: float = 10.0, first_only: bool = False) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.limit = limit
        self.first_only = first_only
        self.seen: set[str] = set()
        self.requests = 0
        self.answers = script()
        self.stop_at = float("inf")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def run(self) -> None:
        self.sock.settimeout(0.2)
        end = time.monotonic() + self.limit
        with self.sock:
            while time.monotonic() < min(end, self.stop_at):
                try:
                    conn, _ = self.sock.accept()
                except TimeoutError:
                    continue
                threading.Thread(target=self.serve, args=(conn, end), daemon=True).start()

    def __enter__(self) -> Trickle:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_at = 0.0
        self.join()

    def serve(self, conn: socket.socket, end: float) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int(next(v for k, v in _headers(head) if k == "content-length"))
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            request = json.loads(body)
            if not self._stalls(request["messages"][1]["content"]):
                _, _, answer = self.answers.respond(request)
                payload = json.dumps(answer).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
            try:
                while time.monotonic() < min(end, self.stop_at):
                    conn.sendall(b"x-trickle: 1\r\n")
                    time.sleep(0.1)
            except OSError:
                return

    def _stalls(self, asked: str) -> bool:
        if not self.first_only:
            return asked.startswith("Article 002")
        first = asked not in self.seen
        self.seen.add(asked)
        return first


def _headers(head: bytes) -> Iterator[tuple[str, str]]:
    for line in head.decode().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        yield name.strip().lower(), value.strip()

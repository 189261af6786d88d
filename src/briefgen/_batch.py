"""The article stage through a Batch API (`--batch`): half the price, answers within a day.

Each article's first request is built by the very client that would send it
(`Extractor.request_body`) and written as one line of JSONL; the file is uploaded, a batch
created on it, and polled until it ends. Each answer is then handed back to the extractor,
which serves it to the same `ask` an ordinary run makes: the same parsing, the same
validators, the same salvage, and a re-ask of an answer that fails them goes out as an
ordinary call. A request the batch did not answer (it expired, or that request failed) is
asked by an ordinary call too, and said so.

Every batch is kept in the state database the moment it is created, with its requests by
custom id (the cache key of the article's prompts), and its answers once downloaded: a rerun
of the same command re-attaches to a batch still running, or takes the answers one already
gave, instead of paying twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from briefgen._cache import ENDED_BATCH, SENDING_PREFIX, Cache
from briefgen._errors import BriefgenError, ModelError
from briefgen._llm import Extractor, Settings, endpoint_error

# What OpenAI takes in one batch: 50,000 requests, a 200 MB file (kept well under).
MOST_REQUESTS = 50_000
MOST_BYTES = 190 * 1024 * 1024
COMPLETION_WINDOW = "24h"
DEFAULT_POLL_SECONDS = 30.0  # how long to wait between looks at a running batch


@dataclass(frozen=True)
class BatchRequest:
    """One article's first request: its cache key, its file name, and the exact body."""

    custom_id: str
    subject: str
    body: bytes


@dataclass(frozen=True)
class BatchProgress:
    """What the endpoint last said of a batch."""

    batch_id: str
    status: str
    completed: int
    failed: int
    total: int
    attached: bool = False  # kept from an earlier run, not created by this one


BatchListener = Callable[[BatchProgress], None]


def endpoint_path(settings: Settings) -> str:
    """The path each batch line asks: Azure's deployments take it without the /v1."""
    return "/chat/completions" if settings.azure_endpoint else "/v1/chat/completions"


class Batches:
    """Sends requests as batches (or re-attaches to those kept), waits for them to end, and
    gives the extractor every answer they hold."""

    def __init__(
        self,
        extractor: Extractor,
        store: Cache | None,
        listener: BatchListener,
        warn: Callable[[str], None],
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self.extractor = extractor
        self.settings = extractor.settings
        self.store = store
        self.listener = listener
        self.warn = warn
        self.poll_seconds = max(0.0, poll_seconds)

    async def answer(self, requests: Sequence[BatchRequest]) -> None:
        """Have every request answered by a batch, where a batch can; the rest are left for
        ordinary calls (each said so in a warning)."""
        waiting: dict[str, list[BatchRequest]] = {}
        async with self._sending():
            kept = await self._settled(self._kept([r.custom_id for r in requests]))
            fresh: list[BatchRequest] = []
            for request in requests:
                row = kept.get(request.custom_id)
                if row is None:
                    fresh.append(request)
                elif row["answer"] is not None:  # downloaded by an earlier run, which paid
                    self._give(request, row["answer"], paid=False)
                else:
                    waiting.setdefault(row["id"], []).append(request)
            for batch_id, attached in waiting.items():
                status = kept[attached[0].custom_id]["status"]
                self.listener(BatchProgress(batch_id, status, 0, 0, 0, True))
            for chunk in self._send(fresh):
                waiting[await self._submit(chunk)] = [request for request, _ in chunk]
        # One after another: the endpoint runs them all at once, whichever is looked at.
        for batch_id, batched in waiting.items():
            if await self._wait(batch_id, batched):
                continue
            # A kept batch the endpoint no longer has (deleted, or another account's).
            self.warn(
                f"batch {batch_id} is no longer at {self.settings.url} (deleted, or sent with "
                f"another key or project); sending its {len(batched)} requests in a new batch"
            )
            for chunk in self._send(batched):
                batch_id = await self._submit(chunk)
                if not await self._wait(batch_id, [request for request, _ in chunk]):
                    raise ModelError(
                        f"batch {batch_id} was created but the endpoint at {self.settings.url} "
                        "then had no such batch; run without --batch."
                    )

    @contextlib.asynccontextmanager
    async def _sending(self) -> AsyncIterator[None]:
        """Held from looking for kept batches to keeping the one sent (`BatchLock`)."""
        lock = self.store.batch_lock() if self.store is not None else None
        told = False
        while lock is not None and not lock.try_acquire():
            if not told:
                self.warn("another briefgen run is sending a batch from this state; waiting")
                told = True
            await asyncio.sleep(0.2)
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    async def _settled(self, kept: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """`kept` with every "sending" batch settled. One found while holding the lock was
        left by a run that ended between uploading and keeping its batch: the endpoint's
        latest batches are looked through for one on its file, which it then becomes; if
        there is none, it is given up and its requests are sent again."""
        sending = {r["id"]: r for r in kept.values() if r["status"] == "sending"}
        for old_id, row in sending.items():
            made = await self._made_on(row["input_file"])
            if made is not None:
                self._rename(old_id, str(made.id), str(made.status))
                new = {"id": str(made.id), "status": str(made.status)}
            else:
                self._gone(old_id)
                new = None
            for custom_id in [k for k, r in kept.items() if r["id"] == old_id]:
                if new is None:
                    del kept[custom_id]
                else:
                    kept[custom_id] = {**kept[custom_id], **new}
        return kept

    def _rename(self, old_id: str, new_id: str, status: str) -> None:
        if self.store is None:
            return
        try:
            self.store.rename_batch(old_id, new_id, status)
        except OSError as err:
            self.warn(
                f"could not keep batch {new_id} in the state database ({err}); a rerun will "
                "not find it"
            )

    def _send(self, requests: Sequence[BatchRequest]) -> list[list[tuple[BatchRequest, bytes]]]:
        """The requests with their JSONL lines, in runs that each fit one batch."""
        return _chunks([(r, self._line(r)) for r in requests])

    def _kept(self, custom_ids: list[str]) -> dict[str, dict[str, Any]]:
        try:
            return kept_batches(self.store, custom_ids, self.settings.url)
        except OSError as err:
            self.warn(f"could not read the kept batches ({err}); sending a new batch")
            return {}

    def _line(self, request: BatchRequest) -> bytes:
        line = {
            "custom_id": request.custom_id,
            "method": "POST",
            "url": endpoint_path(self.settings),
            "body": self.extractor.batch_body(request.body),
        }
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    async def _submit(self, chunk: Sequence[tuple[BatchRequest, bytes]]) -> str:
        """Upload the requests as JSONL and create a batch on them; its id, kept at once."""
        requests = [request for request, _ in chunk]
        data = b"".join(line for _, line in chunk)
        client = self.extractor.openai
        try:
            uploaded = await client.files.create(
                file=("briefgen-batch.jsonl", data, "application/jsonl"),
                purpose="batch",
                timeout=self._transfer_seconds,
            )
        except Exception as err:
            raise self._error(err, "uploading the batch's requests") from err
        # Kept before the batch exists, so a run that ends while creating it leaves a trace
        # the next run settles (`_settled`) rather than paying again.
        sending = SENDING_PREFIX + str(uploaded.id)
        if self.store is not None:
            try:
                self.store.add_batch(
                    sending,
                    model=self.settings.model,
                    endpoint=self.settings.url,
                    input_file=uploaded.id,
                    status="sending",
                    requests=[(r.custom_id, r.subject) for r in requests],
                    api_version=self.settings.api_version if self.settings.azure_endpoint else None,
                )
            except OSError as err:
                self.warn(f"could not keep the batch in the state database ({err})")
        try:
            batch = await self._create(uploaded.id)
        except Exception:
            self._gone(sending)  # none was made, or none could be found (a Ctrl-C leaves it)
            raise
        self._rename(sending, str(batch.id), str(batch.status))
        self.listener(_progress(batch, len(requests)))
        return str(batch.id)

    async def _create(self, input_file: str) -> Any:
        """A batch on the uploaded file. Sent without the client's own retries: a create
        whose answer is lost may still have made the batch, and a blind retry would make
        (and bill) a second one. So after a failure the endpoint's latest batches are looked
        through for one on this file, and only if there is none is it asked once more."""
        unsafe = self.extractor.openai.with_options(max_retries=0)
        for attempt in (1, 2):
            try:
                return await unsafe.batches.create(
                    input_file_id=input_file,
                    endpoint=endpoint_path(self.settings),
                    completion_window=COMPLETION_WINDOW,
                    metadata={"created_by": "briefgen"},
                )
            except Exception as err:
                made = await self._made_on(input_file)
                if made is not None:
                    return made
                status = getattr(err, "status_code", None)
                transient = status is None or status == 429 or status >= 500
                if attempt == 2 or not transient:
                    raise self._error(err, "creating the batch") from err
        raise AssertionError("unreachable")

    async def _made_on(self, input_file: str) -> Any:
        """The batch on `input_file` among the endpoint's latest, if there is one."""
        try:
            page = await self.extractor.openai.batches.list(limit=100)
        except Exception:
            return None
        return next((b for b in page.data if b.input_file_id == input_file), None)

    @property
    def _transfer_seconds(self) -> float:
        # A file of 190 MB at 10 Mbit/s takes some 150 s: at least 10 minutes for one.
        return max(self.settings.timeout, 600.0)

    async def _wait(self, batch_id: str, requests: Sequence[BatchRequest]) -> bool:
        """Poll the batch until it ends, then take its answers; False if the endpoint has no
        such batch (it is then recorded as gone)."""
        client = self.extractor.openai
        while True:
            try:
                batch = await client.batches.retrieve(batch_id)
            except Exception as err:
                if getattr(err, "status_code", None) == 404:
                    self._gone(batch_id)
                    return False
                raise self._error(err, f"asking about batch {batch_id}") from err
            self._record(batch)
            self.listener(_progress(batch, len(requests)))
            if batch.status in ENDED_BATCH:
                break
            await asyncio.sleep(self.poll_seconds)
        if batch.status == "failed":
            errors = _batch_errors(batch)
            raise ModelError(
                f"batch {batch_id} failed: {errors}; nothing in it was answered or charged. "
                "Fix what it names, or run without --batch."
            )
        answers = await self._download(batch, requests)
        missing = []
        for request in requests:
            answer, _ = answers.get(request.custom_id, (None, None))
            if answer is None:
                missing.append(request)
            else:
                self._give(request, answer)
        if batch.status == "cancelled":
            raise ModelError(
                f"batch {batch_id} was cancelled; its {len(requests) - len(missing)} answers "
                f"are kept. Run the same command again to send the other {len(missing)} in a "
                "new batch, or run without --batch."
            )
        if missing:
            reasons = {answers.get(r.custom_id, (None, "no answer"))[1] for r in missing}
            why = (
                "it expired before answering them"
                if batch.status == "expired"
                else f"those requests failed ({sorted(str(r) for r in reasons)[0]})"
            )
            self.warn(
                f"batch {batch_id}: {len(missing)} of {len(requests)} requests have no answer "
                f"({why}); asking them by ordinary calls, at the standard price"
            )
        return True

    def _gone(self, batch_id: str) -> None:
        if self.store is None:
            return
        try:
            self.store.update_batch(batch_id, status="gone")
        except OSError as err:
            self.warn(f"could not record that batch {batch_id} is gone ({err})")

    async def _download(
        self, batch: Any, requests: Sequence[BatchRequest]
    ) -> dict[str, tuple[str | None, str | None]]:
        """Per custom id, the answer (a chat completion as JSON) or why there is none, read
        from the batch's output and error files, and kept."""
        results: dict[str, tuple[str | None, str | None]] = {}
        for file_id in (batch.error_file_id, batch.output_file_id):  # answers win
            if not file_id:
                continue
            try:
                content = await self.extractor.openai.files.content(
                    file_id, timeout=self._transfer_seconds
                )
            except Exception as err:
                if getattr(err, "status_code", None) != 404:
                    raise self._error(err, f"downloading the results of batch {batch.id}") from err
                self.warn(f"the results file {file_id} of batch {batch.id} is gone")
                continue
            for line in content.text.splitlines():
                parsed = _result(line)
                if parsed is not None:
                    results[parsed[0]] = parsed[1]
        # Every result is kept, those of articles this run did not ask about too: a later
        # run over them takes them from here instead of paying again.
        if self.store is not None:
            try:
                self.store.store_batch_results(batch.id, results)
            except OSError as err:
                self.warn(f"could not keep the answers of batch {batch.id} ({err})")
        return results

    def _record(self, batch: Any) -> None:
        if self.store is None:
            return
        try:
            self.store.update_batch(batch.id, **seen(batch))
        except OSError as err:
            self.warn(f"could not record the status of batch {batch.id} ({err})")

    def _give(self, request: BatchRequest, answer: str, paid: bool = True) -> None:
        """Hand an answer to the extractor; `paid`: its tokens count in this run's cost
        (False for one an earlier run downloaded and counted)."""
        try:
            completion = json.loads(answer)
        except ValueError:
            return  # not JSON: the ordinary call answers instead
        if isinstance(completion, dict):
            self.extractor.answer_from_batch(request.body, completion, paid)

    def _error(self, err: BaseException, doing: str) -> BriefgenError:
        return endpoint_error(
            err,
            self.settings,
            doing,
            "the endpoint has no Batch API, or not for this model; run without --batch",
        )


def _result(line: str) -> tuple[str, tuple[str | None, str | None]] | None:
    """(custom id, (answer, error)) from one line of a batch's output or error file."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
        return None
    response: dict[str, Any] = data["response"] if isinstance(data.get("response"), dict) else {}
    error: dict[str, Any] | None = data["error"] if isinstance(data.get("error"), dict) else None
    body = response.get("body")
    status = response.get("status_code")
    if status == 200 and isinstance(body, dict) and error is None:
        return data["custom_id"], (json.dumps(body, ensure_ascii=False), None)
    if error is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
    said = (error or {}).get("message") or (error or {}).get("code") or f"status {status}"
    code = (error or {}).get("code")
    return data["custom_id"], (None, f"{code}: {said}" if code and code != said else str(said))


def _batch_errors(batch: Any) -> str:
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    shown = [
        f"{getattr(e, 'code', None) or 'error'}: {getattr(e, 'message', None) or ''}".strip()
        + (f" (line {e.line})" if getattr(e, "line", None) else "")
        for e in errors[:3]
    ]
    return "; ".join(shown) or "no reason given"


def _count(batch: Any, which: str) -> int:
    """One of a batch's request counts ("completed", "failed", "total"); 0 if not given."""
    return int(getattr(getattr(batch, "request_counts", None), which, 0) or 0)


def seen(batch: Any) -> dict[str, Any]:
    """What the endpoint says of a batch, as the state database keeps it (`update_batch`)."""
    return {
        "status": batch.status,
        "completed": _count(batch, "completed"),
        "failed": _count(batch, "failed"),
        "output_file": batch.output_file_id,
        "error_file": batch.error_file_id,
        "errors": _batch_errors(batch) if batch.status == "failed" else None,
    }


def kept_batches(
    store: Cache | None, custom_ids: list[str], endpoint: str
) -> dict[str, dict[str, Any]]:
    """Per custom id, the kept batch that holds (or may still give) its answer; OSError if
    the state database cannot be read."""
    return {} if store is None else store.batch_for(custom_ids, endpoint)


def _progress(batch: Any, requests: int) -> BatchProgress:
    return BatchProgress(
        str(batch.id),
        str(batch.status),
        _count(batch, "completed"),
        _count(batch, "failed"),
        _count(batch, "total") or requests,
    )


def _chunks(
    lines: Sequence[tuple[BatchRequest, bytes]],
) -> list[list[tuple[BatchRequest, bytes]]]:
    """The requests and their JSONL lines in runs that each fit one batch."""
    chunks: list[list[tuple[BatchRequest, bytes]]] = []
    current: list[tuple[BatchRequest, bytes]] = []
    size = 0
    for request, line in lines:
        if current and (len(current) >= MOST_REQUESTS or size + len(line) > MOST_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append((request, line))
        size += len(line)
    if current:
        chunks.append(current)
    return chunks

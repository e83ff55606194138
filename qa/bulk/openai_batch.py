"""The `openai-batch` engine: the OpenAI Batch API, at half the price, for work that can wait.

1. Every pending item's steps (`qa.bulk.work.item_steps`, the steps `qa.summarize` and
   `qa.ask` run) are started; the first request each one yields is a line of the batch
   input file: `{"custom_id": <item key>, "method": "POST", "url": "/v1/chat/completions",
   "body": <the very body qa would send online>}`. Bodies carry no credentials.
2. The file is uploaded (`files.create(purpose="batch")`) and the batch created
   (`batches.create`); its file id, batch id and keys go into the output's state file at
   once, so an interrupted command collects that batch when run again instead of paying
   for another. A crash between upload and create is found again by the file id.
3. The batch is polled (`batches.retrieve`) with a growing wait until it is completed,
   failed, expired or cancelled. Then its output and error files are downloaded.
4. Each reply is sent into its item's steps as a `Completion`: validation, grounding and
   abstention are the same code as online. When the steps want another call (a re-ask
   after invalid output, or the next part of a long article) it is made online through
   `qa.backends.driver.run`, for at most `online_limit` items; past that, the item is reported with
   a `BatchAPIError` (rerun with `--retry-errors` to put them in a new batch).
   A request in the error file, or left undone by an expired or failed batch, is recorded
   with a `BatchAPIError` carrying the API's code (`batch_expired`, ...).

Batches hold at most `max_requests` lines and `max_bytes` bytes (the API takes 50,000
requests and 200 MB); a larger run makes several, created together and collected as each
one ends. Costs in the records are estimated at online prices; the report's note gives
the Batch API's discount. Reading and writing the batch files, and handing replies to the
steps, is `qa.bulk.batch_files`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from qa.bulk.batch_files import (
    ENDPOINT,
    batch_discount,
    batch_line,
    batch_problem,
    completion_from_body,
    continued,
    parse_batch_file,
    reply_outcome,
    throw_for_request,
    throw_into,
)
from qa.bulk.output import BatchState
from qa.bulk.work import WorkItem, item_steps, read_article, record_of
from qa.errors import BatchAPIError, BrokenReplyError, ConfigError

if TYPE_CHECKING:
    from qa.backends.backend import Backend
    from qa.bulk.records import RunRecord
    from qa.bulk.runner import Job
    from qa.core.structured import ChatRequest, Steps
    from qa.text.article import Article

__all__ = ["TERMINAL", "OpenAIBatchEngine"]

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
"""Batch statuses that do not change any more."""
_LIST_PAGES = 5  # pages of `batches.list` searched for a batch created just before a crash


@dataclass
class _Open:
    """An item whose steps wait for their first reply."""

    item: WorkItem
    article: Article
    steps: Steps[Any]
    request: ChatRequest


@dataclass(frozen=True)
class OpenAIBatchEngine:
    """The OpenAI Batch API (see the module docstring)."""

    poll_interval: float = 30.0
    """Seconds before the first status check; each later wait is `backoff` times longer."""
    max_poll_interval: float = 600.0
    """The longest wait between two checks."""
    backoff: float = 1.5
    online_limit: int = 100
    """Items whose reply needs more calls online (re-asks, long articles) at most; the rest are reported."""
    concurrency: int = 4
    """Online calls in flight at once."""
    max_requests: int = 50_000
    """Lines per batch (the API takes 50,000 at most)."""
    max_bytes: int = 190_000_000
    """Bytes per batch input file (the API takes 200 MB at most)."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    """How to wait between polls (tests pass their own)."""

    name = "openai-batch"

    def __post_init__(self) -> None:
        if self.poll_interval < 0 or self.max_poll_interval < self.poll_interval or self.backoff < 1:
            raise ConfigError("poll_interval must be >= 0, max_poll_interval >= poll_interval and backoff >= 1")
        if self.online_limit < 0 or self.concurrency < 1 or not 1 <= self.max_requests <= 50_000:
            raise ConfigError("online_limit >= 0, concurrency >= 1 and 1 <= max_requests <= 50000 are needed")

    def check(self, backend: Backend) -> None:
        """Refuse backends without a Batch API before anything is read or written."""
        if backend.profile.local:
            raise ConfigError(
                "the openai-batch engine needs a server with the Batch API (--backend openai), not the embedded model"
            )
        if backend.settings.record_mode != "off":
            raise ConfigError("the openai-batch engine talks to the Batch API itself: use --record-mode off")

    # -- the run ------------------------------------------------------------------

    def run(self, job: Job) -> None:
        """Collect the batches the state file holds, batch what is left, poll, and finish every item."""
        backend = job.backend()
        opened, failed = self._open(job, backend)
        job.write(failed)
        state = job.log.state
        for held in state.batches:
            self._check_requests(held, opened, job)
        queued = {key for held in state.batches for key in held.keys}
        for keys in self._chunks([key for key in opened if key not in queued], opened):
            self._submit(keys, opened, job, backend)
        for held in list(state.batches):
            if held.batch_id is None:
                self._create(held, job, backend)
        online = _OnlineBudget(self.online_limit)
        for held, batch in self._poll(job, backend):
            self._collect(held, batch, opened, job, backend, online)
            state.batches.remove(held)
            job.log.save_state()
        if online.refused:
            job.notes.append(f"{online.refused} item(s) needed more calls online past --online-limit {self.online_limit}: "
                             "rerun with --retry-errors to batch them again")  # fmt: skip

    def _open(self, job: Job, backend: Backend) -> tuple[dict[str, _Open], list[RunRecord]]:
        """Start every item's steps up to its first request; items that cannot start are records."""
        opened: dict[str, _Open] = {}
        failed: list[RunRecord] = []
        for item in job.items:
            article = read_article(item)
            if isinstance(article, BaseException):
                failed.append(record_of(item, job.task, None, article))
                continue
            steps = item_steps(item, article, job.task, backend)
            try:
                opened[item.key] = _Open(item, article, steps, next(steps))
            except Exception as exc:  # noqa: BLE001 - e.g. an article too long for the context
                failed.append(record_of(item, job.task, article, exc))
        return opened, failed

    def _chunks(self, keys: Sequence[str], opened: dict[str, _Open]) -> Iterator[list[str]]:
        """`keys` cut into batches of at most `max_requests` lines and `max_bytes` bytes."""
        chunk: list[str] = []
        size = 0
        for key in keys:
            line = len(batch_line(key, opened[key].request))
            if chunk and (len(chunk) >= self.max_requests or size + line > self.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(key)
            size += line
        if chunk:
            yield chunk

    @staticmethod
    def _file(keys: Sequence[str], opened: dict[str, _Open]) -> bytes:
        return b"".join(batch_line(key, opened[key].request) for key in keys)

    def _check_requests(self, held: BatchState, opened: dict[str, _Open], job: Job) -> None:
        keys = [key for key in held.keys if key in opened]
        if len(keys) == len(held.keys) and hashlib.sha256(self._file(keys, opened)).hexdigest() != held.requests_sha256:
            raise ConfigError(
                f"{job.log.state_file}: batch {held.batch_id or held.input_file_id} was made from other requests than this "
                "run would send (a setting or qa changed since). Run it with what made it to collect it, or move the state "
                "file away to start over (the batch would then be paid again)."
            )

    def _submit(self, keys: Sequence[str], opened: dict[str, _Open], job: Job, backend: Backend) -> None:
        data = self._file(keys, opened)
        job.status(f"uploading a batch of {len(keys)} requests ({len(data):,} bytes)")
        uploaded = _call("upload the batch input file", lambda: backend.client.files.create(
            file=("qa-run-batch.jsonl", data, "application/jsonl"), purpose="batch"))  # fmt: skip
        held = BatchState(
            input_file_id=uploaded.id, batch_id=None, keys=list(keys), requests_sha256=hashlib.sha256(data).hexdigest()
        )
        job.log.state.batches.append(held)
        job.log.save_state()
        self._create(held, job, backend)

    def _create(self, held: BatchState, job: Job, backend: Backend) -> None:
        """Create the batch for an uploaded file, or adopt the one a crashed run created for it."""
        found = None
        pages = _call("list batches", lambda: backend.client.batches.list(limit=100))
        for page_no, page in enumerate(_pages(pages)):
            found = next((b for b in page.data if b.input_file_id == held.input_file_id), None)
            if found is not None or page_no + 1 >= _LIST_PAGES:
                break
        if found is None:
            found = _call("create the batch", lambda: backend.client.batches.create(
                input_file_id=held.input_file_id, endpoint=ENDPOINT, completion_window="24h",
                metadata={"created_by": "qa run", "requests_sha256": held.requests_sha256[:16]},
            ))  # fmt: skip
        held.batch_id = found.id
        job.log.save_state()
        job.status(f"batch {found.id} created: {len(held.keys)} requests")

    def _poll(self, job: Job, backend: Backend) -> Iterator[tuple[BatchState, Any]]:
        """Each held batch with its final state, as each one ends."""
        waiting = list(job.log.state.batches)
        interval = self.poll_interval
        first = True
        while waiting:
            for held in list(waiting):
                assert held.batch_id is not None  # every held batch is created (`_create`) before the polling
                batch = _call("check the batch", partial(backend.client.batches.retrieve, held.batch_id))
                if batch.status in TERMINAL:
                    waiting.remove(held)
                    yield held, batch
                else:
                    counts = batch.request_counts
                    done = (
                        f", {counts.completed + counts.failed}/{counts.total} done" if counts and counts.total else ""
                    )
                    job.status(f"batch {batch.id}: {batch.status}{done}; next check in {interval:.0f} s")
            if waiting:
                if not first:
                    interval = min(self.max_poll_interval, interval * self.backoff)
                first = False
                self.sleep(interval)

    def _collect(
        self, held: BatchState, batch: Any, opened: dict[str, _Open], job: Job, backend: Backend, online: _OnlineBudget
    ) -> None:
        """Finish the items of an ended batch: replies into their steps, errors recorded."""
        from qa.backends.driver import stamp_provenance

        rows = {**_download(backend, batch.error_file_id), **_download(backend, batch.output_file_id)}
        why = batch_problem(batch)
        keys = [key for key in held.keys if key in opened]
        job.status(f"batch {batch.id} {batch.status}: {len(rows)} of {len(held.keys)} replies")
        later: list[tuple[_Open, ChatRequest | BaseException]] = []
        records: list[RunRecord] = []
        discount = 0.0
        for key in keys:
            entry = opened.pop(key)
            outcome = reply_outcome(rows.get(key), why)
            if isinstance(outcome, BaseException):
                records.append(record_of(entry.item, job.task, entry.article, outcome))
                continue
            try:
                completion = completion_from_body(outcome, entry.request, backend)
                discount += batch_discount(backend, completion)
                request = entry.steps.send(completion)
            except StopIteration as stop:
                records.append(record_of(entry.item, job.task, entry.article, stamp_provenance(stop.value, backend)))
            except BrokenReplyError as exc:  # a body that is not a completion: the steps send it again
                later.append((entry, throw_for_request(entry.steps, exc)))
            except Exception as exc:  # noqa: BLE001 - the steps' verdict on the reply (refusal, ...)
                records.append(record_of(entry.item, job.task, entry.article, exc))
            else:
                later.append((entry, request))
        job.write(records)
        if discount:
            job.notes.append(
                f"batch {batch.id}: the Batch API bills its calls at half price: about ${discount:,.4f} less than the costs shown"
            )
        self._online(later, job, backend, online)

    def _online(
        self, later: list[tuple[_Open, ChatRequest | BaseException]], job: Job, backend: Backend, online: _OnlineBudget
    ) -> None:
        """Items whose steps want more calls: run them online (within the budget) and record them."""
        from qa.backends.driver import run

        def finish(entry: _Open, request: ChatRequest | BaseException) -> RunRecord:
            if isinstance(request, BaseException):
                return record_of(entry.item, job.task, entry.article, request)
            if not online.take():
                refusal = BatchAPIError(
                    f"the batch reply needs more calls online and the online limit ({self.online_limit} items) is reached",
                    code="online_limit",
                )
                return record_of(entry.item, job.task, entry.article, throw_into(entry.steps, refusal))
            try:
                result = run(continued(entry.steps, request), backend)
            except Exception as exc:  # noqa: BLE001 - a failed item is recorded
                return record_of(entry.item, job.task, entry.article, exc)
            return record_of(entry.item, job.task, entry.article, result)

        if not later:
            return
        job.status(f"{len(later)} item(s) need more calls online (re-asks, long articles)")
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="qa-batch") as pool:
            futures = [pool.submit(finish, entry, request) for entry, request in later]
            for future in as_completed(futures):
                job.write([future.result()])


class _OnlineBudget:
    """How many items may still go online (thread-safe enough: taken from one pool, counted under a lock)."""

    def __init__(self, limit: int) -> None:
        import threading

        self.left, self.refused = limit, 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left > 0:
                self.left -= 1
                return True
            self.refused += 1
            return False


def _call(what: str, fn: Callable[[], Any]) -> Any:
    """A Files or Batches call; an SDK error becomes `BatchAPIError` (exit 4; the state file is kept)."""
    import openai

    try:
        return fn()
    except openai.OpenAIError as exc:
        raise BatchAPIError(f"cannot {what}: {exc}", code=getattr(exc, "code", None)) from exc


def _pages(first: Any) -> Iterator[Any]:
    page = first
    while page is not None:
        yield page
        page = page.get_next_page() if page.has_next_page() else None


def _download(backend: Backend, file_id: str | None) -> dict[str, dict[str, Any]]:
    """The lines of a batch output or error file by custom_id (none without a file)."""
    if not file_id:
        return {}
    return parse_batch_file(
        _call(f"download the batch file {file_id}", lambda: backend.client.files.content(file_id).read())
    )

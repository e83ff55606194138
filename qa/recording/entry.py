"""What one recording holds, how its key is computed, and how it is read and written.

A recording is one JSON file per request, named `<key[:16]>.json`, written with
`indent=2`, sorted keys and a trailing newline so that a change to it reads well in a diff.

The key is the sha256 of the method, the URL path (with its query, without scheme and
host: one recording serves any `base_url`) and the request body as canonical JSON
(`sort_keys`, compact separators, `ensure_ascii=False`) after removing `VOLATILE_FIELDS`.
Headers never take part: the SDK adds per-machine `x-stainless-*` headers, and the
`x-qa-*` headers are metadata only.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator

from qa.errors import RecordingCorruptError
from qa.schemas import StrictModel

__all__ = [
    "ALLOWED_RESPONSE_HEADERS",
    "VOLATILE_FIELDS",
    "EntryMeta",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingEntry",
    "canonical_body",
    "dump_entry",
    "entry_file_name",
    "is_entry_file",
    "load_entry",
    "parse_body",
    "qa_version",
    "recording_key",
    "utc_now",
]

VOLATILE_FIELDS: tuple[str, ...] = (
    "user",  # per-end-user id: says who asked, not what was asked
    "safety_identifier",  # the newer name for `user`
    "metadata",  # caller's tags (run ids, case ids): never seen by the model
    "stream_options",  # only adds a usage chunk at the end of a stream
    "store",  # whether the provider keeps the completion: no effect on the answer
    "prompt_cache_key",  # a cache-routing hint: no effect on the answer
)
"""Top-level request-body fields left out of the key (and of miss diffs).

Everything else counts, on purpose: `seed`, `temperature`, `model`, `max_tokens` and the
messages change the answer, and `stream` changes the shape of the response (one JSON body
versus a list of chunks). `stream_options` is volatile, so a recording made without
`include_usage` replays without the final usage chunk: callers must tolerate a stream
that carries no usage.
"""

ALLOWED_RESPONSE_HEADERS: tuple[str, ...] = ("content-type",)
"""The only response headers a recording keeps. Request headers are never stored."""


class RecordedRequest(StrictModel):
    """The request a recording answers, as the key saw it."""

    method: str
    """HTTP method, upper-case."""
    path: str
    """URL path and query, without scheme and host."""
    body: Any = None
    """Request body as parsed JSON (volatile fields kept, for reading); null when empty."""


class RecordedResponse(StrictModel):
    """A successful (2xx) response, decoded."""

    status_code: int
    """HTTP status code."""
    headers: dict[str, str]
    """Allow-listed headers only (see `ALLOWED_RESPONSE_HEADERS`)."""
    body: Any = None
    """Decoded JSON body of a plain response; absent for a stream."""
    chunks: list[Any] | None = None
    """SSE `data:` payloads of a stream, in order, parsed as JSON when they are JSON
    objects or arrays, else kept as text; the end marker is kept as the text "[DONE]"."""
    events: list[str | None] | None = None
    """SSE `event:` names aligned with `chunks`; absent when the stream named none."""

    @model_validator(mode="after")
    def _body_or_chunks(self) -> RecordedResponse:
        if (self.body is None) == (self.chunks is None):
            raise ValueError("a response needs exactly one of 'body' or 'chunks'")
        if self.events is not None and (self.chunks is None or len(self.events) != len(self.chunks)):
            raise ValueError("'events' must be as long as 'chunks'")
        return self


class EntryMeta(StrictModel):
    """Where a recording came from. Never part of the key."""

    prompt: str | None = None
    """Prompt template name, from the `x-qa-prompt` request header."""
    prompt_version: str | None = None
    """Prompt version, from the `x-qa-prompt-version` request header."""
    backend: str | None = None
    """Backend name, from the `x-qa-backend` request header."""
    model: str | None = None
    """The `model` field of the request body."""
    recorded_at: str
    """When it was recorded, UTC, ISO 8601."""
    qa_version: str
    """Version of `qa` that recorded it."""


class RecordingEntry(StrictModel):
    """One recorded request and its response."""

    key: str
    """Full sha256 hex key of the request (see `recording_key`)."""
    request: RecordedRequest
    """The request, as keyed."""
    response: RecordedResponse
    """The decoded response."""
    meta: EntryMeta
    """Provenance: prompt, version, backend, model, time."""


def parse_body(content: bytes) -> Any:
    """Parse a request body: JSON when it is JSON, None when empty, else its text.

    A body that is not UTF-8 text (a file upload) is represented by its sha256, so that
    distinct bytes never share a key.
    """
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        pass
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(content)} binary bytes, sha256 {hashlib.sha256(content).hexdigest()}>"


def canonical_body(body: Any) -> str:
    """Render a parsed body as canonical JSON with `VOLATILE_FIELDS` removed."""
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in VOLATILE_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def recording_key(method: str, path: str, body: Any) -> str:
    """Return the sha256 hex key of a request: method, path and canonical body."""
    text = f"{method.upper()}\n{path}\n{canonical_body(body)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_file_name(key: str) -> str:
    """Return the file name a recording with this key is stored under."""
    return f"{key[:16]}.json"


_ENTRY_FILE = re.compile(r"[0-9a-f]{16}\.json")


def is_entry_file(name: str) -> bool:
    """Whether a file name is a recording's (`<16 hex digits>.json`)."""
    return _ENTRY_FILE.fullmatch(name) is not None


def dump_entry(entry: RecordingEntry) -> str:
    """Serialise an entry the way it is written: indent 2, sorted keys, newline at the end."""
    data = entry.model_dump(mode="json")
    data["response"] = {k: v for k, v in data["response"].items() if v is not None}
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_entry(path: Path) -> RecordingEntry:
    """Read and validate one recording file; raise `RecordingCorruptError` naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordingCorruptError(f"recording {path} cannot be read: {exc.strerror or exc}") from exc
    try:
        entry = RecordingEntry.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}" for err in exc.errors()[:3]
        )
        raise RecordingCorruptError(
            f"recording {path} is corrupt ({problems}); fix or delete it, then re-record"
        ) from exc
    if entry_file_name(entry.key) != path.name:
        raise RecordingCorruptError(
            f"recording {path} is corrupt: it holds key {entry.key[:16]}… but is named {path.name}"
        )
    return entry


@cache
def qa_version() -> str:
    """Return the installed version of `qa` (or "unknown" when not installed)."""
    try:
        return metadata.version("qa")
    except metadata.PackageNotFoundError:
        return "unknown"


def utc_now() -> str:
    """Return the current UTC time as ISO 8601 with a `Z` suffix, to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

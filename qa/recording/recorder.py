"""The recording logic, written once for both transports.

`Recorder` keys a request, replays it or explains a miss, and stores what the server
answered: plain JSON bodies after they are read, streams through a tee once they end.
It does no I/O of its own; `RecordingTransport` and `AsyncRecordingTransport` do the
sending and reading, sync or async, and call into it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, get_args

import httpx2

from qa.errors import ConfigError, ReplayMissError, SecretLeakError
from qa.recording.diff import DEFAULT_RERECORD_HINT, miss_report
from qa.recording.entry import (
    ALLOWED_RESPONSE_HEADERS,
    EntryMeta,
    RecordedRequest,
    RecordedResponse,
    RecordingEntry,
    parse_body,
    qa_version,
    recording_key,
    utc_now,
)
from qa.recording.operation import note_unrecorded
from qa.recording.store import RecordingStore, check_replay_folder
from qa.recording.streams import AsyncTee, ReplayStream, SSECapture, SyncTee, render_events
from qa.settings import redact_url

__all__ = ["Call", "RecordMode", "Recorder"]

log = logging.getLogger("qa")
RecordMode = Literal["off", "record", "replay", "auto"]
_DECODED_AWAY = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True, slots=True)
class Call:
    """One request, as the recorder sees it."""

    key: str
    method: str
    path: str
    body: Any
    prompt: str | None
    prompt_version: str | None
    backend: str | None
    secrets: tuple[str, ...]


class Recorder:
    """Everything both transports do: keys, lookup, misses, capture and storage."""

    def __init__(
        self, has_inner: bool, store: RecordingStore, mode: str, secrets: Sequence[str], rerecord_hint: str
    ) -> None:
        """Check the mode (`ConfigError` if unknown, or if it sends and there is no inner transport)."""
        if mode not in get_args(RecordMode):
            raise ConfigError(f"recording mode must be one of {', '.join(get_args(RecordMode))}, not {mode!r}")
        if mode != "replay" and not has_inner:
            raise ConfigError(f"recording mode {mode!r} calls the server, so it needs an inner transport")
        self.mode = mode
        self.store = store
        self._secrets = tuple(secrets)
        self._hint = rerecord_hint
        self._keys: ContextVar[tuple[str, ...]] = ContextVar(f"qa_recording_keys_{id(self)}", default=())

    @property
    def last_keys(self) -> tuple[str, ...]:
        """Keys handled in the current thread/task since `clear_last_keys()`."""
        return self._keys.get()

    def clear_last_keys(self) -> None:
        """Start a new `last_keys` list in the current thread/task."""
        self._keys.set(())

    def prepare(self, request: httpx2.Request) -> Call:
        """Key a request whose body has been read; note the key for `last_keys`."""
        body = parse_body(request.content)
        path = redact_url(request.url.raw_path.decode("ascii"))  # no secret query values in keys or files
        call = Call(
            key=recording_key(request.method, path, body),
            method=request.method.upper(),
            path=path,
            body=body,
            prompt=request.headers.get("x-qa-prompt"),
            prompt_version=request.headers.get("x-qa-prompt-version"),
            backend=request.headers.get("x-qa-backend"),
            secrets=self._secrets + _credentials(request.headers),
        )
        self._keys.set((*self._keys.get(), call.key))
        return call

    def replay(self, call: Call, request: httpx2.Request) -> httpx2.Response | None:
        """Return the recorded response, None if the server must be called, or raise a miss."""
        if self.mode in ("replay", "auto"):
            entry = self.store.get(call.key)
            if entry is not None:
                self.store.mark_used(call.key)
                return _replayed(entry, request)
        if self.mode == "replay":
            check_replay_folder(self.store.folder, self._hint or DEFAULT_RERECORD_HINT)
            message, diff = miss_report(
                method=call.method,
                path=call.path,
                body=call.body,
                prompt=call.prompt,
                prompt_version=call.prompt_version,
                folder=self.store.folder,
                recorded=self.store.recorded_requests(),
                rerecord_hint=self._hint,
                backend=call.backend,
            )
            raise ReplayMissError(message, diff=diff)
        return None

    def before_send(self) -> None:
        """Check, before the server is called (and paid), that its answer can be recorded."""
        if self.mode in ("record", "auto"):
            self.store.ensure_writable()

    @staticmethod
    def recordable(response: httpx2.Response) -> bool:
        """Only successful responses are stored; errors pass through untouched."""
        return 200 <= response.status_code < 300

    @staticmethod
    def is_stream(response: httpx2.Response) -> bool:
        """Whether a response is a server-sent-event stream."""
        return response.headers.get("content-type", "").startswith("text/event-stream")

    def record_plain(self, call: Call, response: httpx2.Response) -> None:
        """Store a read (hence decoded) non-stream response."""
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if body is None:  # a broken reply: the run sends the request again, as it would without recording
            kind = response.headers.get("content-type", "no content-type")
            log.info(
                "not recorded: the %s response to %s %s is not JSON (%s)",
                response.status_code,
                call.method,
                call.path,
                kind,
            )
            return
        self._save(call, RecordedResponse(status_code=response.status_code, headers=_kept(response), body=body))

    def tee(self, call: Call, response: httpx2.Response, tee_class: type[SyncTee] | type[AsyncTee]) -> httpx2.Response:
        """Return a response that streams `response` on while capturing it for storage."""

        def save_stream(chunks: list[Any], events: list[str | None]) -> None:
            if not _finished(chunks):  # cut off: the run sends the request again, as it would without recording
                log.info(
                    "not recorded: the stream answering %s %s was cut off before it finished", call.method, call.path
                )
                return
            recorded = RecordedResponse(
                status_code=response.status_code,
                headers=_kept(response),
                chunks=chunks,
                events=events if any(events) else None,
            )
            self._save(call, recorded)

        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DECODED_AWAY]
        return httpx2.Response(
            response.status_code,
            headers=headers,
            stream=tee_class(response, SSECapture(save_stream)),
            extensions=response.extensions,
        )

    def _save(self, call: Call, response: RecordedResponse) -> None:
        model = call.body.get("model") if isinstance(call.body, dict) else None
        entry = RecordingEntry(
            key=call.key,
            request=RecordedRequest(method=call.method, path=call.path, body=call.body),
            response=response,
            meta=EntryMeta(
                prompt=call.prompt,
                prompt_version=call.prompt_version,
                backend=call.backend,
                model=model if isinstance(model, str) else None,
                recorded_at=utc_now(),
                qa_version=qa_version(),
            ),
        )
        try:
            self.store.put(entry, secrets=call.secrets, allowed=_request_texts(call.body))
        except (SecretLeakError, OSError) as exc:  # the answer is the caller's all the same: never raise into the call
            note_unrecorded(
                str(exc)
                if isinstance(exc, SecretLeakError)
                else f"cannot write into {self.store.folder}: {exc.strerror or exc}"
            )


def _finished(chunks: list[Any]) -> bool:
    """Whether a chat completion stream got as far as a finish_reason (other streams: True)."""
    chat = [c for c in chunks if isinstance(c, dict) and "choices" in c]
    choices = [choice for c in chat for choice in (c["choices"] or []) if isinstance(choice, dict)]
    return not chat or any(choice.get("finish_reason") for choice in choices)


def _request_texts(body: Any) -> tuple[str, ...]:
    """What the request's system and user messages say (the article, the question): a
    key-looking string there is the user's text, not a leaked key (see `qa.recording.leaks`)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    texts: list[str] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict) or message.get("role") not in ("system", "user"):
            continue
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"text": content}]
        texts += [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return tuple(texts)


def _credentials(headers: httpx2.Headers) -> tuple[str, ...]:
    """The key the request itself carries, so it is refused even if not configured."""
    found = []
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found.append(auth[7:].strip())
    if headers.get("api-key"):
        found.append(headers["api-key"])
    return tuple(found)


def _kept(response: httpx2.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in ALLOWED_RESPONSE_HEADERS if name in response.headers}


def _replayed(entry: RecordingEntry, request: httpx2.Request) -> httpx2.Response:
    recorded = entry.response
    headers = dict(recorded.headers)
    if recorded.chunks is not None:
        stream = ReplayStream(render_events(recorded.chunks, recorded.events))
        return httpx2.Response(recorded.status_code, headers=headers, stream=stream, request=request)
    headers.setdefault("content-type", "application/json")
    content = json.dumps(recorded.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return httpx2.Response(recorded.status_code, headers=headers, content=content, request=request)

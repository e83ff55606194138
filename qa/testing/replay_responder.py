"""A `FaultServer` responder that answers from a folder of recorded responses.

    responder = ReplayResponder("evals/recordings/seed")
    with FaultServer(responder, fault_rate=0.3, seed=7) as server:
        ...  # point qa at server.base_url: every answer is what the recorded model said

Lookup, in order (`stats` counts which one answered):

1. exact: the request's key, computed by `qa.recording.recording_key` (the recorder's
   own function), names a recording;
2. exact without streaming: a `stream: true` request whose non-stream twin was recorded
   (the server streams the recorded content itself);
3. nearest: qa re-asks after an injected fault (a truncated reply, `{"unexpected": true}`)
   by appending messages, so its body was never recorded. The answer is then the recording
   whose messages share the longest prefix with the request (at least the system message
   and the article-and-question message), preferring one whose other fields (model, seed,
   max_tokens, response_format) are the same and, among equals, the one with the fewest
   messages: what the model said to the original question.

A request that shares fewer than two messages with every recording raises
`ReplayMissError`; the server turns that into a 500 (`responder failed: ...`), so a miss
shows up as an `APICallError` in the run, never as a made-up answer.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from qa.errors import ReplayMissError
from qa.recording import VOLATILE_FIELDS, RecordingEntry, RecordingStore, recording_key

__all__ = ["CHAT_PATH", "MIN_SHARED_MESSAGES", "ReplayResponder", "recorded_answer"]

CHAT_PATH = "/v1/chat/completions"
"""The path every recording this responder uses was made on (the key includes it)."""
MIN_SHARED_MESSAGES = 2
"""A nearest recording must share at least the system and the first user message."""
_UNKEYED = frozenset({"messages", "stream", *VOLATILE_FIELDS})


def recorded_answer(entry: RecordingEntry) -> dict[str, Any]:
    """`{"content", "finish_reason"}` of a recorded chat completion, plain or streamed, with
    `"logprobs"` when a plain one recorded them (a server that returns logprobs serves them)."""
    response = entry.response
    if response.chunks is None:
        choice = response.body["choices"][0]
        content = choice["message"].get("content") or ""
        answer = {"content": content, "finish_reason": choice.get("finish_reason") or "stop"}
        return answer | ({"logprobs": choice["logprobs"]} if choice.get("logprobs") else {})
    parts: list[str] = []
    finish = "stop"
    for chunk in response.chunks:
        if not isinstance(chunk, dict):
            continue  # the "[DONE]" marker
        for choice in chunk.get("choices") or []:
            parts.append((choice.get("delta") or {}).get("content") or "")
            finish = choice.get("finish_reason") or finish
    return {"content": "".join(parts), "finish_reason": finish}


def _shared_prefix(a: list[Any], b: list[Any]) -> int:
    n = 0
    for left, right in zip(a, b, strict=False):
        if left != right:
            break
        n += 1
    return n


def _rest(body: dict[str, Any]) -> str:
    """The body's fields other than messages, streaming and volatile ones, canonically."""
    return json.dumps({k: v for k, v in body.items() if k not in _UNKEYED}, sort_keys=True)


@dataclass(frozen=True)
class _Recorded:
    key: str
    messages: list[Any]
    rest: str


class ReplayResponder:
    """Answers chat completion bodies with recorded content (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        """Read recordings from `folder` (lazily; nothing is ever written there)."""
        self.store = RecordingStore(folder, usage_log_at_exit=False)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._recorded: list[_Recorded] | None = None

    @property
    def stats(self) -> dict[str, int]:
        """How requests were answered so far: exact, exact_unstreamed, nearest, miss."""
        with self._lock:
            return {kind: self._counts[kind] for kind in ("exact", "exact_unstreamed", "nearest", "miss")}

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        """The recorded answer for `body`; `ReplayMissError` when nothing is near enough."""
        entry = self.store.get(recording_key("POST", CHAT_PATH, body))
        kind = "exact"
        if entry is None and body.get("stream"):
            plain = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
            entry, kind = self.store.get(recording_key("POST", CHAT_PATH, plain)), "exact_unstreamed"
        if entry is None:
            entry, kind = self._nearest(body), "nearest"
        self._count(kind)
        return recorded_answer(entry)

    def _count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def _index(self) -> list[_Recorded]:
        with self._lock:
            if self._recorded is None:  # recorded_requests() is sorted by file name, i.e. by key
                self._recorded = [
                    _Recorded(r.key, list(r.body.get("messages") or []), _rest(r.body))
                    for r in self.store.recorded_requests()
                    if r.method == "POST" and r.path == CHAT_PATH and isinstance(r.body, dict)
                ]
            return self._recorded

    def _nearest(self, body: dict[str, Any]) -> RecordingEntry:
        messages, rest = list(body.get("messages") or []), _rest(body)
        ranked = [
            ((recorded.rest == rest, shared, -len(recorded.messages)), recorded.key)
            for recorded in self._index()
            if (shared := _shared_prefix(messages, recorded.messages)) >= MIN_SHARED_MESSAGES
        ]
        best = max(ranked, key=lambda item: item[0], default=None)  # the first of equals: the index is sorted
        entry = None if best is None else self.store.get(best[1])
        if entry is None:
            self._count("miss")
            raise ReplayMissError(
                f"no recording in {self.store.folder} shares its first {MIN_SHARED_MESSAGES} messages with this request"
            )
        return entry

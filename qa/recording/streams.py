"""Server-sent-event streams: capture them while they pass through, replay them as chunks.

Recording never buffers a stream before the caller sees it: `SyncTee`/`AsyncTee` hand each
decoded chunk on as it arrives and feed a copy to an `SSECapture`, which parses events
incrementally and calls back once the stream has ended. Replay renders each recorded
event as one `data: ...\\n\\n` chunk, sync or async, through one `ReplayStream` class.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx2

__all__ = ["DONE_MARKER", "AsyncTee", "ReplayStream", "SSECapture", "SyncTee", "render_events"]

DONE_MARKER = "[DONE]"
"""The data payload that ends an OpenAI-style stream; recorded as a chunk like any other."""

OnComplete = Callable[[list[Any], list[str | None]], None]


class SSECapture:
    """Parse SSE bytes into (event name, data payload) pairs as they arrive."""

    def __init__(self, on_complete: OnComplete) -> None:
        """`on_complete(chunks, events)` is called once, when the stream has ended."""
        self._on_complete = on_complete
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._chunks: list[Any] = []
        self._events: list[str | None] = []
        self._saw_done = False
        self._finished = False

    def feed(self, data: bytes) -> None:
        """Take the next decoded bytes of the stream."""
        self._buffer += self._decoder.decode(data)
        *blocks, self._buffer = self._buffer.replace("\r\n", "\n").split("\n\n")
        for block in blocks:
            self._take(block)

    def _take(self, block: str) -> None:
        data: list[str] = []
        event: str | None = None
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
        if not data:
            return
        text = "\n".join(data)
        self._saw_done = self._saw_done or text == DONE_MARKER
        self._chunks.append(_parse_payload(text))
        self._events.append(event)

    def finish(self, *, exhausted: bool) -> None:
        """End the capture. It is stored if the stream was read to its end or sent `[DONE]`."""
        if self._finished:
            return
        self._finished = True
        self._buffer += self._decoder.decode(b"", final=True)
        if self._buffer.strip():
            self._take(self._buffer.replace("\r\n", "\n"))
        if exhausted or self._saw_done:
            self._on_complete(self._chunks, self._events)


def _parse_payload(text: str) -> Any:
    """Keep a JSON object or array parsed (readable in the file); anything else as text."""
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def render_events(chunks: Sequence[Any], events: Sequence[str | None] | None) -> list[bytes]:
    """Render recorded chunks back into SSE wire format, one bytes object per event."""
    rendered: list[bytes] = []
    for index, chunk in enumerate(chunks):
        text = chunk if isinstance(chunk, str) else json.dumps(chunk, ensure_ascii=False, separators=(",", ":"))
        event = events[index] if events else None
        lines = [f"event: {event}"] if event else []
        lines.extend(f"data: {line}" for line in text.split("\n"))
        rendered.append(("\n".join(lines) + "\n\n").encode("utf-8"))
    return rendered


class ReplayStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A recorded stream, replayed event by event to a sync or an async client."""

    def __init__(self, parts: Sequence[bytes]) -> None:
        """`parts` are the rendered events, in order."""
        self._parts = tuple(parts)

    def __iter__(self) -> Iterator[bytes]:
        """Yield each event's bytes."""
        yield from self._parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield each event's bytes."""
        for part in self._parts:
            yield part


class SyncTee(httpx2.SyncByteStream):
    """Pass a live response's decoded bytes on, chunk by chunk, while capturing them."""

    def __init__(self, response: httpx2.Response, capture: SSECapture) -> None:
        """Wrap `response` (not yet read); `capture` receives a copy of every chunk."""
        self._response = response
        self._capture = capture

    def __iter__(self) -> Iterator[bytes]:
        """Yield chunks as they arrive; store the recording once the stream ends."""
        for chunk in self._response.iter_bytes():
            self._capture.feed(chunk)
            yield chunk
        self._capture.finish(exhausted=True)

    def close(self) -> None:
        """Close the live response; a stream abandoned before `[DONE]` is not stored."""
        self._response.close()
        self._capture.finish(exhausted=False)


class AsyncTee(httpx2.AsyncByteStream):
    """The async twin of `SyncTee`: only the I/O differs, the capture is shared."""

    def __init__(self, response: httpx2.Response, capture: SSECapture) -> None:
        """Wrap `response` (not yet read); `capture` receives a copy of every chunk."""
        self._response = response
        self._capture = capture

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield chunks as they arrive; store the recording once the stream ends."""
        async for chunk in self._response.aiter_bytes():
            self._capture.feed(chunk)
            yield chunk
        self._capture.finish(exhausted=True)

    async def aclose(self) -> None:
        """Close the live response; a stream abandoned before `[DONE]` is not stored."""
        await self._response.aclose()
        self._capture.finish(exhausted=False)

"""Record and replay model calls at the SDK's HTTP transport seam.

    transport = RecordingTransport(httpx2.HTTPTransport(), RecordingStore(folder), "auto")
    client = openai.OpenAI(base_url=..., api_key=..., http_client=httpx2.Client(transport=transport))

Modes: "off" delegates; "record" calls through and stores every 2xx response (except a
broken one: a body that is not JSON, a stream cut before its finish_reason); "replay"
answers only from recordings and fails closed (`ReplayMissError`; the inner transport may
be None, so no network and no key are needed); "auto" replays what it has and records the
rest. All the logic lives in `recorder.Recorder`; `RecordingTransport` and
`AsyncRecordingTransport` differ only in how they await I/O.

Keeping only the final attempt of a re-ask loop: each attempt sends a different body, so
each has its own key. `last_keys` lists, per thread / asyncio task (a ContextVar), the keys
handled since `clear_last_keys()`. The caller's loop can then drop the attempts it
superseded:

    transport.clear_last_keys()
    ...run the loop until an attempt succeeds...
    transport.discard_superseded(transport.last_keys[:-1])

`discard_superseded` deletes only recordings written by this process, never replayed ones,
and does nothing in replay mode.
Note that replaying such a loop sends the first attempt again: if its recording was
discarded, that replay misses. Discard only attempts that a replay will not repeat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx2

from qa.recording.recorder import Recorder, RecordMode
from qa.recording.store import RecordingStore
from qa.recording.streams import AsyncTee, SyncTee

__all__ = ["AsyncRecordingTransport", "RecordMode", "RecordingTransport"]


class _RecorderAccess:
    """What callers use on either transport: the store, `last_keys` and discards."""

    _core: Recorder

    @property
    def store(self) -> RecordingStore:
        """The store this transport reads and writes."""
        return self._core.store

    @property
    def mode(self) -> str:
        """The recording mode: off, record, replay or auto."""
        return self._core.mode

    @property
    def last_keys(self) -> tuple[str, ...]:
        """Keys of the requests handled in this thread/task since `clear_last_keys()`, in order."""
        return self._core.last_keys

    def clear_last_keys(self) -> None:
        """Start a new `last_keys` list for this thread/task (e.g. before a re-ask loop)."""
        self._core.clear_last_keys()

    def discard_superseded(self, keys: Iterable[str]) -> list[Path]:
        """Delete the recordings of `keys` that this process wrote; return the files deleted.

        A no-op in replay mode, which never changes the recordings folder."""
        if self._core.mode == "replay":
            return []
        written = self._core.store.written_this_run()
        return self._core.store.discard([k for k in keys if k in written])


class RecordingTransport(_RecorderAccess, httpx2.BaseTransport):
    """Sync transport that records and replays; see the module docstring."""

    def __init__(
        self,
        inner: httpx2.BaseTransport | None,
        store: RecordingStore,
        mode: RecordMode,
        *,
        secrets: Sequence[str] = (),
        rerecord_hint: str = "",
    ) -> None:
        """`inner` sends to the server (None is allowed in replay mode only); `secrets` are
        exact values never to be written; `rerecord_hint` is the command a miss prints."""
        self._inner = inner
        self._core = Recorder(inner is not None, store, mode, secrets, rerecord_hint)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Replay, or call through and record, one request."""
        core = self._core
        if core.mode == "off":
            return self._send(request)
        request.read()
        call = core.prepare(request)
        replayed = core.replay(call, request)
        if replayed is not None:
            return replayed
        core.before_send()
        response = self._send(request)
        if not core.recordable(response):
            return response
        if core.is_stream(response):
            return core.tee(call, response, SyncTee)
        response.read()
        core.record_plain(call, response)
        return response

    def _send(self, request: httpx2.Request) -> httpx2.Response:
        assert self._inner is not None  # Recorder refuses modes that send without one
        return self._inner.handle_request(request)

    def close(self) -> None:
        """Close the inner transport."""
        if self._inner is not None:
            self._inner.close()


class AsyncRecordingTransport(_RecorderAccess, httpx2.AsyncBaseTransport):
    """Async transport that records and replays; the same logic as `RecordingTransport`."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport | None,
        store: RecordingStore,
        mode: RecordMode,
        *,
        secrets: Sequence[str] = (),
        rerecord_hint: str = "",
    ) -> None:
        """Arguments as for `RecordingTransport`."""
        self._inner = inner
        self._core = Recorder(inner is not None, store, mode, secrets, rerecord_hint)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Replay, or call through and record, one request."""
        core = self._core
        if core.mode == "off":
            return await self._send(request)
        await request.aread()
        call = core.prepare(request)
        replayed = core.replay(call, request)
        if replayed is not None:
            return replayed
        core.before_send()
        response = await self._send(request)
        if not core.recordable(response):
            return response
        if core.is_stream(response):
            return core.tee(call, response, AsyncTee)
        await response.aread()
        core.record_plain(call, response)
        return response

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        assert self._inner is not None  # Recorder refuses modes that send without one
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        if self._inner is not None:
            await self._inner.aclose()

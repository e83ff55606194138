"""Run a model call in a worker thread, so that Ctrl-C can abandon it without ending the session.

The main thread waits for the call's streamed deltas and shows them; Ctrl-C arrives there
as KeyboardInterrupt. It sets a flag, and the worker's next delta raises inside the SDK's
stream loop: the stream is closed (the embedded model stops generating and is released)
and the call ends. A call that streams nothing (a summary) cannot be stopped early: its
result is abandoned, and the next `run` waits for it to finish first.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["Interrupted", "ModelRunner", "TextCallback"]

T = TypeVar("T")
TextCallback = Callable[[str], None]


class Interrupted(Exception):
    """The user pressed Ctrl-C while a model call was running; the call was abandoned."""


class _Cancelled(BaseException):
    """Raised in the worker, from the stream callback, to abandon a cancelled call."""


class ModelRunner:
    """Runs one model call at a time in a worker thread, so that Ctrl-C can abandon it."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """True while a (possibly abandoned) call is still running."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running call to end; return True if none is running any more."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.busy

    def run(
        self,
        call: Callable[[TextCallback], T],
        on_delta: TextCallback | None = None,
        *,
        discard: Callable[[T], None] | None = None,
    ) -> T:
        """Run `call(on_text)` in the worker; pass each streamed delta to `on_delta` here.

        Raises `Interrupted` on Ctrl-C: the worker stops at its next delta. A call that
        completes anyway (it was past its last delta) has its result passed to `discard`,
        exactly once, so that a cancelled turn leaves no trace. Other errors are re-raised.
        """
        self.wait()
        deltas: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        cancel = threading.Event()
        lock = threading.Lock()  # orders "the call finished" against "the user cancelled"
        outcome: dict[str, Any] = {}

        def on_text(delta: str) -> None:
            if cancel.is_set():
                raise _Cancelled()
            deltas.put(("text", delta))

        def work() -> None:
            try:
                result = call(on_text)
            except _Cancelled:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                outcome["error"] = exc
            else:
                with lock:
                    outcome["result"] = result
                    if cancel.is_set() and discard is not None:
                        discard(result)
            finally:
                deltas.put(("done", None))

        self._thread = threading.Thread(target=work, name="qa-chat-model", daemon=True)
        self._thread.start()
        try:
            while True:
                try:
                    kind, value = deltas.get(timeout=0.1)
                except queue.Empty:
                    continue
                if kind == "done":
                    break
                if on_delta is not None:
                    on_delta(value)
        except KeyboardInterrupt:
            with lock:
                cancel.set()
                finished = "result" in outcome
            if finished and discard is not None:
                discard(outcome["result"])  # it completed before the cancel: undo it here
            raise Interrupted() from None
        if "error" in outcome:
            raise outcome["error"]
        return cast(T, outcome["result"])  # what `call` returned

"""Keep what an operation accepted: its replies are written only when it ends with a result.

    with recorded_operation():             # one CLI command, one chat turn, one eval case
        result = qa.ask(article, question, settings=settings)
    # ended with a result: every reply it recorded is written now; raised: none is

A reply the run rejected (a refusal, output still invalid or truncated after the re-asks)
must not be replayed for ever as if the model had said it for good, and a call that fails
must not leave half a conversation behind. Replies the run recovered from stay: a re-ask's
request holds the reply it corrects, so a replay needs both. Without an operation, each
reply is written as it arrives (the Python API's default).

`process_wide=True` makes the operation visible to every thread (a command whose library
call fans out to worker threads); otherwise it belongs to the current thread or asyncio
task (an eval case among concurrent ones). An operation opened inside another joins it.

Writes that fail (the disk, or the secret guard refusing a key) never raise into a model
call: the answer is kept, and the failure is noted for `take_unrecorded`, which the CLI
reports after the answer (exit 5).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.recording.entry import RecordingEntry
    from qa.recording.store import RecordingStore

__all__ = ["RecordedOperation", "current_operation", "note_unrecorded", "recorded_operation", "take_unrecorded"]

log = logging.getLogger("qa")


class RecordedOperation:
    """The replies one operation recorded, held until it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._staged: list[tuple[RecordingStore, RecordingEntry]] = []
        self.keep = True
        """Set False to drop everything at the end, though nothing was raised (an eval case
        that ended in an error is logged, not raised)."""
        self.dropped = 0
        """How many replies were dropped at the end."""

    def stage(self, store: RecordingStore, entry: RecordingEntry) -> None:
        """Hold `entry` (already checked for secrets) until the operation ends."""
        with self._lock:
            self._staged.append((store, entry))

    def _take(self) -> list[tuple[RecordingStore, RecordingEntry]]:
        with self._lock:
            staged, self._staged = self._staged, []
        return staged

    def commit(self) -> None:
        """Write every held reply; a write that fails is noted, never raised."""
        for store, entry in self._take():
            store.write_noting_failure(entry)

    def drop(self) -> None:
        """Forget every held reply."""
        staged = self._take()
        self.dropped += len(staged)
        if staged:
            log.info("not recorded: %d reply(ies) of an operation that ended in an error", len(staged))


_TASK: ContextVar[RecordedOperation | None] = ContextVar("qa_recorded_operation", default=None)
_PROCESS: list[RecordedOperation] = []
_UNRECORDED: list[str] = []
_LOCK = threading.Lock()


def current_operation() -> RecordedOperation | None:
    """The operation replies recorded here belong to: this task's or thread's, else the process's."""
    op = _TASK.get()
    if op is not None:
        return op
    with _LOCK:
        return _PROCESS[-1] if _PROCESS else None


@contextmanager
def recorded_operation(*, process_wide: bool = False) -> Iterator[RecordedOperation]:
    """Hold the replies recorded inside the block; write them if it ends normally (and
    `keep` is still True), drop them if it raises. See the module docstring."""
    outer = current_operation()
    if outer is not None:
        yield outer
        return
    op = RecordedOperation()
    if process_wide:
        with _LOCK:
            _PROCESS.append(op)
    token = None if process_wide else _TASK.set(op)
    try:
        yield op
    except BaseException:
        op.drop()
        raise
    else:
        if op.keep:
            op.commit()
        else:
            op.drop()
    finally:
        if token is not None:
            _TASK.reset(token)
        else:
            with _LOCK:
                _PROCESS.remove(op)


def note_unrecorded(message: str) -> None:
    """Note a reply that could not be written (the caller has kept the answer)."""
    log.warning("not recorded: %s", message)
    with _LOCK:
        _UNRECORDED.append(message)


def take_unrecorded() -> list[str]:
    """The write failures noted since the last call, oldest first (and forget them)."""
    with _LOCK:
        taken = list(_UNRECORDED)
        _UNRECORDED.clear()
    return taken

"""One folder of recordings: lazy lookup, safe writes, discards and the used-keys log.

The folder is listed once, at first use, into an index {key prefix -> file}; a file is
parsed only when its key is asked for, then kept in memory. The request bodies of every
recording (for a miss's nearest-match diff) are loaded only when a miss happens.

A run (one process) remembers which keys it used in each folder (`mark_used`), shared by
every store opened on that folder, so a run that makes many stores for one suite still
logs all it used. `write_usage_log` writes them to `<folder>/.last-run-used.json`, which
`qa recordings` reads to report and prune unused recordings. It is written on demand and,
for folders where the run used any key, at process exit.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import RecordingCorruptError, RecordingError
from qa.recording.entry import (
    RecordingEntry,
    dump_entry,
    entry_file_name,
    is_entry_file,
    load_entry,
    recording_key,
)
from qa.recording.leaks import check_for_secrets
from qa.recording.operation import current_operation, note_unrecorded

__all__ = [
    "USAGE_LOG_NAME",
    "RecordedRequestSummary",
    "RecordingStore",
    "check_replay_folder",
    "ensure_writable",
    "read_usage_log",
]

USAGE_LOG_NAME = ".last-run-used.json"
"""File, inside a recordings folder, listing the keys the last run used."""


@dataclass
class _FolderRun:
    """What this process did in one folder, shared by every store opened on it."""

    used: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    log_at_exit: bool = False


_RUNS: dict[Path, _FolderRun] = {}
_RUNS_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class RecordedRequestSummary:
    """What a miss diff needs from one recording."""

    key: str
    file: Path
    method: str
    path: str
    body: Any
    prompt: str | None
    prompt_version: str | None
    backend: str | None = None
    model: str | None = None


class RecordingStore:
    """The recordings of one suite, in one folder (e.g. `tests/recordings/<suite>/`)."""

    def __init__(self, folder: str | os.PathLike[str], *, usage_log_at_exit: bool = True) -> None:
        """Open (lazily) the recordings in `folder`; it need not exist until a write."""
        self.folder = Path(folder)
        self._lock = threading.RLock()
        self._index: dict[str, Path] | None = None
        self._entries: dict[str, RecordingEntry] = {}  # by key prefix, parsed on demand
        self._requests: dict[str, RecordedRequestSummary] | None = None
        self._writable = False
        with _RUNS_LOCK:
            self._run = _RUNS.setdefault(self.folder.resolve(), _FolderRun())
            self._run.log_at_exit = self._run.log_at_exit or usage_log_at_exit

    def _ensure_index(self) -> dict[str, Path]:
        with self._lock:
            if self._index is None:
                index: dict[str, Path] = {}
                if self.folder.is_dir():
                    with os.scandir(self.folder) as found:
                        for item in found:
                            if is_entry_file(item.name):
                                index[item.name[:16]] = Path(item.path)
                self._index = index
            return self._index

    def __len__(self) -> int:
        """Number of recordings in the folder (including ones written by this run)."""
        return len(self._ensure_index())

    def get(self, key: str) -> RecordingEntry | None:
        """Return the recording for `key`, or None; raise `RecordingCorruptError` if unreadable."""
        entry = self._entries.get(key[:16])
        if entry is None:
            path = self._ensure_index().get(key[:16])
            if path is None:
                return None
            entry = load_entry(path)
            with self._lock:
                self._entries[key[:16]] = entry
        # A different full key under the same 64-bit prefix is not this request's recording.
        return entry if entry.key == key else None

    def replay_body(self, method: str, path: str, body: Any) -> Any | None:
        """The recorded JSON body answering this request, or None (not recorded, or a stream).

        For callers that replay without an HTTP layer (see `qa.backends.driver`): the request is
        keyed exactly as the transport keys what it receives, and a hit is marked used.
        """
        key = recording_key(method, path, body)
        entry = self.get(key)
        if entry is None or entry.response.body is None:
            return None
        self.mark_used(key)
        return entry.response.body

    def put(self, entry: RecordingEntry, *, secrets: Sequence[str] = (), allowed: Sequence[str] = ()) -> Path:
        """Check `entry` for secrets (`SecretLeakError`; `allowed`: see `qa.recording.leaks`),
        then write it, or hold it until the current operation ends (`qa.recording.operation`)."""
        path = self.folder / entry_file_name(entry.key)
        text = dump_entry(entry)
        check_for_secrets(json.loads(text), text, secrets, where=str(path), allowed=allowed)
        operation = current_operation()
        if operation is not None:
            operation.stage(self, entry)
            return path
        return self.write(entry)

    def write(self, entry: RecordingEntry) -> Path:
        """Write an entry that `put` has checked, atomically; mark it used by this run."""
        path = self.folder / entry_file_name(entry.key)
        with self._lock:
            self._write_file(path, dump_entry(entry))
            self._ensure_index()[entry.key[:16]] = path
            self._entries[entry.key[:16]] = entry
            self._run.written.add(entry.key)
            if self._requests is not None:
                self._requests[entry.key] = _summary(entry, path)
        self.mark_used(entry.key)
        return path

    def write_noting_failure(self, entry: RecordingEntry) -> None:
        """`write`, but a failure is noted for the CLI (`note_unrecorded`) instead of raised."""
        try:
            self.write(entry)
        except OSError as exc:
            note_unrecorded(f"cannot write {self.folder / entry_file_name(entry.key)}: {exc.strerror or exc}")

    def _write_file(self, path: Path, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def ensure_writable(self) -> None:
        """`RecordingError` unless recordings can be written here: checked before a model is
        called in record or auto mode, so that no paid answer is lost to an unwritable folder."""
        if not self._writable:
            ensure_writable(self.folder)
            self._writable = True

    def discard(self, keys: Iterable[str]) -> list[Path]:
        """Delete the recordings of `keys` (missing ones are skipped); return the files deleted."""
        deleted: list[Path] = []
        with self._lock:
            index = self._ensure_index()
            for key in keys:
                path = index.pop(key[:16], None)
                self._entries.pop(key[:16], None)
                self._run.used.discard(key)
                self._run.written.discard(key)
                if self._requests is not None:
                    self._requests.pop(key, None)
                if path is not None and path.exists():
                    path.unlink()
                    deleted.append(path)
        return deleted

    def written_this_run(self) -> frozenset[str]:
        """Keys this process wrote in this folder (and has not discarded)."""
        with _RUNS_LOCK:
            return frozenset(self._run.written)

    def mark_used(self, key: str) -> None:
        """Note that this run used the recording of `key` (replayed or recorded it)."""
        with _RUNS_LOCK:
            self._run.used.add(key)

    def used_keys(self) -> frozenset[str]:
        """Keys this run has used in this folder so far, through any store."""
        with _RUNS_LOCK:
            return frozenset(self._run.used)

    def start_new_run(self) -> None:
        """Forget the keys used and written so far in this folder (a long-lived process
        starting another run); the next usage log lists only what is used from now on."""
        with _RUNS_LOCK:
            self._run.used.clear()
            self._run.written.clear()

    def write_usage_log(self) -> Path:
        """Write the sorted list of used keys to `<folder>/.last-run-used.json`; return its path."""
        path = self.folder / USAGE_LOG_NAME
        with self._lock:
            keys = sorted(self.used_keys())
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(keys, indent=2) + "\n", encoding="utf-8")
        return path

    def recorded_requests(self) -> list[RecordedRequestSummary]:
        """Every recording's request (parsed on first call, then kept); for miss diffs."""
        with self._lock:
            if self._requests is None:
                requests: dict[str, RecordedRequestSummary] = {}
                for path in sorted(self._ensure_index().values()):
                    entry = self._entries.get(path.stem) or load_entry(path)
                    requests[entry.key] = _summary(entry, path)
                self._requests = requests
            return list(self._requests.values())


def _summary(entry: RecordingEntry, path: Path) -> RecordedRequestSummary:
    return RecordedRequestSummary(
        key=entry.key,
        file=path,
        method=entry.request.method,
        path=entry.request.path,
        body=entry.request.body,
        prompt=entry.meta.prompt,
        prompt_version=entry.meta.prompt_version,
        backend=entry.meta.backend,
        model=entry.meta.model,
    )


def ensure_writable(folder: str | os.PathLike[str]) -> None:
    """`RecordingError` unless recordings can be written in `folder` (created if need be)."""
    root = Path(folder)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=root, prefix=".tmp-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RecordingError(
            f"cannot record into {root}: {exc.strerror or exc}; no model call was made. "
            "Choose a folder you can write with --recordings or QA_RECORDINGS."
        ) from None


def check_replay_folder(folder: str | os.PathLike[str], rerecord_hint: str = "") -> None:
    """`RecordingError` unless `folder` is a folder to replay from: a missing folder or a file
    is a mistake in the settings, not a request that was never recorded (a replay miss)."""
    root = Path(folder)
    if root.is_dir():
        return
    if root.exists():
        raise RecordingError(
            f"the recordings folder {root} is a file, not a folder (check --recordings or QA_RECORDINGS)"
        )
    to_record = f" To record into it: {rerecord_hint}" if rerecord_hint else ""
    raise RecordingError(
        f"no recordings folder {root}: nothing to replay (check --recordings or QA_RECORDINGS).{to_record}"
    )


def read_usage_log(folder: str | os.PathLike[str]) -> set[str] | None:
    """Return the keys listed in `<folder>/.last-run-used.json`, or None if there is none."""
    path = Path(folder) / USAGE_LOG_NAME
    if not path.is_file():
        return None
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordingCorruptError(f"usage log {path} cannot be read: {exc}") from exc
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise RecordingCorruptError(f"usage log {path} is corrupt: expected a JSON list of keys")
    return set(keys)


@atexit.register
def _write_usage_logs_at_exit() -> None:
    with _RUNS_LOCK:
        runs = [(folder, sorted(run.used)) for folder, run in _RUNS.items() if run.log_at_exit and run.used]
    for folder, keys in runs:
        if not folder.is_dir():
            continue
        try:
            (folder / USAGE_LOG_NAME).write_text(json.dumps(keys, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:  # at exit there is no caller left to raise to
            print(f"qa: could not write {folder / USAGE_LOG_NAME}: {exc}", file=sys.stderr)

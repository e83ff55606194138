"""The output of a `qa run`: records appended and fsynced as items finish, and its state file.

`OUT.jsonl` holds one `RunRecord` a line, in the order items finished. Nothing is ever
truncated or rewritten: a run opens the file for appending only, writes each record as one
`write` of a whole line, and fsyncs (one fsync covers every record written since the last).
A rerun reads what is there and skips items already done; with `retry_errors`, items whose
last record is an error are done again and their new record, later in the file, wins.

`OUT.jsonl.state.json` beside it says what wrote the output (task, backend, model, prompt
versions; never a key or URL) and holds the OpenAI batches in flight, so an interrupted
`--engine openai-batch` collects its batch instead of paying for another. It is replaced
atomically. A rerun whose task, backend, model or prompt versions differ from the state is
refused (`InputError`), as is an existing, non-empty output without a state file (it was not
written by `qa run`): results of different runs never mix, and nothing is overwritten.

A line that cannot be read (the machine lost power mid-write) is skipped and counted in
`damaged`, and its item is done again; a run never appends to an unterminated last line.
While a run writes, it holds an exclusive lock on the output: a second `qa run` on the same
output is refused instead of writing the same items twice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from qa.bulk.records import RunRecord
from qa.errors import InputError
from qa.schemas import StrictModel, Usage

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, the rest works
    fcntl = None  # type: ignore[assignment]  # None (a module otherwise) means: no lock

__all__ = ["STATE_VERSION", "BatchState", "ResultLog", "Results", "RunState", "read_results", "state_path"]

STATE_VERSION = 1
"""The state file format this qa writes and reads."""
_MUST_MATCH = ("task", "backend", "model", "prompt_versions")


class BatchState(StrictModel):
    """One OpenAI batch this output is waiting for."""

    input_file_id: str
    """The uploaded batch input file."""
    batch_id: str | None
    """The batch, once created (None: the file is uploaded, the batch not created yet)."""
    keys: list[str]
    """Item keys in the batch (each line's `custom_id`)."""
    requests_sha256: str
    """Hash of the batch input file: a rerun checks its requests are still the same."""


class RunState(StrictModel):
    """What `OUT.jsonl.state.json` holds."""

    format_version: int
    """The state file's format (see `STATE_VERSION`)."""
    task: dict[str, Any]
    """The task and what shapes its results (summary style and language)."""
    backend: str
    """Backend kind."""
    model: str
    """Model name."""
    prompt_versions: dict[str, str]
    """Prompt name -> version of every prompt the task renders."""
    batches: list[BatchState]
    """OpenAI batches in flight (openai-batch engine)."""


def state_path(output: str | os.PathLike[str]) -> Path:
    """The state file of an output: `OUT.jsonl.state.json`."""
    path = Path(output)
    return path.with_name(path.name + ".state.json")


def _read_state(path: Path) -> RunState:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: cannot read the run's state file ({exc}); move it away to start a new output"
        ) from exc
    version = data.get("format_version") if isinstance(data, dict) else None
    if not isinstance(version, int) or version > STATE_VERSION:
        raise InputError(f"{path}: state format {version!r} is not one this qa reads (1 to {STATE_VERSION})")
    try:
        return RunState.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: invalid state file ({exc.errors()[0]['msg']})") from exc


def _conflicts(old: RunState, new: RunState) -> list[str]:
    return [
        f"{name} {getattr(old, name)!r} (now {getattr(new, name)!r})"
        for name in _MUST_MATCH
        if getattr(old, name) != getattr(new, name)
    ]


@dataclass
class Results:
    """What an output holds."""

    records: dict[str, RunRecord] = field(default_factory=dict)
    """The last record of each item, by key, in the order they were last written."""
    spent: dict[str, Usage] = field(default_factory=dict)
    """Usage of each item summed over all its records (a retried item's failures too)."""
    damaged: int = 0
    """Lines that could not be read."""

    def add(self, record: RunRecord) -> None:
        key = record.key
        self.records.pop(key, None)
        self.records[key] = record
        self.spent[key] = self.spent[key] + record.usage if key in self.spent else record.usage


def read_results(path: str | os.PathLike[str]) -> Results:
    """The records of an output (see `Results`); a missing file holds none."""
    results = Results()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; bytes: a damaged line must not stop the reading
    except FileNotFoundError:
        return results
    except OSError as exc:
        raise InputError(f"{path}: cannot read the output ({exc.strerror})") from exc
    with handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = RunRecord.model_validate_json(line)
            except ValidationError:
                results.damaged += 1
                continue
            results.add(record)
    return results


class ResultLog:
    """An output opened for a run: what is done, and an append-only, fsynced writer."""

    def __init__(self, path: str | os.PathLike[str], state: RunState) -> None:
        """Open `path` for `state`'s run: resume it if it is one, refuse it if it is not (see module docstring)."""
        self.path = Path(path)
        self.state_file = state_path(self.path)
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not self.state_file.exists():
            raise InputError(
                f"{self.path} exists and was not written by qa run (no {self.state_file.name} beside it); "
                "choose another --output: qa never overwrites a file"
            )
        if self.state_file.exists():
            old = _read_state(self.state_file)
            problems = _conflicts(old, state)
            if problems and (exists or old.batches):
                raise InputError(
                    f"{self.path}: cannot resume: it was written with "
                    + "; ".join(problems)
                    + ". Use another --output."
                )
            if not problems:
                state = state.model_copy(update={"batches": old.batches})
        self.state = state
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open the output for appending ({exc.strerror})") from exc
        try:
            self._lock()
            self.results = read_results(self.path)
            self._terminate_last_line()
            self.save_state()
        except BaseException:
            os.close(self._fd)
            raise

    def _lock(self) -> None:
        if fcntl is None:
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise InputError(
                f"{self.path}: another qa run is writing this output; wait for it, or choose another --output"
            ) from exc

    def _terminate_last_line(self) -> None:
        """Never append to a line cut off mid-write: end it first (it stays, counted as damaged)."""
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def done(self, *, retry_errors: bool = False) -> set[str]:
        """Keys of the items already done (with `retry_errors`, only those with a result)."""
        return {key for key, r in self.results.records.items() if not retry_errors or r.error is None}

    def append(self, records: Iterable[RunRecord]) -> list[RunRecord]:
        """Write `records`, one whole line each, then fsync once; return them."""
        written = []
        for record in records:
            os.write(self._fd, (record.model_dump_json() + "\n").encode("utf-8"))
            self.results.add(record)
            written.append(record)
        if written:
            os.fsync(self._fd)
        return written

    def save_state(self) -> None:
        """Write the state file atomically (a temporary file, fsynced, renamed over it)."""
        data = self.state.model_dump_json(indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=self.state_file.name, suffix=".tmp", dir=self.state_file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ResultLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

"""The run log: one JSONL file per eval run, versioned, appended one case at a time.

Line 1 is a `LogHeader` (`log_version`, suite, time, qa version, backend, model, prompt
versions, a settings summary without the key); every other line is one `CaseRecord`,
appended and flushed to disk (fsync; group commit) as soon as its case finishes. An interrupted run
therefore keeps every finished case, and a run started again on the same log resumes:
the cases already in it are not run again.

    {"log_version": 1, "suite": "seed", "started_at": "2025-05-14T10:00:00Z", ...}
    {"case_id": "q01#1", "kind": "question", "question_id": "q01", "repeat": 1, ...}
    {"case_id": "summary#1", "kind": "summary", "question_id": null, "repeat": 1, ...}

`read_log` checks `log_version`: a log from a newer qa, or a file that is not a run log,
is a clear `EvalError`. A last line cut off mid-write (the process was killed) is ignored
and, when the log is resumed, removed before appending.

A `RunLogWriter` holds an exclusive lock on its log (`flock`) from before it reads or
truncates it until it closes, so a second run on the same log fails at once (`EvalError`)
instead of running every case again beside the first.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import ValidationError, field_validator

from qa.errors import EvalError
from qa.evals.scorers import Score, Verdict
from qa.evals.summary_scorers import SummaryScores
from qa.evals.tasks import TASKS, task_for
from qa.schemas import AnswerResult, FrozenModel, SummaryResult, Usage

__all__ = [
    "LOG_VERSION",
    "CaseError",
    "CaseRecord",
    "CaseResult",
    "LogHeader",
    "RunLog",
    "RunLogWriter",
    "read_log",
]

LOG_VERSION = 1
"""The version this qa writes. Readable versions: 1."""

_CONFLICTING = ("suite", "backend", "model")

CaseResult: TypeAlias = AnswerResult | SummaryResult
"""The results a run log can hold (an eval task whose result is a new model adds it here)."""


class LogHeader(FrozenModel):
    """The first line of a run log: what ran, with what, when."""

    log_version: int
    """Format version of the log (see `LOG_VERSION`)."""
    suite: str
    """Suite name, e.g. 'seed'."""
    suite_path: str
    """The suite.toml the run loaded."""
    started_at: str
    """When the run (its first part, if resumed) started, UTC ISO 8601."""
    qa_version: str
    """The qa package version."""
    backend: str
    """Backend kind, e.g. 'embedded'."""
    model: str
    """Model name as the backend knows it."""
    prompt_versions: dict[str, str]
    """Prompt name -> version ('1+3fa2c1d0') of every prompt the run uses."""
    settings: dict[str, Any]
    """Settings that shape the results (never the API key)."""


class CaseError(FrozenModel):
    """Why a case produced no result."""

    type: str
    """The exception's class name, e.g. 'OutputValidationError' or 'ReplayMissError'."""
    message: str
    """The exception's message."""
    harness: bool
    """True when the harness failed (replay miss, model or server unavailable, a bug), not the model."""


class CaseRecord(FrozenModel):
    """One finished case: its result or error, its scores and what it cost."""

    case_id: str
    """As its task planned it: '<question id>#<repeat>', 'bare-<question id>#<repeat>', 'summary#<repeat>'."""
    kind: str
    """The eval task that ran the case, one registered in `qa.evals.tasks.TASKS`: 'question',
    'reference' (the bare model asked the question plainly), 'summary', or one added since."""
    question_id: str | None
    """The question case id (None for a case that asks none, e.g. a summary)."""
    repeat: int
    """Repeat number, from 1; also the request seed."""
    question: str | None
    """The question as asked (None for a summary)."""
    answerable: bool | None
    """Whether the article answers the question (None for a summary)."""
    expected: list[str]
    """Accepted answers and aliases (empty for unanswerable questions and summaries)."""
    result: CaseResult | None
    """The result, or None when the call failed."""
    error: CaseError | None
    """The failure, or None."""
    scores: dict[str, Score]
    """Metric name -> score with its evidence."""
    decided_by: str
    """What decided the case's main verdict: exact, f1, alias, numbers, abstention, judge or none."""
    summary_checks: SummaryScores | None
    """Per-sentence evidence of a summary case (None for questions and failed summaries)."""
    usage: Usage
    """Tokens, attempts and cost of the case's model calls, whether it succeeded or failed."""
    judge_usage: Usage | None
    """What the model judge cost for this case (None without --judge)."""
    elapsed_s: float
    """Wall time of the case, seconds."""

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        if kind not in TASKS:
            raise ValueError(f"no eval task of kind {kind!r} is registered (known: {', '.join(TASKS)})")
        return kind

    @property
    def verdict(self) -> Verdict:
        """The case's main verdict, from the scores its task names (`EvalTask.verdict_scores`:
        'correct' for a question, every summary score for a summary): any incorrect makes it
        incorrect; none present, or all unscored, unscored; else correct."""
        verdicts = [self.scores[m].verdict for m in task_for(self.kind).verdict_scores if m in self.scores]
        if not verdicts or all(v == "unscored" for v in verdicts):
            return "unscored"
        return "incorrect" if "incorrect" in verdicts else "correct"

    @property
    def reason(self) -> str:
        """Why the main verdict is what it is: the error, else the verdict score's reason (each one named, if several)."""
        if self.error is not None:
            return f"{self.error.type}: {self.error.message}"
        names = task_for(self.kind).verdict_scores
        if len(names) == 1:
            return self.scores[names[0]].reason
        return "; ".join(f"{m}: {self.scores[m].reason}" for m in names if m in self.scores)


@dataclass(frozen=True)
class RunLog:
    """A run log as read from disk."""

    path: Path
    header: LogHeader
    records: list[CaseRecord]
    """Records in file order; a case written twice keeps its last record."""
    truncated_tail: bool
    """True when the last line was cut off mid-write and ignored."""


def _first_problem(exc: ValidationError) -> str:
    err = max(exc.errors(), key=lambda e: len(e["loc"]))  # the deepest names the field (not a union branch)
    return f"{'.'.join(str(part) for part in err['loc']) or 'line'}: {err['msg']}"


def _check_header(path: Path, line: str) -> LogHeader:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path}: not an eval run log (line 1 is not JSON: {exc.msg})") from exc
    if not isinstance(data, dict) or "log_version" not in data:
        raise EvalError(f"{path}: not an eval run log (line 1 has no 'log_version')")
    version = data["log_version"]
    if not isinstance(version, int) or version < 1:
        raise EvalError(f"{path}: invalid log_version {version!r}")
    if version > LOG_VERSION:
        raise EvalError(
            f"{path}: log_version {version} was written by a newer qa; this qa reads log_version 1 to {LOG_VERSION}"
        )
    try:
        return LogHeader.model_validate(data)
    except ValidationError as exc:
        raise EvalError(f"{path}:1: invalid log header ({_first_problem(exc)})") from exc


def read_log(path: str | os.PathLike[str]) -> RunLog:
    """Read and validate a run log; `EvalError` names the file and line of any problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{source}: cannot read the run log: {exc}") from exc
    lines = text.split("\n")
    truncated = bool(lines[-1])  # a complete log ends with a newline, so the last piece is empty
    complete = lines[:-1]
    if not complete:
        raise EvalError(f"{source}: empty or cut-off run log (no complete header line)")
    header = _check_header(source, complete[0])
    records: dict[str, CaseRecord] = {}
    for lineno, line in enumerate(complete[1:], start=2):
        if not line.strip():
            continue
        try:
            record = CaseRecord.model_validate_json(line)
        except ValidationError as exc:
            raise EvalError(
                f"{source}:{lineno}: invalid case record ({_first_problem(exc)}); it may have been written by a qa "
                f"whose result schemas differ (this log says qa {header.qa_version})"
            ) from exc
        records.pop(record.case_id, None)
        records[record.case_id] = record
    return RunLog(path=source, header=header, records=list(records.values()), truncated_tail=truncated)


def _conflicts(old: LogHeader, new: LogHeader) -> list[str]:
    problems = [
        f"{f} {getattr(old, f)!r} (now {getattr(new, f)!r})" for f in _CONFLICTING if getattr(old, f) != getattr(new, f)
    ]
    for name in sorted(set(old.prompt_versions) & set(new.prompt_versions)):
        if old.prompt_versions[name] != new.prompt_versions[name]:
            problems.append(f"prompt {name} {old.prompt_versions[name]} (now {new.prompt_versions[name]})")
    return problems


def _has_complete_line(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"\n" in handle.readline()
    except FileNotFoundError:
        return False


def _lock(handle: Any, path: Path) -> None:
    """Take the log's exclusive lock, or raise `EvalError` naming the log (where flock exists)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise EvalError(
            f"{path}: another qa eval is writing this run log; wait for it to finish or use another --log"
        ) from None


class RunLogWriter:
    """Appends case records to a run log, each flushed to disk before `append` returns."""

    def __init__(self, path: str | os.PathLike[str], header: LogHeader, *, resume: bool = True) -> None:
        """Open and lock `path`: resume it if it exists and `resume` (same suite, backend, model
        and prompt versions, else `EvalError`), otherwise start it afresh with `header`.
        `EvalError` if another writer holds it."""
        self.path = Path(path)
        self.done: dict[str, CaseRecord] = {}
        self._written = self._durable = 0  # lines written / lines known to be on disk
        self._sync_lock = asyncio.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("a", encoding="utf-8", newline="\n")  # created if need be, never truncated here
        try:
            _lock(self._handle, self.path)
            self._open(header, resume)
        except BaseException:
            self._handle.close()
            raise

    def _open(self, header: LogHeader, resume: bool) -> None:
        if resume and _has_complete_line(self.path):  # a crash before the header was written leaves nothing to resume
            existing = read_log(self.path)
            problems = _conflicts(existing.header, header)
            if problems:
                raise EvalError(
                    f"{self.path}: cannot resume this log: it was written with "
                    + "; ".join(problems)
                    + ". Use another --log."
                )
            self.header = existing.header
            self.done = {r.case_id: r for r in existing.records}
            if existing.truncated_tail:  # drop the half-written line before appending
                with self.path.open("rb+") as handle:
                    data = handle.read()
                    handle.truncate(data.rfind(b"\n") + 1)
        else:
            self.header = header
            self._handle.truncate(0)  # appends go to the (new) end
            self._write(header.model_dump_json())

    def _write(self, line: str, *, sync: bool = True) -> None:
        self._handle.write(line + "\n")
        self._handle.flush()  # in the OS now: it survives the process being killed
        self._written += 1
        if sync:
            os.fsync(self._handle.fileno())
            self._durable = self._written

    def append(self, record: CaseRecord) -> None:
        """Write one record, flush it and fsync it before returning."""
        self._write(record.model_dump_json())
        self.done[record.case_id] = record

    async def append_async(self, record: CaseRecord) -> None:
        """Write one record and flush it, then return once an fsync has covered it.

        Group commit: the fsync runs in a worker thread while other cases go on, and
        records written while one fsync runs share the next, so an fsync (milliseconds
        on many disks) is not paid once per case on the event loop.
        """
        self._write(record.model_dump_json(), sync=False)
        self.done[record.case_id] = record
        mine = self._written
        async with self._sync_lock:
            if self._durable >= mine:
                return
            upto = self._written
            await asyncio.to_thread(os.fsync, self._handle.fileno())
            self._durable = upto

    def close(self) -> None:
        """Close the file."""
        self._handle.close()

    def __enter__(self) -> RunLogWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

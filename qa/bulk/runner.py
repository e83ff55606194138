"""`run`: a task over a corpus, on an engine, into a resumable JSONL output.

    report = qa.run("articles/", "summaries.jsonl")                          # local, 4 at a time
    report = qa.run("wires.jsonl", "answers.jsonl", task="ask", questions=["Who?", "When?"])
    report = qa.run("articles/", "out.jsonl", engine=qa.bulk.RayEngine(workers=2))
    print(report.line())   # 200 items: 200 results, 0 errors; 81,234 tokens, $0.0123; ...

The corpus is read first (`CorpusError` for a bad one, before anything runs); the output is
opened and the items already in it are skipped (see `qa.bulk.output`); the engine does the
rest, handing each record back to be appended and fsynced as it finishes. A failed item is
recorded with its typed error and never stops the run. Engines are a registry keyed by name
(`ENGINES`), imported only when chosen, so `ray` is needed only for `engine="ray"`.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from qa.bulk.corpus import read_corpus
from qa.bulk.output import STATE_VERSION, ResultLog, Results, RunState
from qa.bulk.records import RunRecord, TaskKind
from qa.bulk.work import Task, WorkItem, plan
from qa.errors import ConfigError
from qa.schemas import Usage

if TYPE_CHECKING:
    from qa.backends.backend import Backend
    from qa.settings import Settings

__all__ = ["ENGINES", "Engine", "Job", "RecordCallback", "RunReport", "engine_named", "run"]

log = logging.getLogger("qa")

RecordCallback = Callable[[RunRecord], None]
StatusCallback = Callable[[str], None]

ENGINES: dict[str, str] = {
    "local": "qa.bulk.local:LocalEngine",
    "ray": "qa.bulk.ray_engine:RayEngine",
    "openai-batch": "qa.bulk.openai_batch:OpenAIBatchEngine",
}
"""Engine name -> `module:class`. To add an engine, add a line here."""


class Engine(Protocol):
    """Runs a job's items and hands every record to `job.write` as it finishes."""

    name: str

    def run(self, job: Job) -> None: ...


@dataclass
class Job:
    """What an engine is given: the task, the items still to do, settings, and where records go."""

    task: Task
    items: list[WorkItem]
    """Items not done yet, in corpus order."""
    settings: Settings
    log: ResultLog
    on_record: RecordCallback | None = None
    on_status: StatusCallback | None = None
    written: int = 0
    """Records this run wrote."""
    notes: list[str] = field(default_factory=list)
    """Lines the engine wants printed under the totals."""

    def backend(self) -> Backend:
        from qa.backends.backend import open_backend

        return open_backend(self.settings)

    def write(self, records: Sequence[RunRecord]) -> None:
        """Append `records` to the output (fsynced), then report each one."""
        for record in self.log.append(records):
            self.written += 1
            if self.on_record is not None:
                self.on_record(record)

    def status(self, message: str) -> None:
        """Tell the user what the engine is doing (start-up, polling)."""
        log.info("%s", message)
        if self.on_status is not None:
            self.on_status(message)


def engine_named(name: str, **options: Any) -> Engine:
    """The engine registered as `name`, built with `options`; `ConfigError` for an unknown one."""
    target = ENGINES.get(name)
    if target is None:
        raise ConfigError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, _, cls = target.partition(":")
    return cast(Engine, getattr(importlib.import_module(module), cls)(**options))  # ENGINES names Engine classes


@dataclass(frozen=True)
class RunReport:
    """The totals of a run, over every item of its plan (those done by earlier runs included)."""

    output: Path
    engine: str
    items: int
    """Items in the plan: articles, or articles x questions."""
    skipped: int
    """Items already done in the output before this run."""
    ran: int
    """Items this run did."""
    results: int
    """Items of the plan with a result."""
    errors: dict[str, int]
    """Items of the plan with an error, by error type."""
    usage: Usage
    """Tokens, attempts and cost of every record of the plan's items (failures, retried ones too)."""
    elapsed_s: float
    """Wall time of this run."""
    damaged: int = 0
    """Output lines that could not be read (their items were done again)."""
    notes: list[str] = field(default_factory=list)
    """What the engine wants said (e.g. the Batch API's discount)."""

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def missing(self) -> int:
        """Items of the plan with no record (an interrupted run)."""
        return self.items - self.results - self.error_count

    def line(self) -> str:
        """The totals line: items, errors, tokens, cost, time."""
        cost = "cost unknown" if self.usage.cost_usd is None else f"${self.usage.cost_usd:,.4f}"
        rate = f", {self.ran / self.elapsed_s:.1f} items/s" if self.ran and self.elapsed_s > 0 else ""
        kinds = f" ({', '.join(f'{k} {n}' for k, n in sorted(self.errors.items()))})" if self.errors else ""
        parts = [
            f"{self.items} items: {self.results} results, {self.error_count} errors{kinds}"
            + (f", {self.missing} not done" if self.missing else ""),
            f"{self.usage.total_tokens:,} tokens ({self.usage.prompt_tokens:,} prompt, {self.usage.attempts:,} calls), {cost}",
            f"{self.ran} run now, {self.skipped} already done; {self.elapsed_s:.1f} s{rate}",
        ]
        return "; ".join(parts) + "".join(f"\n{note}" for note in self.notes)


def _state(task: Task, backend: Backend) -> RunState:
    from qa.core.prompts import load_prompt

    return RunState(
        format_version=STATE_VERSION, task=task.describe(), backend=backend.kind, model=backend.model,
        prompt_versions={name: load_prompt(name).version for name in task.prompts}, batches=[],
    )  # fmt: skip


def _totals(items: Sequence[WorkItem], found: Results) -> tuple[int, Counter[str], Usage]:
    results, errors, usage = 0, Counter[str](), Usage.zero()
    for item in items:
        record = found.records.get(item.key)
        if record is None:
            continue
        usage = usage + found.spent[item.key]
        if record.error is None:
            results += 1
        else:
            errors[record.error.type] += 1
    return results, errors, usage


def run(
    corpus: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    task: TaskKind = "summarize",
    questions: Sequence[str] = (),
    style: str = "standard",
    lang: str | None = None,
    engine: str | Engine = "local",
    concurrency: int = 4,
    retry_errors: bool = False,
    on_record: RecordCallback | None = None,
    on_status: StatusCallback | None = None,
    on_start: Callable[[int, int], None] | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> RunReport:
    """Run `task` over `corpus` into the JSONL file `output`; resume it if it exists.

    `engine` is a name from `ENGINES` (built with `concurrency`) or an engine object, e.g.
    `RayEngine(workers=2)` or `OpenAIBatchEngine(poll_interval=30)`. `retry_errors` does
    again the items whose record is an error. `on_record` is called with each record once
    it is on disk (e.g. to advance a progress bar); `on_status` with the engine's news;
    `on_start` with the number of items and of those already done, before any runs.
    Settings come from `settings`, or from the environment with `overrides` applied.
    """
    from qa.backends.backend import open_backend
    from qa.settings import Settings

    started = time.perf_counter()
    work = Task(kind=task, questions=tuple(questions), style=style, lang=lang)
    chosen = engine_named(engine, concurrency=concurrency) if isinstance(engine, str) else engine
    items = plan(read_corpus(corpus), work)
    settings = settings or Settings.load(**overrides)
    backend = open_backend(settings)
    check = getattr(chosen, "check", None)
    if check is not None:
        check(backend)
    with ResultLog(output, _state(work, backend)) as result_log:
        done = result_log.done(retry_errors=retry_errors)
        pending = [item for item in items if item.key not in done]
        if on_start is not None:
            on_start(len(items), len(items) - len(pending))
        job = Job(task=work, items=pending, settings=settings, log=result_log, on_record=on_record, on_status=on_status)
        if pending or result_log.state.batches:
            chosen.run(job)
        results, errors, usage = _totals(items, result_log.results)
    return RunReport(
        output=Path(output), engine=chosen.name, items=len(items), skipped=len(items) - len(pending), ran=job.written,
        results=results, errors=dict(errors), usage=usage, elapsed_s=time.perf_counter() - started,
        damaged=result_log.results.damaged, notes=job.notes,
    )  # fmt: skip

"""Run a suite: every question and one summary per repeat, concurrently, logged case by case.

    run = asyncio.run(run_suite(load_suite("evals/seed/suite.toml"), settings, log_path="run.jsonl"))
    run.aggregates.metrics["correct"].value

Every registered eval task (`qa.evals.tasks`) plans its cases and runs and scores each
one: each question is its own case, asked through `qa.aask` (one question per call, as a
user would ask it); the summary case goes through `qa.asummarize`. At most `concurrency`
cases run at once. Each finished case is appended to the run log at once (see
`qa.evals.log`), so an interrupted run loses nothing it finished, and running again on
the same log resumes it. Resuming keeps every case that ended with a result or with the
model's failure, and runs again every case that ended in a harness error (a transport
failure that outlasted the retries, a replay miss, a backend that could not be reached):
those say nothing about the model, and a server that was down may be up now.

Repeats are distinct requests: repeat r is sent with `seed=r`, so a recording never
replays one output for every repeat. (With temperature 0 decoding is greedy and repeats
may still agree.)

In record and auto modes each case is one recorded operation (`qa.recording.operation`):
its replies are written only if it ends with a result, so a refusal, or output still
invalid after the re-asks, is never stored to replay as the model's answer.

A case whose call raises a `QAError` is recorded with the error's type, message and usage,
and the run goes on. Errors that say the model misbehaved (invalid or truncated output,
a refusal, a prompt too long for its context) are the model's; every other error (a
replay miss, a model that will not load, a server error) and any unexpected exception is
a harness error: recorded, and it makes the run's exit code the harness code (6).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import qa
from qa import api
from qa.backends.backend import Backend
from qa.core.prompts import load_prompt
from qa.errors import (
    ContextLengthError,
    EvalError,
    InputError,
    OutputValidationError,
    QAError,
    RefusalError,
    TruncatedOutputError,
)
from qa.evals.dataset import Suite
from qa.evals.judge import judge_recordings
from qa.evals.log import CaseError, CaseRecord, LogHeader, RunLogWriter
from qa.evals.metrics import Aggregates, aggregate
from qa.evals.tasks import TASKS, CasePlan, task_for
from qa.schemas import Usage
from qa.settings import Settings
from qa.text.article import Article

__all__ = [
    "CaseCallback",
    "CasePlan",
    "EvalRun",
    "RecordingsChoice",
    "match_recordings",
    "plan_cases",
    "rerecord_command",
    "run_suite",
    "settled",
]

CaseCallback = Callable[[CaseRecord], None]
BackendFactory = Callable[[Settings], Backend]
"""Opens the backend for a case's settings (`qa.api.backend_for`, or a test's fakes)."""
MODEL_FAILURES = (OutputValidationError, TruncatedOutputError, RefusalError, ContextLengthError)
"""Errors that are the model's failure to do the task, not the harness's."""


@dataclass(frozen=True, repr=False)
class EvalRun:
    """A finished (or resumed and finished) run."""

    log_path: Path
    header: LogHeader
    records: list[CaseRecord]
    """Every case of the plan, in plan order (resumed ones included)."""
    aggregates: Aggregates
    resumed: int
    """Cases taken from the log instead of being run again."""
    retried: int = 0
    """Cases the log held with a harness error, run again (see `settled`)."""
    not_recorded: tuple[str, ...] = ()
    """Record and auto modes: cases that ended in an error, whose replies were therefore not recorded."""

    def __repr__(self) -> str:
        # Short: asyncio repr()s a finished task's result, and every record in full costs milliseconds.
        return f"EvalRun(log_path={str(self.log_path)!r}, cases={len(self.records)}, resumed={self.resumed})"

    @property
    def harness_errors(self) -> list[CaseRecord]:
        """Cases where the harness failed; any makes the run's exit code 6."""
        return [r for r in self.records if r.error is not None and r.error.harness]


@dataclass(frozen=True)
class RecordingsChoice:
    """What `match_recordings` decided for a replay."""

    settings: Settings
    """The settings to replay with (the given ones, or their backend and model replaced)."""
    note: str | None
    """One line for the user when the choice differs from what the settings resolve to, or cannot match."""
    options: tuple[str, ...]
    """Group options that select the recordings' backend and model (`--backend B --model M`), if known."""


def match_recordings(settings: Settings, *, chose_backend: bool, chose_model: bool) -> RecordingsChoice:
    """In replay mode, the backend and model the suite's recordings were made with.

    What `auto` resolves to depends on the environment (an OPENAI_API_KEY makes it OpenAI),
    and the default model may change between versions, while a recording only answers the
    request it was made for. So a replay takes the backend and model from the recordings,
    except what the user chose (`chose_backend`, `chose_model`); when the choice matches
    none of them, `note` says so and names the options that select theirs.
    """
    if settings.record_mode != "replay":
        return RecordingsChoice(settings, None, ())
    from qa.backends.backend import PROFILES
    from qa.recording import recorded_origins

    origins = {o: n for o, n in recorded_origins(settings.recordings).items() if o[0] in PROFILES}
    if not origins:
        return RecordingsChoice(settings, None, ())
    current = (settings.resolved_backend(), api.backend_for(settings).model)
    if current in origins:
        return RecordingsChoice(settings, None, ())
    fits = [o for o in origins if (not chose_backend or o[0] == current[0]) and (not chose_model or o[1] == current[1])]
    folder = settings.recordings
    if len(fits) == 1:
        backend, model = fits[0]
        chosen = settings.model_copy(update={"backend": backend, "model": model})
        note = (
            f"replaying with backend {backend}, model {model}, as the recordings in {folder} were made "
            f"(the settings alone would give backend {current[0]}, model {current[1]})"
        )
        return RecordingsChoice(chosen, note, ("--backend", backend, "--model", model))
    backend, model = max(origins, key=lambda o: origins[o])
    made = "; ".join(f"backend {b}, model {m}" for b, m in sorted(origins))
    note = (
        f"the recordings in {folder} were made with {made}, not backend {current[0]}, model {current[1]}: "
        f"to replay them, put `--backend {backend} --model {model}` before the command (and unset QA_BACKEND/QA_MODEL)"
    )
    return RecordingsChoice(settings, note, ())


def settled(record: CaseRecord) -> bool:
    """Whether a logged case stands when its log is resumed: a result or the model's failure
    does; a harness error (transport, replay miss, backend unavailable, a bug) is run again."""
    return record.error is None or not record.error.harness


def plan_cases(suite: Suite, repeats: int) -> list[CasePlan]:
    """For each repeat (from 1), every registered task's cases, in registry order: case ids
    `<question id>#<repeat>`, with `reference = "bare"` also `bare-<question id>#<repeat>`,
    and per article with key facts `summary#<repeat>` (`summary-<article id>#<repeat>` in a
    suite of several articles).

    Questions are grouped by article, so a model that caches the article's prefix reuses it.
    """
    return [case for repeat in range(1, repeats + 1) for task in TASKS.values() for case in task.plan(suite, repeat)]


def rerecord_command(suite: Suite) -> str:
    """The command that re-records a suite's responses (printed by a replay miss)."""
    return f"qa --record-mode record eval --suite {suite.name}"


def _header(suite: Suite, settings: Settings, judge: bool, backend: Backend) -> LogHeader:
    prompts = [*dict.fromkeys(name for task in TASKS.values() for name in task.prompts), *(["judge"] if judge else [])]
    summary = {
        "backend": settings.resolved_backend(),
        "model": backend.model,
        "base_url": settings.shown_base_url(),  # never credentials (issue 17)
        "temperature": settings.temperature,
        "max_attempts": settings.max_attempts,
        "structured_mode": backend.structured_mode,
        "constrain_quotes": backend.constrain_quotes,
        "context_tokens": settings.context_tokens,
        "record_mode": settings.record_mode,
        "recordings": str(settings.recordings),
        "judge": judge,
    }
    return LogHeader(
        log_version=1,
        suite=suite.name,
        suite_path=str(suite.source),
        started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        qa_version=qa.__version__,
        backend=backend.kind,
        model=backend.model,
        prompt_versions={name: load_prompt(name).version for name in prompts},
        settings=summary,
    )


def _usage_of(exc: Exception) -> Usage:
    return (exc.usage if isinstance(exc, QAError) else None) or Usage.zero()


def _error(exc: BaseException) -> CaseError:
    harness = not isinstance(exc, MODEL_FAILURES)
    return CaseError(type=type(exc).__name__, message=str(exc) or repr(exc), harness=harness)


class _Runner:
    """The state one run shares between its cases."""

    def __init__(
        self,
        suite: Suite,
        articles: dict[str | None, Article],
        settings: Settings,
        judge: bool,
        hint: str,
        backends: BackendFactory,
    ) -> None:
        self.suite, self.articles, self.settings, self.judge, self.hint = suite, articles, settings, judge, hint
        self.backends = backends
        self.not_recorded: list[str] = []

    def settings_for(self, repeat: int, *, judging: bool = False) -> Settings:
        update: dict[str, object] = {"seed": repeat, "rerecord_hint": self.hint}
        if judging:
            update["recordings"] = judge_recordings(self.settings.recordings)
        return self.settings.model_copy(update=update)

    def backend(self, repeat: int, *, judging: bool = False) -> Backend:
        """The backend for a repeat's cases, or for the judge's calls (see `settings_for`)."""
        return self.backends(self.settings_for(repeat, judging=judging))

    async def case(self, plan: CasePlan) -> CaseRecord:
        if self.settings.record_mode not in ("record", "auto"):
            return await self._case(plan)
        from qa.recording import recorded_operation

        with recorded_operation() as operation:  # this task's replies, written only if the case ends with a result
            record = await self._case(plan)
            operation.keep = record.error is None
        if operation.dropped:
            self.not_recorded.append(plan.case_id)
        return record

    async def _case(self, plan: CasePlan) -> CaseRecord:
        """Run, score and record one case through its task (the runner is the task's `RunContext`)."""
        task = task_for(plan.kind)
        started = time.perf_counter()
        result, error, usage = None, None, Usage.zero()
        try:
            result = await task.run(plan, self)
            usage = result.usage if result is not None else Usage.zero()
            scored = await task.score(plan, result, self)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, never lost: see the module docstring
            error, usage = _error(exc), _usage_of(exc)
            scored = task.score_failure(plan, exc)
        case = plan.question
        return CaseRecord(
            case_id=plan.case_id, kind=task.kind, question_id=None if case is None else case.id, repeat=plan.repeat,
            question=None if case is None else case.question, answerable=None if case is None else case.answerable,
            expected=[] if case is None else case.golds, result=result, error=error, scores=scored.scores,
            decided_by=scored.decided_by, summary_checks=scored.summary_checks, usage=usage,
            judge_usage=scored.judge_usage, elapsed_s=time.perf_counter() - started,
        )  # fmt: skip


async def run_suite(
    suite: Suite,
    settings: Settings,
    *,
    repeats: int = 1,
    concurrency: int = 4,
    log_path: str | os.PathLike[str],
    resume: bool = True,
    judge: bool = False,
    on_case: CaseCallback | None = None,
    rerecord_hint: str | None = None,
    backends: BackendFactory | None = None,
) -> EvalRun:
    """Run `suite` (see the module docstring); return its records and aggregates.

    `on_case` is called with each record as soon as it is logged (e.g. to advance a
    progress bar). `rerecord_hint` is the command a replay miss prints (default:
    `rerecord_command(suite)`). `backends` opens the backend for a case's settings (one
    per repeat, and the judge's): default `qa.api.backend_for`; a test passes its fakes here.
    """
    if repeats < 1 or concurrency < 1:
        raise EvalError(f"repeats and concurrency must be at least 1 (got {repeats} and {concurrency})")
    articles: dict[str | None, Article] = {}
    for article_id in suite.article_ids():
        try:
            articles[article_id] = qa.load_article(suite.path_of(article_id))
        except InputError as exc:
            raise EvalError(f"{suite.source}: the suite's article {article_id or ''} cannot be used: {exc}") from exc
    hint = rerecord_hint or rerecord_command(suite)
    runner = _Runner(suite, articles, settings, judge, hint, backends or api.backend_for)
    plan = plan_cases(suite, repeats)
    with RunLogWriter(
        log_path, _header(suite, runner.settings_for(1), judge, runner.backends(runner.settings_for(1))), resume=resume
    ) as writer:
        kept = {p.case_id for p in plan if p.case_id in writer.done and settled(writer.done[p.case_id])}
        retried = sum(1 for p in plan if p.case_id in writer.done and p.case_id not in kept)
        gate = asyncio.Semaphore(concurrency)

        async def one(plan_item: CasePlan) -> None:
            async with gate:
                record = await runner.case(plan_item)
            await writer.append_async(record)
            if on_case is not None:
                on_case(record)

        async with asyncio.TaskGroup() as group:  # a failure to log cancels the rest: nothing runs unlogged
            for plan_item in plan:
                if plan_item.case_id not in kept:
                    group.create_task(one(plan_item))
        records = [writer.done[p.case_id] for p in plan]
        header = writer.header
    return EvalRun(
        log_path=Path(log_path),
        header=header,
        records=records,
        aggregates=aggregate(records),
        resumed=len(kept),
        retried=retried,
        not_recorded=tuple(sorted(runner.not_recorded, key=[p.case_id for p in plan].index)),
    )

"""The contract between the eval harness and a kind of case: `EvalTask`.

A kind of case ("question", "reference", "summary") is one `EvalTask` object. The runner
asks it for its cases (`plan`), runs each (`run`, then `score`, or `score_failure` when
the run raised) and writes the record; the log asks it which scores make the verdict
(`verdict_scores`); the metrics ask it for its aggregates (`aggregate`) and how its cases
cluster (`cluster`); the report asks it for a record's evidence (`evidence`) and any
section of its own (`sections`). None of them branches on a kind.

    class WordCount(EvalTask[None]):
        kind, verdict_scores = "words", ("words",)
        def plan(self, suite, repeat): return [CasePlan(f"words#{repeat}", repeat, self.kind)]
        async def run(self, plan, context): return None
        async def score(self, plan, result, context): ...  # Scored({"words": Score...}, "none")
        def evidence(self, record): return [f"- **Words:** {record.scores['words'].value:.0f}"]

    register_task(WordCount())  # qa.evals.tasks: now planned, run, logged, aggregated and reported

Subclass `EvalTask` explicitly to inherit the defaults below (no prompts, no metrics of
its own, each case its own cluster, no extra report section, a failure leaves every
verdict score unscored). A task whose result is a new model adds it to
`qa.evals.log.CaseResult`, the results a run log can hold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from qa.evals.dataset import QuestionCase, Suite
from qa.evals.scorers import Score
from qa.evals.summary_scorers import SummaryScores
from qa.schemas import Usage

if TYPE_CHECKING:
    from qa.backends.backend import Backend
    from qa.evals.log import CaseRecord, CaseResult
    from qa.evals.stats import MetricValue
    from qa.text.article import Article

__all__ = ["CasePlan", "EvalTask", "RunContext", "Scored", "cell"]

R = TypeVar("R", bound="CaseResult | None")
"""What a task's `run` returns and its `score` takes: a result the log can hold, or None."""


@dataclass(frozen=True)
class CasePlan:
    """One case to run."""

    case_id: str
    """Unique in the run, e.g. 'q01#1' (see `qa.evals.runner.plan_cases`)."""
    repeat: int
    """Repeat number, from 1; also the request seed."""
    kind: str
    """The task that runs it (`EvalTask.kind`)."""
    question: QuestionCase | None = None
    """The question case it asks, if any: its id, question, answerability and golds go in the record."""
    article: str | None = None
    """The article id, in a suite of several (None: the suite's only article)."""


@dataclass(frozen=True)
class Scored:
    """What scoring one case puts in its record."""

    scores: dict[str, Score]
    """Metric name -> score with its evidence."""
    decided_by: str
    """What decided the case's main verdict (see `CaseRecord.decided_by`)."""
    summary_checks: SummaryScores | None = None
    """Per-sentence evidence of a summary."""
    judge_usage: Usage | None = None
    """What the model judge cost, if it ran."""


class RunContext(Protocol):
    """What a run shares with each case it runs (the runner)."""

    @property
    def suite(self) -> Suite:
        """The suite being run."""
        ...

    @property
    def articles(self) -> Mapping[str | None, Article]:
        """The suite's articles by id (None: its only article)."""
        ...

    @property
    def judge(self) -> bool:
        """Whether the model judge is on (`--judge`)."""
        ...

    def backend(self, repeat: int, *, judging: bool = False) -> Backend:
        """The backend for a repeat (its settings carry `seed=repeat`), or for the judge's calls."""
        ...


class EvalTask(Protocol[R]):
    """One kind of eval case: how it is planned, run, scored, judged, aggregated and reported."""

    kind: str
    """The `CaseRecord.kind` of its cases, and its key in the registry (`qa.evals.tasks.TASKS`)."""
    verdict_scores: tuple[str, ...]
    """The scores that make a case's verdict: any incorrect makes it incorrect, all unscored
    (or none present) unscored, else correct. The reason is that score's reason, or each one
    named when there are several."""
    prompts: tuple[str, ...] = ()
    """Prompt names whose versions the run log's header keeps (a resumed log must match them)."""
    metrics: tuple[str, ...] = ()
    """The metric names `aggregate` returns, in report order."""

    def plan(self, suite: Suite, repeat: int) -> list[CasePlan]:
        """This task's cases of `suite` for one repeat (none when the suite has nothing for it)."""
        ...

    async def run(self, plan: CasePlan, context: RunContext) -> R:
        """Run one case: the result to log (its `usage` becomes the case's). A raised
        exception is recorded, never lost (see `qa.evals.runner`)."""
        ...

    async def score(self, plan: CasePlan, result: R, context: RunContext) -> Scored:
        """Score what `run` returned."""
        ...

    def score_failure(self, plan: CasePlan, error: Exception) -> Scored:
        """Score a case whose run (or scoring) raised `error`: by default every verdict score is unscored."""
        failed = Score.unscored(f"the call failed: {type(error).__name__}: {error}")
        return Scored({name: failed for name in self.verdict_scores}, "none")

    def evidence(self, record: CaseRecord) -> list[str]:
        """Markdown lines the report shows under the case's heading, before its error, reason, scores and cost."""
        ...

    def cluster(self, record: CaseRecord) -> str:
        """The unit a case's values are averaged in before the CI: by default, the case itself."""
        return record.case_id

    def aggregate(self, records: Sequence[CaseRecord], earlier: Mapping[str, MetricValue]) -> dict[str, MetricValue]:
        """Every name in `metrics` -> its value over this task's `records` (none: value None,
        n 0). `earlier` holds the metrics of the tasks before it in the registry."""
        return {}

    def sections(self, records: Sequence[CaseRecord]) -> list[str]:
        """Markdown lines of a report section of its own over its `records` (after usage); none by default."""
        return []


def cell(text: object) -> str:
    """`text` on one line, fit for a Markdown table cell or list item."""
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").strip()

"""Aggregates: abstention metrics, and a run's metrics with CIs and n.

`abstention_metrics` works on plain lists (and `mean_with_ci`, from `qa.evals.stats`);
`aggregate` reduces a run's case records to every metric with its 95% CI and n, never NaN.

Each eval task aggregates its own cases (`EvalTask.aggregate` in `qa.evals.tasks`):
question metrics follow SQuAD 2.0 (`qa.evals.tasks.questions`), summary metrics are
FineSurE's completeness, faithfulness and conciseness beside the lead baselines
(`qa.evals.tasks.summary`). `citation_valid` and `schema_valid` are pooled over every case
that carries them. With repeats, the cases of one question are not independent: a task
says how its cases cluster (a question's repeats are one cluster, a summary case is its
own), values are averaged per cluster and the CI is taken over clusters (n counts
clusters). An unscored value is left out and listed with its reason; a metric with
nothing to score has value None.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from qa.evals.dataset import QuestionCase
from qa.evals.log import CaseRecord
from qa.evals.scorers import Score
from qa.evals.stats import MetricValue, clustered_metric, mean_with_ci, metric_value
from qa.evals.tasks import TASKS, task_for
from qa.evals.tasks.questions import QUESTION_METRICS, REFERENCE_METRICS
from qa.evals.tasks.summary import SUMMARY_METRICS
from qa.schemas import AnswerResult, FrozenModel, Usage

__all__ = [
    "METRICS",
    "AbstentionMetrics",
    "Aggregates",
    "CaseOutcome",
    "MetricValue",
    "UnscoredNote",
    "UsageTotals",
    "abstention_metrics",
    "aggregate",
    "case_outcome",
    "mean_with_ci",
    "metric_names",
]

SHARED_METRICS = ("citation_valid", "schema_valid")
"""Pooled over every case that carries them, whatever its task."""
METRICS = (*QUESTION_METRICS, *SHARED_METRICS, *SUMMARY_METRICS, *REFERENCE_METRICS)
"""The built-in tasks' metric names, in report order; `metric_names()` adds those of tasks registered since."""


class CaseOutcome(FrozenModel):
    """What abstention metrics need from one scored case."""

    id: str
    """The question case id."""
    answerable: bool
    """Whether the article answers the question."""
    abstained: bool | None
    """True if the status was not_in_article; None if there was no result."""
    correct: bool | None
    """The 'correct' verdict; None if unscored."""


def case_outcome(
    question_case: QuestionCase, answer_result: AnswerResult | None, scores: dict[str, Score]
) -> CaseOutcome:
    """Reduce a scored case to what `abstention_metrics` needs."""
    verdict = scores["correct"].verdict
    return CaseOutcome(
        id=question_case.id,
        answerable=question_case.answerable,
        abstained=None if answer_result is None else answer_result.answer.status == "not_in_article",
        correct=None if verdict == "unscored" else verdict == "correct",
    )


class AbstentionMetrics(FrozenModel):
    """SQuAD 2.0-style split accuracy plus abstention precision/recall (positive class: abstained)."""

    answerable_accuracy: float | None
    """Share of scored answerable cases judged correct (None if there are none)."""
    answerable_n: int
    """Scored answerable cases."""
    unanswerable_accuracy: float | None
    """Share of scored unanswerable cases where the system abstained."""
    unanswerable_n: int
    """Scored unanswerable cases."""
    abstention_precision: float | None
    """Of the abstentions, the share on unanswerable questions (None if it never abstained)."""
    abstention_recall: float | None
    """Of the unanswerable questions, the share it abstained on (None if there are none)."""
    abstained: int
    """Scored cases where the system abstained."""
    unscored: int
    """Cases left out because they could not be scored (failed calls)."""


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def abstention_metrics(cases: Iterable[CaseOutcome]) -> AbstentionMetrics:
    """Accuracy on answerable and on unanswerable cases, separately, and abstention P/R."""
    items = list(cases)
    scored = [c for c in items if c.correct is not None and c.abstained is not None]
    answerable = [c for c in scored if c.answerable]
    unanswerable = [c for c in scored if not c.answerable]
    true_pos = sum(1 for c in unanswerable if c.abstained)
    abstained = sum(1 for c in scored if c.abstained)
    return AbstentionMetrics(
        answerable_accuracy=_ratio(sum(1 for c in answerable if c.correct), len(answerable)),
        answerable_n=len(answerable),
        unanswerable_accuracy=_ratio(sum(1 for c in unanswerable if c.correct), len(unanswerable)),
        unanswerable_n=len(unanswerable),
        abstention_precision=_ratio(true_pos, abstained),
        abstention_recall=_ratio(true_pos, len(unanswerable)),
        abstained=abstained,
        unscored=len(items) - len(scored),
    )


class UnscoredNote(FrozenModel):
    """A metric of a case that could not be scored, and why."""

    case_id: str
    """The case."""
    metric: str
    """The metric left out."""
    reason: str
    """Why it could not be scored."""


class UsageTotals(FrozenModel):
    """What the run cost, summed over every case (failed ones too) and the judge."""

    prompt_tokens: int
    """Tokens sent."""
    completion_tokens: int
    """Tokens generated."""
    total_tokens: int
    """Both."""
    attempts: int
    """Model calls, re-asks included."""
    cost_usd: float | None
    """Estimated cost, or None when the model's price is unknown."""
    tokens_per_case: MetricValue
    """Mean total tokens per case, with a 95% CI (not clipped to 0..1)."""
    attempts_per_case: MetricValue
    """Mean model calls per case, with a 95% CI."""


class Aggregates(FrozenModel):
    """Everything a report and the gate need about a run, computed from its records."""

    cases: int
    """Case records (questions x repeats + summaries)."""
    errors: int
    """Cases whose call failed (result None)."""
    harness_errors: int
    """Cases where the harness, not the model, failed."""
    metrics: dict[str, MetricValue]
    """Metric name (see `metric_names`) -> aggregate, in report order."""
    unscored_counts: dict[str, int]
    """Metric name -> cases left out of it."""
    unscored: list[UnscoredNote]
    """Every left-out (case, metric) with its reason."""
    usage: UsageTotals
    """Tokens, attempts and cost."""


def metric_names() -> tuple[str, ...]:
    """Every metric name, in report order: `METRICS`, then the metrics of tasks registered
    since, in registry order. These are the names `[thresholds]` may use."""
    added = [name for task in TASKS.values() for name in task.metrics if name not in METRICS]
    return (*METRICS, *dict.fromkeys(added))


def _usage(records: Sequence[CaseRecord]) -> UsageTotals:
    total = Usage.zero()
    per_case = []
    for r in records:
        usage = r.usage + r.judge_usage if r.judge_usage is not None else r.usage
        total = total + usage
        per_case.append(usage)
    return UsageTotals(
        prompt_tokens=total.prompt_tokens,
        completion_tokens=total.completion_tokens,
        total_tokens=total.total_tokens,
        attempts=total.attempts,
        cost_usd=total.cost_usd,
        tokens_per_case=metric_value(float(u.total_tokens) for u in per_case),
        attempts_per_case=metric_value(float(u.attempts) for u in per_case),
    )


def aggregate(records: Sequence[CaseRecord]) -> Aggregates:
    """Aggregate metrics, unscored notes and usage of a run's records."""
    kinds: dict[str, list[CaseRecord]] = {kind: [] for kind in TASKS}
    for r in records:
        kinds.setdefault(r.kind, []).append(r)
    computed: dict[str, MetricValue] = {}
    for kind, task in TASKS.items():
        computed.update(task.aggregate(kinds[kind], computed))
    for name in SHARED_METRICS:
        computed[name] = clustered_metric(
            [(task_for(r.kind).cluster(r), r.scores[name].value) for r in records if name in r.scores]
        )
    metrics = {name: computed[name] for name in metric_names()}
    unscored = [
        UnscoredNote(case_id=r.case_id, metric=name, reason=score.reason)
        for r in records
        for name, score in r.scores.items()
        if score.verdict == "unscored"
    ]
    return Aggregates(
        cases=len(records),
        errors=sum(1 for r in records if r.error is not None),
        harness_errors=sum(1 for r in records if r.error is not None and r.error.harness),
        metrics=metrics,
        unscored_counts=dict(Counter(note.metric for note in unscored)),
        unscored=unscored,
        usage=_usage(records),
    )

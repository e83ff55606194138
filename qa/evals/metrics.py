"""Aggregates: confidence intervals, abstention metrics, and a run's metrics with CIs and n.

`mean_with_ci` (Wilson for 0/1 values, Student's t otherwise) and `abstention_metrics`
work on plain lists; `aggregate` reduces a run's case records to every metric with its
95% CI and n, never NaN.

Question metrics follow SQuAD 2.0: `correct` over all questions, and separately
`answerable_accuracy` (HasAns) and `unanswerable_accuracy` (NoAns, right only when the
system abstains); `em`, `f1`; abstention precision/recall (positive class: abstained);
`citation_valid` and `schema_valid` over questions and summaries. Summary metrics are
FineSurE's `completeness`, `faithfulness` and `conciseness`.

With repeats, the cases of one question are not independent: question metrics average
each question's repeats first and take the CI over questions (a clustered CI; n counts
questions). Each summary case is its own cluster (one per repeat). An unscored value is
left out and listed with its reason; a metric with nothing to score has value None.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from qa.evals.dataset import QuestionCase
from qa.evals.log import CaseRecord
from qa.evals.scorers import Score
from qa.evals.stats import MetricValue, clustered_metric, mean_with_ci, metric_value
from qa.schemas import AnswerResult, Usage

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
]

QUESTION_METRICS = (
    "correct",
    "answerable_accuracy",
    "unanswerable_accuracy",
    "em",
    "f1",
    "has_ans_em",
    "has_ans_f1",
    "abstention_precision",
    "abstention_recall",
)
SHARED_METRICS = ("citation_valid", "schema_valid")
SUMMARY_METRICS = (
    "completeness",
    "faithfulness",
    "conciseness",
    "summary_words",
    "lead3_completeness",
    "lead3_faithfulness",
    "lead3_words",
    "lead_same_completeness",
)
"""qa's summary scores, its length in words, the same for the lead-3 baseline (the article's
first three sentences), and the completeness of the lead cut at qa's own length (the
article's first `summary_words` words): a longer summary is only better if it beats that."""
REFERENCE_METRICS = ("bare_correct", "bare_f1", "bare_has_ans_f1", "bare_unanswerable_accuracy", "f1_vs_bare")
"""The bare-model reference arm (a suite with `reference = "bare"`) and qa's F1 over its F1."""
METRICS = (*QUESTION_METRICS, *SHARED_METRICS, *SUMMARY_METRICS, *REFERENCE_METRICS)
"""Every metric name, in report order; these are the names `[thresholds]` may use."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class CaseOutcome(_Strict):
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


class AbstentionMetrics(_Strict):
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


class UnscoredNote(_Strict):
    """A metric of a case that could not be scored, and why."""

    case_id: str
    """The case."""
    metric: str
    """The metric left out."""
    reason: str
    """Why it could not be scored."""


class UsageTotals(_Strict):
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


class Aggregates(_Strict):
    """Everything a report and the gate need about a run, computed from its records."""

    cases: int
    """Case records (questions x repeats + summaries)."""
    errors: int
    """Cases whose call failed (result None)."""
    harness_errors: int
    """Cases where the harness, not the model, failed."""
    metrics: dict[str, MetricValue]
    """Metric name (see `METRICS`) -> aggregate."""
    unscored_counts: dict[str, int]
    """Metric name -> cases left out of it."""
    unscored: list[UnscoredNote]
    """Every left-out (case, metric) with its reason."""
    usage: UsageTotals
    """Tokens, attempts and cost."""


def _cluster(record: CaseRecord) -> str:
    return record.question_id if record.kind == "question" and record.question_id else record.case_id


def _question_values(
    records: Sequence[CaseRecord], kind: str = "question"
) -> dict[str, list[tuple[str, float | None]]]:
    out: dict[str, list[tuple[str, float | None]]] = defaultdict(list)
    for r in records:
        if r.kind != kind:
            continue
        key = _cluster(r)
        for name in ("correct", "em", "f1"):
            out[name].append((key, r.scores[name].value if name in r.scores else None))
            if r.answerable and name != "correct":  # SQuAD 2.0's HasAns figures: answerable questions only
                out[f"has_ans_{name}"].append((key, r.scores[name].value if name in r.scores else None))
        correct = r.scores.get("correct")
        if not isinstance(r.result, AnswerResult) or correct is None or correct.value is None or r.answerable is None:
            continue  # (a question's result is an AnswerResult, or None when the call failed)
        abstained = r.result.answer.status == "not_in_article"
        out["answerable_accuracy" if r.answerable else "unanswerable_accuracy"].append((key, correct.value))
        if abstained:
            out["abstention_precision"].append((key, 0.0 if r.answerable else 1.0))
        if not r.answerable:
            out["abstention_recall"].append((key, 1.0 if abstained else 0.0))
    return out


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
    question_values = _question_values(records)
    metrics = {name: clustered_metric(question_values.get(name, [])) for name in QUESTION_METRICS}
    for name in SHARED_METRICS:
        metrics[name] = clustered_metric([(_cluster(r), r.scores[name].value) for r in records if name in r.scores])
    summaries = [r for r in records if r.kind == "summary"]
    for name in SUMMARY_METRICS:
        metrics[name] = metric_value(r.scores[name].value for r in summaries if name in r.scores)
    bare = _question_values(records, "reference")
    for name in ("correct", "f1", "has_ans_f1", "unanswerable_accuracy"):
        metrics[f"bare_{name}"] = clustered_metric(bare.get(name, []))
    ours, theirs = metrics["f1"].value, metrics["bare_f1"].value
    ratio = round(ours / theirs, 4) if ours is not None and theirs else None
    metrics["f1_vs_bare"] = MetricValue(value=ratio, low=None, high=None, n=metrics["bare_f1"].n)
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

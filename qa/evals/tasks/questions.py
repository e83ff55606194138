"""Question cases: qa's own answers ("question") and the bare model's ("reference").

A question case asks one question of the suite through `qa.aask`, one question per call as
a user would ask it, and scores the answer with `score_answer` (and `candidate_score`, the
model's answer before the abstention decision). A reference case (a suite with
`reference = "bare"`) asks the same question of the bare model with a plain prompt
(`qa.tasks.reference`) and is scored the same way, apart from qa's own metrics.

Question metrics follow SQuAD 2.0: `correct` over all questions, and separately
`answerable_accuracy` (HasAns) and `unanswerable_accuracy` (NoAns, right only when the
system abstains); `em`, `f1`; abstention precision/recall (positive class: abstained).
With repeats, a question's repeats are averaged first and the CI is taken over questions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import qa
from qa.errors import EvalError
from qa.evals.dataset import QuestionCase, Suite
from qa.evals.scorers import candidate_score, score_answer
from qa.evals.stats import MetricValue, clustered_metric
from qa.evals.tasks.base import CasePlan, EvalTask, RunContext, Scored, cell
from qa.schemas import AnswerResult

if TYPE_CHECKING:
    from qa.evals.log import CaseRecord

__all__ = ["QUESTION_METRICS", "REFERENCE_METRICS", "QuestionTask", "ReferenceTask", "risk_coverage"]

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
REFERENCE_METRICS = ("bare_correct", "bare_f1", "bare_has_ans_f1", "bare_unanswerable_accuracy", "f1_vs_bare")
"""The bare-model reference arm (a suite with `reference = "bare"`) and qa's F1 over its F1."""

Values = dict[str, list[tuple[str, float | None]]]
"""Metric name -> (cluster, value) of each case."""


def _asked(plan: CasePlan) -> QuestionCase:
    if plan.question is None:
        raise EvalError(f"case {plan.case_id}: a {plan.kind} case needs a question")
    return plan.question


def _in_article_order(suite: Suite) -> list[QuestionCase]:
    """Questions grouped by article, so a model that caches the article's prefix reuses it."""
    order = {a: i for i, a in enumerate(suite.article_ids())}
    return sorted(suite.questions, key=lambda q: order.get(q.article, 0))


def question_values(records: Sequence[CaseRecord], cluster: Callable[[CaseRecord], str]) -> Values:
    """Each question metric's (cluster, value) pairs over question-like `records`."""
    out: Values = defaultdict(list)
    for r in records:
        key = cluster(r)
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


def risk_coverage(
    records: Sequence[CaseRecord],
) -> tuple[list[tuple[float, float, float, int]], tuple[float, float] | None]:
    """Accuracy of the answers kept at each coverage, ranking question cases by confidence.

    Rows (coverage, accuracy of the kept answers, confidence at that point, kept). A kept
    answer is right when its candidate was right (`candidate` score; an unanswerable
    question has no right candidate). Also the point the run's own decisions picked:
    (coverage, accuracy). Empty when the answers carry no confidence.
    """
    cases = []
    for r in records:
        if not isinstance(r.result, AnswerResult) or "candidate" not in r.scores:
            continue  # (a question's result is an AnswerResult, or None when the call failed)
        confidence = getattr(r.result, "confidence", None)
        right = r.scores["candidate"].value == 1.0
        cases.append((confidence if confidence is not None else -1.0, right, r.result.answer.status == "answered"))
    if not cases:
        return [], None
    cases.sort(key=lambda c: -c[0])
    rows = []
    for step in range(1, 11):
        kept = cases[: max(1, round(len(cases) * step / 10))]
        rows.append((step / 10, sum(right for _, right, _ in kept) / len(kept), kept[-1][0], len(kept)))
    answered = [c for c in cases if c[2]]
    point = (
        (len(answered) / len(cases), sum(right for _, right, _ in answered) / len(answered)) if answered else (0.0, 0.0)
    )
    return rows, point


class QuestionTask(EvalTask[AnswerResult]):
    """qa's answer to each question: cases '<question id>#<repeat>'."""

    kind = "question"
    verdict_scores: tuple[str, ...] = ("correct",)
    prompts: tuple[str, ...] = ("answer", "verify")  # verify: the answer check, where it is made
    metrics: tuple[str, ...] = QUESTION_METRICS

    def plan(self, suite: Suite, repeat: int) -> list[CasePlan]:
        return [CasePlan(f"{q.id}#{repeat}", repeat, self.kind, q, q.article) for q in _in_article_order(suite)]

    async def run(self, plan: CasePlan, context: RunContext) -> AnswerResult:
        case = _asked(plan)
        return await qa.aask(context.articles[case.article], case.question, backend=context.backend(plan.repeat))

    async def score(self, plan: CasePlan, result: AnswerResult, context: RunContext) -> Scored:
        case, official = _asked(plan), context.suite.scoring == "squad"
        scores = score_answer(case, result, official=official)
        candidate = candidate_score(case, result, official=official)
        if candidate is not None:
            scores["candidate"] = candidate
        return Scored(scores, scores["correct"].decided_by)

    def score_failure(self, plan: CasePlan, error: Exception) -> Scored:
        scores = score_answer(_asked(plan), None, error=error)
        return Scored(scores, scores["correct"].decided_by)

    def evidence(self, record: CaseRecord) -> list[str]:
        """The question, what was expected, the answer and its citations."""
        lines = [f"- **Question:** {cell(record.question)}"]
        lines.append(
            f"- **Expected:** {' / '.join(cell(e) for e in record.expected) if record.expected else '(the article does not say: abstain)'}"
        )
        result = record.result
        if isinstance(result, AnswerResult):
            lines.append(f"- **Answer** ({result.answer.status}): {cell(result.answer.answer) or '(empty)'}")
            lines += [f"  - cited [{c.start}:{c.end}]: > {cell(c.quote)}" for c in result.answer.citations]
            if result.grounding.dropped:
                lines.append(f"  - dropped quotes: {len(result.grounding.dropped)}")
        return lines

    def cluster(self, record: CaseRecord) -> str:
        """A question's repeats are one cluster."""
        return record.question_id or record.case_id

    def aggregate(self, records: Sequence[CaseRecord], earlier: Mapping[str, MetricValue]) -> dict[str, MetricValue]:
        values = question_values(records, self.cluster)
        return {name: clustered_metric(values.get(name, [])) for name in QUESTION_METRICS}

    def sections(self, records: Sequence[CaseRecord]) -> list[str]:
        """Risk and coverage: the questions ranked by the answer's confidence."""
        rows, point = risk_coverage(records)
        if not rows or point is None:
            return []
        lines = ["## Risk and coverage", "",
                 "Questions ranked by the answer's confidence; keeping the top share answers them and abstains on the rest. "
                 "Accuracy is that of the kept answers (an answer to an unanswerable question is wrong).", "",
                 "| coverage | answers kept | accuracy of kept answers | confidence at that point |", "|---|---|---|---|"]  # fmt: skip
        lines += [f"| {c:.0%} | {n} | {a:.3f} | {t:.3f} |" for c, a, t, n in rows]
        lines += [
            "",
            f"The threshold this run used answered {point[0]:.0%} of the questions, with accuracy {point[1]:.3f}.",
            "",
        ]
        return lines


class ReferenceTask(QuestionTask):
    """The bare model's answer to each question, the reference qa must beat: cases 'bare-<question id>#<repeat>'."""

    kind = "reference"
    prompts = ()  # its `bare` prompt has never been in the log header; adding it would change every report
    metrics = REFERENCE_METRICS

    def plan(self, suite: Suite, repeat: int) -> list[CasePlan]:
        if suite.reference != "bare":
            return []
        return [CasePlan(f"bare-{q.id}#{repeat}", repeat, self.kind, q, q.article) for q in _in_article_order(suite)]

    async def run(self, plan: CasePlan, context: RunContext) -> AnswerResult:
        from qa.backends.driver import arun  # the model client: loaded when a case runs, not with the registry
        from qa.tasks.reference import bare_answer_steps

        case, backend = _asked(plan), context.backend(plan.repeat)
        return await arun(bare_answer_steps(context.articles[case.article], case.question, backend), backend)

    def evidence(self, record: CaseRecord) -> list[str]:
        return []  # as the report has always shown the bare arm: verdict, reason, scores and cost only

    def cluster(self, record: CaseRecord) -> str:
        return record.case_id  # each repeat its own cluster, as the bare metrics have always been counted

    def aggregate(self, records: Sequence[CaseRecord], earlier: Mapping[str, MetricValue]) -> dict[str, MetricValue]:
        """The question metrics of the bare arm, and qa's F1 (from the question task, `earlier`) over its F1."""
        bare = question_values(records, self.cluster)
        metrics = {
            f"bare_{name}": clustered_metric(bare.get(name, []))
            for name in ("correct", "f1", "has_ans_f1", "unanswerable_accuracy")
        }
        ours, theirs = earlier["f1"].value, metrics["bare_f1"].value
        ratio = round(ours / theirs, 4) if ours is not None and theirs else None
        metrics["f1_vs_bare"] = MetricValue(value=ratio, low=None, high=None, n=metrics["bare_f1"].n)
        return metrics

    def sections(self, records: Sequence[CaseRecord]) -> list[str]:
        return []

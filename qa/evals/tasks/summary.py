"""Summary cases: one summary per article with key facts, per repeat ("summary").

The summary comes from `qa.asummarize` and is scored by `score_summary` against the
suite's key facts (FineSurE's completeness, faithfulness and conciseness), with the model
judge deciding the sentences the deterministic check cannot (`--judge`). Beside it, the
lead-3 baseline and the lead cut at the summary's own length are scored the same way.
Each summary case is its own cluster (one per repeat).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import qa
from qa.evals.dataset import KeyFact, Suite
from qa.evals.scorers import Score, _citation_score, _schema_score_on_error
from qa.evals.stats import MetricValue, metric_value
from qa.evals.summary_scorers import score_summary, summary_sentences
from qa.evals.tasks.base import CasePlan, EvalTask, RunContext, Scored, cell
from qa.schemas import SummaryResult

if TYPE_CHECKING:
    from qa.evals.log import CaseRecord
    from qa.text.article import Article

__all__ = ["SUMMARY_METRICS", "SummaryTask", "lead_scores"]

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

_SCHEMA_OK = Score.graded(1.0, True, "a schema-valid Summary was returned", "none")


def _words(texts: list[str]) -> int:
    return sum(len(t.split()) for t in texts)


def lead_scores(result: SummaryResult, article: Article, facts: list[KeyFact]) -> dict[str, Score]:
    """Length of qa's summary, and beside it the lead-3 baseline and the lead cut at the same length, scored the same way."""
    body = [s.text for s in article.sentences(("body",))]
    lead = body[:3]
    baseline = score_summary(" ".join(lead), article.text, facts)
    ours = _words([text for _, text in summary_sentences(result)])
    same_length = score_summary(" ".join(" ".join(body).split()[:ours]), article.text, facts)
    return {
        "lead_same_completeness": same_length.completeness,
        "summary_words": Score.graded(
            float(ours), True, f"{ours} words in headline, summary, key points and figures", "none"
        ),
        "lead3_completeness": baseline.completeness,
        "lead3_faithfulness": baseline.faithfulness,
        "lead3_words": Score.graded(
            float(_words(lead)), True, "words in the article's first three body sentences", "none"
        ),
    }


class SummaryTask(EvalTask[SummaryResult]):
    """A summary of each article with key facts: cases 'summary#<repeat>' ('summary-<article id>#<repeat>' in a suite of several)."""

    kind = "summary"
    verdict_scores: tuple[str, ...] = ("completeness", "faithfulness", "conciseness")
    prompts: tuple[str, ...] = ("summarize",)
    metrics: tuple[str, ...] = SUMMARY_METRICS

    def plan(self, suite: Suite, repeat: int) -> list[CasePlan]:
        return [
            CasePlan(
                f"{'summary' if article is None else f'summary-{article}'}#{repeat}", repeat, self.kind, None, article
            )
            for article in suite.article_ids()
            if suite.facts_for(article)
        ]

    async def run(self, plan: CasePlan, context: RunContext) -> SummaryResult:
        return await qa.asummarize(context.articles[plan.article], backend=context.backend(plan.repeat))

    async def score(self, plan: CasePlan, result: SummaryResult, context: RunContext) -> Scored:
        article, facts = context.articles[plan.article], context.suite.facts_for(plan.article)
        judge_usage = None
        if not context.judge:
            checks = score_summary(result, article.text, facts)
        else:  # the judge calls the model synchronously: keep the event loop free
            from qa.evals.judge import ModelJudge  # the model client: loaded when a case runs, not with the registry

            judge = ModelJudge(article, context.backend(plan.repeat, judging=True))
            checks = await asyncio.to_thread(score_summary, result, article.text, facts, judge)
            judge_usage = judge.usage
        scores = {**checks.metrics(), "citation_valid": _citation_score(result.grounding), "schema_valid": _SCHEMA_OK}
        scores.update(lead_scores(result, article, facts))
        return Scored(scores, scores["faithfulness"].decided_by, summary_checks=checks, judge_usage=judge_usage)

    def score_failure(self, plan: CasePlan, error: Exception) -> Scored:
        failed = Score.unscored(f"the call failed: {type(error).__name__}: {str(error) or repr(error)}")
        scores = {name: failed for name in ("completeness", "faithfulness", "conciseness", "citation_valid")}
        scores["schema_valid"] = _schema_score_on_error(error)
        return Scored(scores, scores["faithfulness"].decided_by)

    def evidence(self, record: CaseRecord) -> list[str]:
        """The headline and summary, the key facts found and missing, every sentence with its evidence."""
        lines = []
        if isinstance(record.result, SummaryResult):
            s = record.result.summary
            lines += [f"- **Headline:** {cell(s.headline)}", f"- **Summary:** {cell(s.summary)}"]
        checks = record.summary_checks
        if checks is None:
            return lines
        lines.append(
            f"- **Key facts found:** {', '.join(checks.facts_found) or 'none'}; **missing:** {', '.join(checks.facts_missing) or 'none'}"
        )
        lines += ["", "| where | sentence | facts | error | decided by | why |", "|---|---|---|---|---|---|"]
        for c in checks.sentences:
            lines.append(
                f"| {c.where} | {cell(c.text)} | {', '.join(c.facts) or '—'} | {'yes' if c.error else 'no'} | {c.decided_by} | {cell(c.reason)} |"
            )
        return lines

    def aggregate(self, records: Sequence[CaseRecord], earlier: Mapping[str, MetricValue]) -> dict[str, MetricValue]:
        return {
            name: metric_value(r.scores[name].value for r in records if name in r.scores) for name in SUMMARY_METRICS
        }

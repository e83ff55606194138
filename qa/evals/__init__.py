"""Evaluation: datasets, normalisation, scorers, the runner, its log, reports and the gate.

    from qa.evals import load_suite, run_suite
    run = asyncio.run(run_suite(load_suite("evals/seed/suite.toml"), qa.Settings.load(), log_path="run.jsonl"))

Datasets and scorers import only pydantic. The runner-side names (`run_suite`, the log,
metrics, gate, reports, judge) load on first use (PEP 562): they bring in the model client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr
from qa.evals.dataset import KeyFact, QuestionCase, Suite, load_key_facts, load_questions, load_suite
from qa.evals.metrics import AbstentionMetrics, CaseOutcome, abstention_metrics, case_outcome, mean_with_ci
from qa.evals.normalize import (
    Quantity,
    extract_quantities,
    loosen,
    normalize_answer,
    normalize_numbers,
    normalize_text,
    quantity_supported,
)
from qa.evals.scorers import (
    Score,
    alias_hit,
    alias_match,
    exact_match,
    f1,
    missing_numbers,
    numbers_present,
    score_answer,
)
from qa.evals.summary_scorers import (
    SentenceCheck,
    SentenceJudge,
    SummaryScores,
    match_fact,
    score_summary,
    split_sentences,
    summary_sentences,
)

_LAZY: dict[str, str] = {
    "METRICS": "qa.evals.metrics",
    "Aggregates": "qa.evals.metrics",
    "Baseline": "qa.evals.gate",
    "CaseError": "qa.evals.log",
    "CaseRecord": "qa.evals.log",
    "Comparison": "qa.evals.gate",
    "EvalRun": "qa.evals.runner",
    "GateResult": "qa.evals.gate",
    "JudgeVerdict": "qa.evals.judge",
    "LogHeader": "qa.evals.log",
    "MetricValue": "qa.evals.metrics",
    "ModelJudge": "qa.evals.judge",
    "aggregate": "qa.evals.metrics",
    "baseline_from_run": "qa.evals.gate",
    "check_run": "qa.evals.gate",
    "compare_logs": "qa.evals.gate",
    "junit_xml": "qa.evals.report",
    "load_baseline": "qa.evals.gate",
    "markdown_report": "qa.evals.report",
    "read_log": "qa.evals.log",
    "run_suite": "qa.evals.runner",
    "write_baseline": "qa.evals.gate",
}


__getattr__ = lazy_getattr("qa.evals", _LAZY, globals())


if TYPE_CHECKING:
    from qa.evals.gate import (
        Baseline,
        Comparison,
        GateResult,
        baseline_from_run,
        check_run,
        compare_logs,
        load_baseline,
        write_baseline,
    )
    from qa.evals.judge import JudgeVerdict, ModelJudge
    from qa.evals.log import CaseError, CaseRecord, LogHeader, read_log
    from qa.evals.metrics import METRICS, Aggregates, MetricValue, aggregate
    from qa.evals.report import junit_xml, markdown_report
    from qa.evals.runner import EvalRun, run_suite

_EAGER = [
    "AbstentionMetrics",
    "CaseOutcome",
    "KeyFact",
    "Quantity",
    "QuestionCase",
    "Score",
    "SentenceCheck",
    "SentenceJudge",
    "Suite",
    "SummaryScores",
    "abstention_metrics",
    "alias_hit",
    "alias_match",
    "case_outcome",
    "exact_match",
    "extract_quantities",
    "f1",
    "load_key_facts",
    "load_questions",
    "load_suite",
    "loosen",
    "match_fact",
    "mean_with_ci",
    "missing_numbers",
    "normalize_answer",
    "normalize_numbers",
    "normalize_text",
    "numbers_present",
    "quantity_supported",
    "score_answer",
    "score_summary",
    "split_sentences",
    "summary_sentences",
]

__all__ = sorted([*_EAGER, *_LAZY])

"""Evaluation: datasets, normalisation, scorers, the runner, its log, reports and the gate.

    from qa.evals import load_suite, run_suite
    run = asyncio.run(run_suite(load_suite("evals/seed/suite.toml"), qa.Settings.load(), log_path="run.jsonl"))

Datasets and scorers import only pydantic. The runner-side names (`run_suite`, the log,
metrics, gate, reports, judge) load on first use (PEP 562): they bring in the model client.
Each kind of case (question, the bare reference, summary) is an `EvalTask` in
`qa.evals.tasks`; `register_task` adds a kind without touching the runner, log, metrics or report.

Layer 7. May import everything but `qa.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr

# `name as name`: an explicit re-export for type checkers (here and below), which cannot read the computed __all__.
from qa.evals.dataset import KeyFact as KeyFact
from qa.evals.dataset import QuestionCase as QuestionCase
from qa.evals.dataset import Suite as Suite
from qa.evals.dataset import load_key_facts as load_key_facts
from qa.evals.dataset import load_questions as load_questions
from qa.evals.dataset import load_suite as load_suite
from qa.evals.metrics import AbstentionMetrics as AbstentionMetrics
from qa.evals.metrics import CaseOutcome as CaseOutcome
from qa.evals.metrics import abstention_metrics as abstention_metrics
from qa.evals.metrics import case_outcome as case_outcome
from qa.evals.metrics import mean_with_ci as mean_with_ci
from qa.evals.normalize import Quantity as Quantity
from qa.evals.normalize import extract_quantities as extract_quantities
from qa.evals.normalize import loosen as loosen
from qa.evals.normalize import normalize_answer as normalize_answer
from qa.evals.normalize import normalize_numbers as normalize_numbers
from qa.evals.normalize import normalize_text as normalize_text
from qa.evals.normalize import quantity_supported as quantity_supported
from qa.evals.scorers import Score as Score
from qa.evals.scorers import alias_hit as alias_hit
from qa.evals.scorers import alias_match as alias_match
from qa.evals.scorers import exact_match as exact_match
from qa.evals.scorers import f1 as f1
from qa.evals.scorers import missing_numbers as missing_numbers
from qa.evals.scorers import numbers_present as numbers_present
from qa.evals.scorers import score_answer as score_answer
from qa.evals.summary_scorers import SentenceCheck as SentenceCheck
from qa.evals.summary_scorers import SentenceJudge as SentenceJudge
from qa.evals.summary_scorers import SummaryScores as SummaryScores
from qa.evals.summary_scorers import match_fact as match_fact
from qa.evals.summary_scorers import score_summary as score_summary
from qa.evals.summary_scorers import split_sentences as split_sentences
from qa.evals.summary_scorers import summary_sentences as summary_sentences

_LAZY: dict[str, str] = {
    "METRICS": "qa.evals.metrics",
    "Aggregates": "qa.evals.metrics",
    "Baseline": "qa.evals.gate",
    "CaseError": "qa.evals.log",
    "CasePlan": "qa.evals.tasks",
    "CaseRecord": "qa.evals.log",
    "Comparison": "qa.evals.gate",
    "EvalRun": "qa.evals.runner",
    "EvalTask": "qa.evals.tasks",
    "GateResult": "qa.evals.gate",
    "JudgeVerdict": "qa.evals.judge",
    "LogHeader": "qa.evals.log",
    "MetricValue": "qa.evals.metrics",
    "ModelJudge": "qa.evals.judge",
    "RunContext": "qa.evals.tasks",
    "Scored": "qa.evals.tasks",
    "aggregate": "qa.evals.metrics",
    "baseline_from_run": "qa.evals.gate",
    "check_run": "qa.evals.gate",
    "compare_logs": "qa.evals.gate",
    "junit_xml": "qa.evals.report",
    "load_baseline": "qa.evals.gate",
    "markdown_report": "qa.evals.report",
    "read_log": "qa.evals.log",
    "register_task": "qa.evals.tasks",
    "run_suite": "qa.evals.runner",
    "task_for": "qa.evals.tasks",
    "write_baseline": "qa.evals.gate",
}


__getattr__ = lazy_getattr("qa.evals", _LAZY, globals())


# `name as name`: an explicit re-export for type checkers, which cannot read the computed __all__.
if TYPE_CHECKING:
    from qa.evals.gate import Baseline as Baseline
    from qa.evals.gate import Comparison as Comparison
    from qa.evals.gate import GateResult as GateResult
    from qa.evals.gate import baseline_from_run as baseline_from_run
    from qa.evals.gate import check_run as check_run
    from qa.evals.gate import compare_logs as compare_logs
    from qa.evals.gate import load_baseline as load_baseline
    from qa.evals.gate import write_baseline as write_baseline
    from qa.evals.judge import JudgeVerdict as JudgeVerdict
    from qa.evals.judge import ModelJudge as ModelJudge
    from qa.evals.log import CaseError as CaseError
    from qa.evals.log import CaseRecord as CaseRecord
    from qa.evals.log import LogHeader as LogHeader
    from qa.evals.log import read_log as read_log
    from qa.evals.metrics import METRICS as METRICS
    from qa.evals.metrics import Aggregates as Aggregates
    from qa.evals.metrics import MetricValue as MetricValue
    from qa.evals.metrics import aggregate as aggregate
    from qa.evals.report import junit_xml as junit_xml
    from qa.evals.report import markdown_report as markdown_report
    from qa.evals.runner import EvalRun as EvalRun
    from qa.evals.runner import run_suite as run_suite
    from qa.evals.tasks import CasePlan as CasePlan
    from qa.evals.tasks import EvalTask as EvalTask
    from qa.evals.tasks import RunContext as RunContext
    from qa.evals.tasks import Scored as Scored
    from qa.evals.tasks import register_task as register_task
    from qa.evals.tasks import task_for as task_for

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

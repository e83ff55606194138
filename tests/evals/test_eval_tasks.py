"""Tests for the eval task seam (qa.evals.tasks): a kind of case plugs in without editing
the runner, the log, the metrics or the report.

`WordCount` is a kind of case the harness has never heard of: it counts the words of each
article (no model call). Registered, it is planned, run, scored, logged, resumed,
aggregated, gated and reported like the built-in kinds.
"""

from __future__ import annotations

import ast
import asyncio
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from qa.errors import EvalError
from qa.evals import Suite, load_suite
from qa.evals.gate import check_run, check_threshold_names
from qa.evals.log import CaseRecord, read_log
from qa.evals.metrics import METRICS, metric_names
from qa.evals.report import junit_xml, markdown_report
from qa.evals.runner import plan_cases, run_suite
from qa.evals.scorers import Score
from qa.evals.stats import MetricValue, metric_value
from qa.evals.tasks import TASKS, CasePlan, EvalTask, RunContext, Scored, register_task, task_for
from qa.evals.tasks.questions import QuestionTask
from qa.evals.tasks.summary import SummaryTask
from tests.evals.test_eval_runner import ARTICLE, SETTINGS, FakeEvalServer, fake_run, write_suite

QA = Path(__file__).resolve().parents[2] / "qa"
WORDS = len(ARTICLE.text.split())


class WordCount(EvalTask[None]):
    """Counts the words of each article; `fail` makes every run raise."""

    kind = "words"
    verdict_scores = ("words",)
    metrics = ("article_words",)

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.ran: list[str] = []

    def plan(self, suite: Suite, repeat: int) -> list[CasePlan]:
        return [CasePlan(f"words#{repeat}", repeat, self.kind)]

    async def run(self, plan: CasePlan, context: RunContext) -> None:
        self.ran.append(plan.case_id)
        if self.fail:
            raise RuntimeError("the word counter broke")

    async def score(self, plan: CasePlan, result: None, context: RunContext) -> Scored:
        words = len(context.articles[plan.article].text.split())
        return Scored({"words": Score.graded(float(words), words > 0, f"{words} words in the article", "none")}, "none")

    def evidence(self, record: CaseRecord) -> list[str]:
        words = record.scores["words"].value
        return [f"- **Words counted:** {'none' if words is None else f'{words:.0f}'}"]

    def aggregate(self, records: Sequence[CaseRecord], earlier: Mapping[str, MetricValue]) -> dict[str, MetricValue]:
        return {"article_words": metric_value(r.scores["words"].value for r in records)}


@pytest.fixture
def register() -> Iterator[Callable[[WordCount], WordCount]]:
    """`register(task)`: `register_task`, undone when the test ends."""
    added: list[str] = []

    def add(task: WordCount) -> WordCount:
        register_task(task)
        added.append(task.kind)
        return task

    yield add
    for kind in added:
        TASKS.pop(kind, None)


@pytest.fixture
def words(register: Callable[[WordCount], WordCount]) -> WordCount:
    return register(WordCount())


def test_a_registered_task_is_planned_run_logged_aggregated_and_reported(tmp_path: Path, words: WordCount) -> None:
    server = FakeEvalServer()
    run = fake_run(tmp_path, server)
    assert [r.case_id for r in run.records] == ["who#1", "credit#1", "rate#1", "summary#1", "words#1"]
    assert words.ran == ["words#1"] and len(server.requests) == 4  # it ran once, and asked no model
    record = run.records[4]
    assert record.kind == "words" and record.error is None and record.result is None
    assert record.scores["words"].value == WORDS and record.verdict == "correct"
    assert record.reason == f"{WORDS} words in the article"
    lines = [json.loads(line) for line in run.log_path.read_text().splitlines()[1:]]  # in the order cases finished
    logged = next(line for line in lines if line["case_id"] == "words#1")
    assert logged["kind"] == "words" and logged["scores"]["words"]["value"] == WORDS
    assert [r for r in read_log(run.log_path).records if r.case_id == "words#1"] == [record]
    assert run.aggregates.metrics["article_words"].value == WORDS
    assert run.aggregates.metrics["correct"].value == 1.0  # the built-in kinds are as they were
    report = markdown_report(run, check_run(run, {"article_words": 100.0}, None, None))
    assert f"### words#1: correct (decided by none)\n\n- **Words counted:** {WORDS}\n" in report
    assert f"| article_words | {WORDS:.3f} | — | 1 | >= 100.00 pass |" in report
    assert 'classname="mini.words" name="words#1"' in junit_xml(run)


def test_a_resumed_run_keeps_a_finished_case_of_a_registered_task(tmp_path: Path, words: WordCount) -> None:
    fake_run(tmp_path)
    again = fake_run(tmp_path)
    assert again.resumed == 5 and words.ran == ["words#1"]


def test_a_failing_task_is_recorded_as_a_harness_error_with_its_scores_unscored(
    tmp_path: Path, register: Callable[[WordCount], WordCount]
) -> None:
    register(WordCount(fail=True))
    run = fake_run(tmp_path)
    record = run.records[4]
    assert record.error is not None and record.error.type == "RuntimeError" and record.error.harness
    assert record.verdict == "unscored" and record.scores["words"].verdict == "unscored"
    assert "the word counter broke" in record.scores["words"].reason
    assert run.harness_errors == [record] and run.records[0].verdict == "correct"


def test_a_kind_must_be_registered_to_be_run_read_or_gated(tmp_path: Path, words: WordCount) -> None:
    with pytest.raises(EvalError, match="already registered"):
        register_task(WordCount())
    run = fake_run(tmp_path)
    check_threshold_names({"article_words": 1.0})
    del TASKS[words.kind]
    assert "article_words" not in metric_names() and metric_names() == METRICS
    line = 2 + [json.loads(x)["case_id"] for x in run.log_path.read_text().splitlines()[1:]].index("words#1")
    with pytest.raises(
        EvalError, match=rf"run.jsonl:{line}: invalid case record \(kind: .*no eval task of kind 'words'"
    ):
        read_log(run.log_path)
    with pytest.raises(EvalError, match="unknown metric"):
        check_threshold_names({"article_words": 1.0})
    with pytest.raises(EvalError, match="no eval task of kind 'words'"):
        task_for("words")
    assert [p.case_id for p in plan_cases(load_suite(tmp_path / "suite" / "suite.toml"), 1)][-1] == "summary#1"


def test_the_built_in_kinds_are_registered_in_plan_order(tmp_path: Path) -> None:
    assert list(TASKS) == ["question", "reference", "summary"]
    assert isinstance(TASKS["question"], QuestionTask) and isinstance(TASKS["summary"], SummaryTask)
    suite = load_suite(write_suite(tmp_path / "suite", reference="bare"))
    plan = plan_cases(suite, 2)
    assert [(p.case_id, p.kind) for p in plan[:7]] == [
        ("who#1", "question"), ("credit#1", "question"), ("rate#1", "question"),
        ("bare-who#1", "reference"), ("bare-credit#1", "reference"), ("bare-rate#1", "reference"),
        ("summary#1", "summary"),
    ]  # fmt: skip
    assert [p.case_id for p in plan[7:]] == ["who#2", "credit#2", "rate#2", "bare-who#2", "bare-credit#2", "bare-rate#2", "summary#2"]  # fmt: skip
    run = asyncio.run(run_suite(suite, SETTINGS, log_path=tmp_path / "run.jsonl", backends=FakeEvalServer().backends()))
    assert set(read_log(run.log_path).header.prompt_versions) == {"answer", "summarize", "verify"}


KINDS = {"question", "reference", "summary"}


def kind_comparisons(source: str) -> list[str]:
    """Every comparison in `source` with a built-in kind (`x == "question"`, `x in ("question", ...)`)."""

    def names_a_kind(node: ast.expr) -> bool:
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(names_a_kind(e) for e in node.elts)
        return isinstance(node, ast.Constant) and node.value in KINDS

    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare) and any(names_a_kind(c) for c in [node.left, *node.comparators])
    ]


@pytest.mark.parametrize("module", ["runner", "log", "metrics", "report", "gate"])
def test_the_harness_names_no_kind_of_case(module: str) -> None:
    """The seam holds: the runner, log, metrics, report and gate never compare with a built-in kind."""
    assert kind_comparisons((QA / "evals" / f"{module}.py").read_text(encoding="utf-8")) == []


def test_the_kind_check_sees_a_branch_on_a_kind() -> None:
    """The check above is not vacuous: it finds the branches this seam replaced."""
    old = 'if r.kind == "question":\n    pass\nif self.kind in ("question", "reference"):\n    pass\nif x == "other":\n    pass\n'
    assert kind_comparisons(old) == [
        "line 1: r.kind == 'question'",
        "line 3: self.kind in ('question', 'reference')",
    ]

"""Tests for qa.evals.report: the terminal table, the Markdown report and JUnit XML."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qa.evals.gate import check_run, compare_logs
from qa.evals.metrics import METRICS
from qa.evals.report import comparison_markdown, junit_xml, markdown_report, print_table
from qa.evals.runner import EvalRun
from tests.evals.test_eval_runner import GOOD, FakeEvalServer, answer, fake_run

MIXED = {
    **GOOD,
    "Who is Colombia's president?": answer(
        "Xi Jinping", "President Xi Jinping told counterpart Gustavo Petro"
    ),  # incorrect
    "How much credit did Xi pledge?": 500,  # harness error
    "What interest rate applies to the credit?": "not json",  # model failure: unscored
}


@pytest.fixture
def mixed(tmp_path: Path) -> EvalRun:
    return fake_run(tmp_path, FakeEvalServer(replies=MIXED))


def test_junit_parses_with_one_testcase_per_case(mixed: EvalRun) -> None:
    root = ET.fromstring(junit_xml(mixed))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "4" and suite.get("failures") == "1"
    assert suite.get("errors") == "1" and suite.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == ["who#1", "credit#1", "rate#1", "summary#1"]
    failure = cases["who#1"].find("failure")
    assert failure is not None and "decided by f1" in (failure.get("message") or "")
    assert "Xi Jinping" in (failure.text or "") and "Gustavo Petro" in (failure.text or "")  # answer and expected
    error = cases["credit#1"].find("error")
    assert error is not None and error.get("type") == "APICallError"
    skipped = cases["rate#1"].find("skipped")
    assert skipped is not None and "OutputValidationError" in (skipped.get("message") or "")
    passed = cases["summary#1"]
    assert passed.find("failure") is None and passed.find("skipped") is None and passed.find("error") is None


def test_markdown_holds_per_case_evidence(mixed: EvalRun) -> None:
    text = markdown_report(mixed, check_run(mixed, {"correct": 0.5}, None, None))
    assert "### who#1: incorrect (decided by f1)" in text
    assert "**Question:** Who is Colombia's president?" in text and "**Expected:** Gustavo Petro / Petro" in text
    assert "**Answer** (answered): Xi Jinping" in text and "cited [" in text
    assert "**Error** (harness): APICallError" in text and "**Error** (model): OutputValidationError" in text
    assert "| where | sentence | facts | error | decided by | why |" in text  # the summary's sentences
    assert "with temperature 0" in text and "gate: FAIL (exit 6)" in text
    for metric in METRICS:
        assert f"| {metric} |" in text


def test_plain_table_when_not_a_terminal(mixed: EvalRun) -> None:
    out = io.StringIO()
    print_table(mixed, check_run(mixed, {"correct": 0.9}, None, None), out, terminal=False)
    text = out.getvalue()
    assert "\x1b[" not in text and text.splitlines()[0].split() == ["metric", "value", "95%", "CI", "n", "threshold"]
    assert ">= 0.90 FAIL" in text and "harness error: credit#1: APICallError" in text


def test_rich_table_on_a_terminal(mixed: EvalRun) -> None:
    out = io.StringIO()
    print_table(mixed, None, out, terminal=True)
    assert "answerable_accuracy" in out.getvalue() and "log:" in out.getvalue()


def test_comparison_markdown(tmp_path: Path, mixed: EvalRun) -> None:
    good = fake_run(tmp_path / "good")
    text = comparison_markdown(compare_logs(good.log_path, mixed.log_path))
    assert "## Regressions (correct in A, not in B): 3" in text
    assert "- who#1: correct -> incorrect" in text and "| correct |" in text

"""Tests for qa.evals.gate: thresholds, the baseline, per-case regressions, --compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import EvalError
from qa.evals.gate import (
    EXIT_GATE,
    EXIT_HARNESS,
    CaseVerdict,
    baseline_from_run,
    case_changes,
    check_run,
    check_thresholds,
    compare_logs,
    load_baseline,
    write_baseline,
)
from tests.evals.test_eval_runner import GOOD, FakeEvalServer, answer, fake_run

WRONG_WHO = {
    **GOOD,
    "Who is Colombia's president?": answer("Xi Jinping", "President Xi Jinping told counterpart Gustavo Petro"),
}


def test_thresholds_pass_and_fail(tmp_path: Path) -> None:
    run = fake_run(tmp_path, FakeEvalServer(replies=WRONG_WHO))
    checks = {
        c.metric: c
        for c in check_thresholds(
            run.aggregates, {"correct": 0.6, "answerable_accuracy": 0.9, "abstention_precision": 1.0}
        )
    }
    assert checks["correct"].passed and checks["correct"].value == pytest.approx(2 / 3)
    assert not checks["answerable_accuracy"].passed
    assert (
        checks["abstention_precision"].passed and checks["abstention_precision"].value == 1.0
    )  # equal to the minimum passes
    failing = check_run(run, {"correct": 0.9}, None, None)
    assert failing.exit_code == EXIT_GATE and [t.metric for t in failing.failed_thresholds] == ["correct"]
    assert check_run(run, {"correct": 0.6}, None, None).exit_code == 0


def test_a_metric_with_nothing_scored_fails_its_threshold(tmp_path: Path) -> None:
    run = fake_run(tmp_path, FakeEvalServer(summary="{}"))
    (check,) = check_thresholds(run.aggregates, {"completeness": 0.1})
    assert check.value is None and check.n == 0 and not check.passed


def test_an_unknown_metric_is_an_eval_error(tmp_path: Path) -> None:
    run = fake_run(tmp_path)
    with pytest.raises(EvalError, match="unknown metric.*corect"):
        check_thresholds(run.aggregates, {"corect": 0.5})


def test_a_case_correct_in_the_baseline_and_wrong_now_is_a_regression(tmp_path: Path) -> None:
    baseline = baseline_from_run(fake_run(tmp_path / "a"))
    path = write_baseline(baseline, tmp_path / "baselines" / "mini.json")
    assert load_baseline(path) == baseline and json.loads(path.read_text())["cases"]["who#1"]["verdict"] == "correct"
    now = fake_run(tmp_path / "b", FakeEvalServer(replies=WRONG_WHO))
    result = check_run(now, {"correct": 0.5}, load_baseline(path), str(path))
    assert result.exit_code == EXIT_GATE and not result.failed_thresholds
    assert [(c.case_id, c.before, c.after) for c in result.regressions] == [("who#1", "correct", "incorrect")]
    assert "best token F1" in result.regressions[0].reason


def test_harness_errors_win_over_everything(tmp_path: Path) -> None:
    run = fake_run(tmp_path, FakeEvalServer(replies={**GOOD, "Who is Colombia's president?": 500}))
    result = check_run(run, {}, None, None)
    assert result.exit_code == EXIT_HARNESS and result.harness_errors[0].startswith("who#1: APICallError")
    with pytest.raises(EvalError, match="harness error"):
        baseline_from_run(run)


def test_case_changes_on_literal_verdicts() -> None:
    def v(verdict: str) -> CaseVerdict:
        return CaseVerdict(verdict=verdict, reason="r")

    before = {"a": v("correct"), "b": v("incorrect"), "c": v("correct"), "d": v("unscored"), "gone": v("correct")}
    after = {"a": v("unscored"), "b": v("correct"), "c": v("correct"), "d": v("correct"), "new": v("incorrect")}
    regressions, improvements = case_changes(before, after)
    assert [c.case_id for c in regressions] == ["a"]
    assert [c.case_id for c in improvements] == ["b", "d"]


def test_bad_baselines_are_eval_errors_and_a_missing_one_is_none(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "none.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(EvalError, match="cannot read the baseline"):
        load_baseline(bad)
    bad.write_text(json.dumps({"baseline_version": 99}))
    with pytest.raises(EvalError, match="baseline_version 99"):
        load_baseline(bad)


def test_compare_lists_regressions_improvements_and_deltas(tmp_path: Path) -> None:
    a = fake_run(tmp_path / "a", FakeEvalServer(replies=WRONG_WHO))
    wrong_credit = {
        **GOOD,
        "How much credit did Xi pledge?": answer("$9.2 million", "Xi also pledged $9.2 billion in credit"),
    }
    b = fake_run(tmp_path / "b", FakeEvalServer(replies=wrong_credit), repeats=2)
    cmp = compare_logs(a.log_path, b.log_path)
    assert [c.case_id for c in cmp.regressions] == ["credit#1"]
    assert [c.case_id for c in cmp.improvements] == ["who#1"]
    assert cmp.only_in_a == [] and cmp.only_in_b == ["credit#2", "rate#2", "summary#2", "who#2"]
    deltas = {d.metric: d for d in cmp.deltas}
    assert deltas["correct"].delta == pytest.approx((1 + 0 + 1) / 3 - 2 / 3)

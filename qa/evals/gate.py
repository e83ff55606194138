"""The regression gate: thresholds, a committed baseline, and comparing two runs.

- Thresholds: `[thresholds]` in suite.toml, metric name -> minimum value. A metric below
  its minimum, or with nothing scored (value None), fails. An unknown metric name is an
  `EvalError`: a typo must not turn a gate off.
- Baseline: `evals/baselines/<suite>.json`, the aggregate metrics and per-case verdicts of
  a reference run (`qa eval --update-baseline` writes it). A case that was correct in the
  baseline and is not now (incorrect, or unscored because its call failed) is a regression.
- Exit codes (`GateResult.exit_code`): 0 pass; 7 a metric below threshold or a regression;
  6 the harness failed (any harness error in the run: the metrics cannot be trusted).
- `compare_logs(a, b)`: per-case regressions and improvements from run A to run B, and
  the metric deltas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from qa.errors import EvalError
from qa.evals.log import CaseRecord, read_log
from qa.evals.metrics import Aggregates, MetricValue, aggregate, metric_names
from qa.evals.runner import EvalRun
from qa.evals.scorers import Verdict
from qa.schemas import FrozenModel

__all__ = [
    "EXIT_GATE",
    "EXIT_HARNESS",
    "Baseline",
    "CaseChange",
    "CaseVerdict",
    "Comparison",
    "GateResult",
    "MetricDelta",
    "ThresholdCheck",
    "baseline_from_run",
    "case_changes",
    "check_run",
    "check_threshold_names",
    "check_thresholds",
    "compare_logs",
    "load_baseline",
    "write_baseline",
]

EXIT_HARNESS = 6
EXIT_GATE = 7
BASELINE_VERSION = 1


class ThresholdCheck(FrozenModel):
    """One metric against its minimum."""

    metric: str
    """Metric name."""
    minimum: float
    """The threshold from suite.toml."""
    value: float | None
    """The run's value (None: nothing scored)."""
    n: int
    """Units behind the value."""
    passed: bool
    """value >= minimum."""


class CaseChange(FrozenModel):
    """A case whose verdict changed between two runs."""

    case_id: str
    """The case."""
    before: Verdict
    """Verdict in the baseline (or run A)."""
    after: Verdict
    """Verdict now (or in run B)."""
    reason: str
    """Why it has its new verdict."""


class CaseVerdict(FrozenModel):
    """A case's verdict as a baseline keeps it."""

    verdict: Verdict
    """'correct', 'incorrect' or 'unscored'."""
    reason: str
    """Why."""


class Baseline(FrozenModel):
    """A reference run: aggregate metrics and per-case verdicts (evals/baselines/<suite>.json)."""

    baseline_version: int
    """Format version (1)."""
    suite: str
    """Suite name."""
    created_at: str
    """When it was written, UTC ISO 8601."""
    backend: str
    """Backend of the reference run."""
    model: str
    """Model of the reference run."""
    prompt_versions: dict[str, str]
    """Prompt versions of the reference run."""
    metrics: dict[str, MetricValue]
    """The reference run's aggregates."""
    cases: dict[str, CaseVerdict]
    """Case id -> verdict."""


class GateResult(FrozenModel):
    """What `qa eval --check` decided, and why."""

    thresholds: list[ThresholdCheck]
    """Every threshold, passed or not."""
    regressions: list[CaseChange]
    """Cases correct in the baseline and not now."""
    improvements: list[CaseChange]
    """Cases not correct in the baseline and correct now."""
    harness_errors: list[str]
    """'<case id>: <type>: <message>' for every harness error."""
    baseline: str | None
    """The baseline file compared against (None: no baseline, regressions not checked)."""

    @property
    def failed_thresholds(self) -> list[ThresholdCheck]:
        return [t for t in self.thresholds if not t.passed]

    @property
    def exit_code(self) -> int:
        """6 on harness errors, else 7 on a failed threshold or a regression, else 0."""
        if self.harness_errors:
            return EXIT_HARNESS
        return EXIT_GATE if self.failed_thresholds or self.regressions else 0


class MetricDelta(FrozenModel):
    """One metric in two runs."""

    metric: str
    """Metric name."""
    a: MetricValue
    """In run A."""
    b: MetricValue
    """In run B."""
    delta: float | None
    """b - a (None when either is None)."""


class Comparison(FrozenModel):
    """Run B against run A."""

    a: str
    """Log file of run A."""
    b: str
    """Log file of run B."""
    regressions: list[CaseChange]
    """Correct in A, not in B."""
    improvements: list[CaseChange]
    """Not correct in A, correct in B."""
    only_in_a: list[str]
    """Case ids run in A only."""
    only_in_b: list[str]
    """Case ids run in B only."""
    deltas: list[MetricDelta]
    """Every metric in both runs."""


def check_threshold_names(thresholds: Mapping[str, float]) -> None:
    """`EvalError` for a metric name in [thresholds] that does not exist (checked before a run, too)."""
    known = metric_names()
    unknown = sorted(set(thresholds) - set(known))
    if unknown:
        raise EvalError(f"unknown metric(s) in [thresholds]: {', '.join(unknown)}; known: {', '.join(known)}")


def check_thresholds(aggregates: Aggregates, thresholds: Mapping[str, float]) -> list[ThresholdCheck]:
    """Each threshold against the run; `EvalError` for a metric name that does not exist."""
    check_threshold_names(thresholds)
    checks = []
    for name, minimum in thresholds.items():
        metric = aggregates.metrics[name]
        passed = metric.value is not None and metric.value >= minimum - 1e-12
        checks.append(ThresholdCheck(metric=name, minimum=minimum, value=metric.value, n=metric.n, passed=passed))
    return checks


def case_changes(
    before: Mapping[str, CaseVerdict], after: Mapping[str, CaseVerdict]
) -> tuple[list[CaseChange], list[CaseChange]]:
    """(regressions, improvements) over the case ids in both."""
    regressions, improvements = [], []
    for case_id in sorted(set(before) & set(after)):
        old, new = before[case_id], after[case_id]
        change = CaseChange(case_id=case_id, before=old.verdict, after=new.verdict, reason=new.reason)
        if old.verdict == "correct" and new.verdict != "correct":
            regressions.append(change)
        elif old.verdict != "correct" and new.verdict == "correct":
            improvements.append(change)
    return regressions, improvements


def _verdicts(records: Sequence[CaseRecord]) -> dict[str, CaseVerdict]:
    return {r.case_id: CaseVerdict(verdict=r.verdict, reason=r.reason) for r in records}


def baseline_from_run(run: EvalRun) -> Baseline:
    """The baseline a run makes (refused with `EvalError` if it had harness errors)."""
    if run.harness_errors:
        raise EvalError(f"not writing a baseline from a run with {len(run.harness_errors)} harness error(s)")
    return Baseline(
        baseline_version=BASELINE_VERSION,
        suite=run.header.suite,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        backend=run.header.backend,
        model=run.header.model,
        prompt_versions=run.header.prompt_versions,
        metrics=run.aggregates.metrics,
        cases=_verdicts(run.records),
    )


def write_baseline(baseline: Baseline, path: str | os.PathLike[str]) -> Path:
    """Write a baseline as indented, key-sorted JSON (reads well in a diff)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(baseline.model_dump(mode="json"), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def load_baseline(path: str | os.PathLike[str]) -> Baseline | None:
    """The baseline at `path`, None if there is none; `EvalError` if it cannot be used."""
    source = Path(path)
    if not source.exists():
        return None
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalError(f"{source}: cannot read the baseline: {exc}") from exc
    version = data.get("baseline_version") if isinstance(data, dict) else None
    if version != BASELINE_VERSION:
        raise EvalError(f"{source}: baseline_version {version!r} is not one this qa reads ({BASELINE_VERSION})")
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        raise EvalError(f"{source}: invalid baseline: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc


def check_run(
    run: EvalRun, thresholds: Mapping[str, float], baseline: Baseline | None, baseline_path: str | None
) -> GateResult:
    """Gate a run on its thresholds and, if given, the baseline's per-case verdicts."""
    regressions: list[CaseChange] = []
    improvements: list[CaseChange] = []
    if baseline is not None:
        regressions, improvements = case_changes(baseline.cases, _verdicts(run.records))
    return GateResult(
        thresholds=check_thresholds(run.aggregates, thresholds),
        regressions=regressions,
        improvements=improvements,
        harness_errors=[f"{r.case_id}: {r.error.type}: {r.error.message}" for r in run.harness_errors if r.error],
        baseline=baseline_path if baseline is not None else None,
    )


def compare_logs(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> Comparison:
    """Compare two run logs: regressions and improvements from A to B, metric deltas."""
    run_a, run_b = read_log(a), read_log(b)
    verdicts_a, verdicts_b = _verdicts(run_a.records), _verdicts(run_b.records)
    regressions, improvements = case_changes(verdicts_a, verdicts_b)
    agg_a, agg_b = aggregate(run_a.records), aggregate(run_b.records)
    deltas = []
    for name in metric_names():
        ma, mb = agg_a.metrics[name], agg_b.metrics[name]
        delta = mb.value - ma.value if ma.value is not None and mb.value is not None else None
        deltas.append(MetricDelta(metric=name, a=ma, b=mb, delta=delta))
    return Comparison(
        a=str(a),
        b=str(b),
        regressions=regressions,
        improvements=improvements,
        only_in_a=sorted(set(verdicts_a) - set(verdicts_b)),
        only_in_b=sorted(set(verdicts_b) - set(verdicts_a)),
        deltas=deltas,
    )

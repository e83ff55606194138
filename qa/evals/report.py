"""What a run looks like to people and to CI: a terminal table, a Markdown report, JUnit XML.

- `metrics_table` / `print_table`: the metrics with 95% CIs and n (rich on a terminal,
  plain aligned text otherwise), plus the gate's verdict when there is one.
- `markdown_report`: everything, with per-case evidence (each case's task writes its own,
  `EvalTask.evidence`): the question, what was expected, the answer and its citations, the
  verdict, why, and which check decided it (exact, f1, alias, numbers, abstention, judge);
  for the summary, every sentence with its evidence.
- `junit_xml`: one testcase per case; a failure for an incorrect case, skipped (with the
  reason) for an unscored one, an error for a harness error.
- `comparison_markdown`: `qa eval --compare A B`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import IO

from qa.evals.gate import Comparison, GateResult
from qa.evals.log import CaseRecord
from qa.evals.metrics import MetricValue, metric_names
from qa.evals.runner import EvalRun
from qa.evals.tasks import TASKS, task_for
from qa.evals.tasks.base import cell
from qa.settings import redact_url

__all__ = ["comparison_markdown", "format_metric", "junit_xml", "markdown_report", "metrics_table", "print_table"]

REPEAT_NOTE = (
    "Each repeat is a distinct request (seed = repeat number), so a recording never replays one output "
    "for every repeat; with temperature 0 decoding is greedy and repeats may still agree."
)
CI_NOTE = (
    "95% CIs: Wilson for 0/1 values, Student's t otherwise. Question metrics average each question's repeats "
    "first (n counts questions); summary metrics count summary cases. Unscored values are left out and listed."
)


def format_metric(metric: MetricValue) -> tuple[str, str]:
    """('0.625', '[0.49, 0.74]') for a metric; '—' where there is no value."""
    value = "—" if metric.value is None else f"{metric.value:.3f}"
    ci = "—" if metric.low is None or metric.high is None else f"[{metric.low:.2f}, {metric.high:.2f}]"
    return value, ci


def metrics_table(run: EvalRun, gate: GateResult | None = None) -> list[list[str]]:
    """Rows: metric, value, 95% CI, n, threshold (with pass/FAIL)."""
    minimums = {t.metric: t for t in gate.thresholds} if gate else {}
    rows = []
    for name in metric_names():
        value, ci = format_metric(run.aggregates.metrics[name])
        check = minimums.get(name)
        threshold = "" if check is None else f">= {check.minimum:.2f} {'pass' if check.passed else 'FAIL'}"
        rows.append([name, value, ci, str(run.aggregates.metrics[name].n), threshold])
    return rows


def _gate_lines(gate: GateResult) -> list[str]:
    lines = [f"gate: {'PASS' if gate.exit_code == 0 else 'FAIL'} (exit {gate.exit_code})"]
    lines += [
        f"  below threshold: {t.metric} = {'nothing scored' if t.value is None else f'{t.value:.3f}'} < {t.minimum}"
        for t in gate.failed_thresholds
    ]
    lines += [
        f"  regression: {c.case_id} was {c.before}, now {c.after}: {c.reason.splitlines()[0]}" for c in gate.regressions
    ]
    lines += [f"  harness error: {e.splitlines()[0]}" for e in gate.harness_errors[:5]]
    if len(gate.harness_errors) > 5:
        lines.append(f"  ... and {len(gate.harness_errors) - 5} more harness errors (see the log)")
    if gate.baseline is None:
        lines.append("  no baseline: per-case regressions were not checked")
    return lines


def _retried(run: EvalRun) -> str:
    return f", {run.retried} run again after a harness error" if run.retried else ""


def print_table(run: EvalRun, gate: GateResult | None, out: IO[str], *, terminal: bool) -> None:
    """Print the metrics table (rich when `terminal`), usage, and the gate's verdict."""
    rows = metrics_table(run, gate)
    agg = run.aggregates
    usage = agg.usage
    cost = "unknown" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    footer = [
        f"{agg.cases} cases ({run.resumed} resumed from the log{_retried(run)}), {agg.errors} failed calls, "
        f"{agg.harness_errors} harness errors; "
        f"{sum(agg.unscored_counts.values())} unscored values",
        f"usage: {usage.total_tokens:,} tokens ({usage.prompt_tokens:,} in, {usage.completion_tokens:,} out), "
        f"{usage.attempts} model calls, cost {cost}",
        f"log: {run.log_path}",
    ]
    if gate is not None:
        footer += _gate_lines(gate)
    if terminal:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"qa eval {run.header.suite}: {run.header.backend}:{run.header.model}")
        for column in ("metric", "value", "95% CI", "n", "threshold"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for row in rows:
            table.add_row(*row, style="red" if row[4].endswith("FAIL") else None)
        console = Console(file=out)
        console.print(table)
        for line in footer:
            console.print(line, markup=False, highlight=False)
        return
    header = ["metric", "value", "95% CI", "n", "threshold"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.write("  ".join(text.ljust(w) for text, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write("\n".join(footer) + "\n")


def _shown(value: object) -> object:
    """A setting as the report shows it: URLs without credentials, even from logs written before redaction."""
    return redact_url(value) if isinstance(value, str) and "://" in value else value


def _case_section(r: CaseRecord) -> list[str]:
    lines = [f"### {r.case_id}: {r.verdict} (decided by {r.decided_by})", ""]
    lines += task_for(r.kind).evidence(r)
    if r.error is not None:
        lines.append(
            f"- **Error** ({'harness' if r.error.harness else 'model'}): {r.error.type}: {cell(r.error.message)}"
        )
    lines.append(f"- **Why:** {cell(r.reason)}")
    scores = ", ".join(
        f"{name} {s.value:.2f}" if s.value is not None else f"{name} unscored" for name, s in r.scores.items()
    )
    lines.append(f"- **Scores:** {scores}")
    judge = (
        ""
        if r.judge_usage is None
        else f" + judge {r.judge_usage.total_tokens} tokens, {r.judge_usage.attempts} call(s)"
    )
    lines.append(f"- **Cost:** {r.usage.total_tokens} tokens, {r.usage.attempts} call(s){judge}, {r.elapsed_s:.2f} s")
    return [*lines, ""]


def _unscored_lines(run: EvalRun) -> list[str]:
    """One line per (metric, reason), with its count and cases."""
    groups: dict[tuple[str, str], list[str]] = {}
    for note in run.aggregates.unscored:
        groups.setdefault((note.metric, cell(note.reason)), []).append(note.case_id)
    if not groups:
        return ["Every value was scored."]
    return [
        f"- {metric}, {len(cases)} case(s) ({', '.join(cases)}): {reason}" for (metric, reason), cases in groups.items()
    ]


def markdown_report(run: EvalRun, gate: GateResult | None = None) -> str:
    """The full report: run facts, gate, metrics, usage, unscored reasons, per-case evidence."""
    h = run.header
    out = [f"# qa eval: {h.suite}", ""]
    out += [f"- Log: `{run.log_path}` (log_version {h.log_version}), started {h.started_at}, qa {h.qa_version}"]
    out += [
        f"- Backend: {h.backend}, model {h.model}; prompts: "
        + ", ".join(f"{k} {v}" for k, v in sorted(h.prompt_versions.items()))
    ]
    out += ["- Settings: " + ", ".join(f"{k}={_shown(v)}" for k, v in h.settings.items()), f"- {REPEAT_NOTE}", ""]
    if gate is not None:
        out += ["## Gate", "", *[f"    {line}" for line in _gate_lines(gate)], ""]
    out += ["## Metrics", "", "| metric | value | 95% CI | n | threshold |", "|---|---|---|---|---|"]
    out += [f"| {' | '.join(row)} |" for row in metrics_table(run, gate)]
    u = run.aggregates.usage
    out += ["", CI_NOTE, "", "## Usage", ""]
    per_case = u.tokens_per_case
    spread = (
        ""
        if per_case.low is None or per_case.high is None
        else f" (95% CI {per_case.low:,.0f} to {per_case.high:,.0f})"
    )
    out += [f"{u.total_tokens:,} tokens ({u.prompt_tokens:,} prompt, {u.completion_tokens:,} completion), {u.attempts} model calls, "
            f"cost {'unknown' if u.cost_usd is None else f'${u.cost_usd:.4f}'}; "
            f"{'—' if per_case.value is None else f'{per_case.value:,.0f}'} tokens per case{spread}.", ""]  # fmt: skip
    for kind, task in TASKS.items():
        out += task.sections([r for r in run.records if r.kind == kind])
    out += ["## Unscored", "", *_unscored_lines(run), "", "## Cases", ""]
    for record in run.records:
        out += _case_section(record)
    return "\n".join(out).rstrip() + "\n"


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: object) -> str:
    return _XML_BAD.sub("?", str(text))


def _evidence_text(r: CaseRecord) -> str:
    return "\n".join(task_for(r.kind).evidence(r))


def junit_xml(run: EvalRun) -> str:
    """JUnit XML: one testcase per case (failure: incorrect; skipped: unscored; error: harness)."""
    records: Sequence[CaseRecord] = run.records
    failures = sum(1 for r in records if r.verdict == "incorrect" and not (r.error and r.error.harness))
    errors = sum(1 for r in records if r.error is not None and r.error.harness)
    skipped = sum(1 for r in records if r.verdict == "unscored" and not (r.error and r.error.harness))
    attrs = {"tests": str(len(records)), "failures": str(failures), "errors": str(errors), "skipped": str(skipped),
             "time": f"{sum(r.elapsed_s for r in records):.3f}"}  # fmt: skip
    root = ET.Element("testsuites", {"name": "qa eval", **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": _x(run.header.suite), **attrs})
    props = ET.SubElement(suite, "properties")
    for key, value in (("backend", run.header.backend), ("model", run.header.model), ("log", str(run.log_path))):
        ET.SubElement(props, "property", {"name": key, "value": _x(value)})
    for r in records:
        case = ET.SubElement(suite, "testcase", {"classname": f"{_x(run.header.suite)}.{r.kind}", "name": _x(r.case_id),
                                                 "time": f"{r.elapsed_s:.3f}"})  # fmt: skip
        why = _x(f"{r.reason} (decided by {r.decided_by})")
        if r.error is not None and r.error.harness:
            ET.SubElement(case, "error", {"type": _x(r.error.type), "message": _x(r.error.message)}).text = why
        elif r.verdict == "incorrect":
            ET.SubElement(case, "failure", {"type": "incorrect", "message": why}).text = _x(_evidence_text(r))
        elif r.verdict == "unscored":
            ET.SubElement(case, "skipped", {"message": _x(f"unscored: {r.reason}")})
        ET.SubElement(case, "system-out").text = _x(_evidence_text(r) + f"\nverdict: {r.verdict}: {why}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def comparison_markdown(cmp: Comparison) -> str:
    """`qa eval --compare A B`: regressions, improvements and metric deltas."""
    out = ["# qa eval --compare", "", f"- A: `{cmp.a}`", f"- B: `{cmp.b}`", ""]
    out += [f"## Regressions (correct in A, not in B): {len(cmp.regressions)}", ""]
    out += [f"- {c.case_id}: {c.before} -> {c.after}: {cell(c.reason)}" for c in cmp.regressions] or ["None."]
    out += ["", f"## Improvements (not correct in A, correct in B): {len(cmp.improvements)}", ""]
    out += [f"- {c.case_id}: {c.before} -> {c.after}: {cell(c.reason)}" for c in cmp.improvements] or ["None."]
    if cmp.only_in_a or cmp.only_in_b:
        out += ["", f"Not compared: only in A {cmp.only_in_a or 'none'}; only in B {cmp.only_in_b or 'none'}."]
    out += ["", "## Metrics", "", "| metric | A | B | B - A |", "|---|---|---|---|"]
    for d in cmp.deltas:
        delta = "—" if d.delta is None else f"{d.delta:+.3f}"
        out.append(
            f"| {d.metric} | {' '.join(format_metric(d.a))} (n={d.a.n}) | {' '.join(format_metric(d.b))} (n={d.b.n}) | {delta} |"
        )
    return "\n".join(out) + "\n"

"""The model ladder: each embedded model on the eval suites, accuracy beside speed and memory.

    .venv/bin/python bench/ladder.py --models smollm2-135m qwen2.5-coder-0.5b --suites seed squad-dev wiki
    .venv/bin/python bench/ladder.py --logs evals/runs/*.jsonl          # only tabulate existing logs

For each model and suite it runs `qa eval` live (record mode off, concurrency 1, one model
process at a time) in a child process, keeps the run log in `evals/runs/ladder-<model>-<suite>.jsonl`
(an existing log is resumed, so an interrupted ladder continues), and reads the child's
peak resident memory. Then it prints one Markdown row per (model, suite):

- answered right / abstained right: answerable and unanswerable accuracy (seed: qa's
  scorer; squad-dev: the official SQuAD 2.0 rules), HasAns F1, overall F1, and the bare
  model's overall F1 asked plainly (squad-dev's reference arm) with qa's F1 over it;
- completeness and faithfulness of the summaries, and lead-3's completeness;
- seconds for the first question (the model reads the whole article) and the median of
  the later ones (llama.cpp reuses the article's prefix), seconds per summary;
- peak memory of the process (MiB).

Run it on an idle machine: llama.cpp's threads spin, and another busy process slows every
call many times over.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evals.log import read_log  # noqa: E402
from qa.evals.metrics import aggregate  # noqa: E402


def run_one(model: str, suite: str) -> tuple[Path, float | None]:
    log = ROOT / "evals" / "runs" / f"ladder-{model}-{suite}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "QA_LOCAL_MODEL": model, "QA_RECORD_MODE": "off", "QA_BACKEND": "embedded"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cmd = [str(ROOT / ".venv" / "bin" / "qa"), "eval", "--suite", suite, "--concurrency", "1", "--log", str(log)]
    subprocess.run(cmd, env=env, cwd=ROOT, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return log, (after / 1024 if after > before else None)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def row(log: Path, peak_mib: float | None) -> str:
    run = read_log(log)
    metrics = aggregate(run.records).metrics
    questions = [r for r in run.records if r.kind == "question"]
    summaries = [r for r in run.records if r.kind == "summary"]
    times = [r.elapsed_s for r in questions]
    first = _fmt(times[0], 1) if times else "—"
    later = _fmt(statistics.median(times[1:]), 1) if len(times) > 1 else "—"
    per_summary = _fmt(statistics.median(r.elapsed_s for r in summaries), 1) if summaries else "—"

    def m(name: str) -> str:
        return _fmt(metrics[name].value) if name in metrics else "—"

    return (
        f"| {run.header.model} | {run.header.suite} | {m('answerable_accuracy')} | {m('unanswerable_accuracy')} | "
        f"{m('has_ans_f1')} | {m('f1')} | {m('bare_f1')} | {m('f1_vs_bare')} | {m('completeness')} | "
        f"{m('faithfulness')} | {m('lead3_completeness')} | {first} | {later} | {per_summary} | "
        f"{_fmt(peak_mib, 0)} |"
    )


HEADER = (
    "| model | suite | answerable right | unanswerable right | HasAns F1 | F1 | bare F1 | F1 / bare | "
    "completeness | faithfulness | lead-3 completeness | first question s | later questions s | summary s | peak MiB |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[])
    parser.add_argument("--suites", nargs="*", default=["seed", "squad-dev", "wiki"])
    parser.add_argument("--logs", nargs="*", type=Path, default=[], help="tabulate these logs instead of running")
    args = parser.parse_args()
    rows = [row(log, None) for log in args.logs]
    for model in args.models:
        for suite in args.suites:
            log, peak = run_one(model, suite)
            rows.append(
                row(log, peak) if log.is_file() else f"| {model} | {suite} | (the run failed: see its output above) |"
            )
    print(HEADER)
    print("\n".join(rows))


if __name__ == "__main__":
    main()

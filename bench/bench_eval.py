"""Throughput of the eval harness in replay mode, against one bare replayed `qa.ask` call.

    .venv/bin/python bench/bench_eval.py [--runs 5] [--asks 200] [--suite evals/seed/suite.toml]

Replays the full seed suite (every question and the summary) from a copy of its committed
recordings (evals/recordings/<suite>/), in-process, after one warm-up run (model tokenizer,
prompt templates and recordings loaded; interpreter start not counted). Each timed run
writes a fresh run log, fsync per case included. The baseline is the replay-mode cost of
one bare `qa.ask` call on the same recordings, so the ratio says what the harness adds per
case: scoring, the log, concurrency, the summary. Target: at least 500 cases/second.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import qa
from qa.evals import load_suite
from qa.evals.runner import run_suite

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=str(ROOT / "evals" / "seed" / "suite.toml"))
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the whole suite")
    parser.add_argument("--asks", type=int, default=200, help="timed bare qa.ask calls")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--recordings", type=Path, help="recordings folder (default: evals/recordings/<suite>)")
    args = parser.parse_args()

    suite = load_suite(args.suite)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "recordings"
        shutil.copytree(args.recordings or ROOT / "evals" / "recordings" / suite.name, folder)
        settings = qa.Settings.load(env={}, backend="embedded", record_mode="replay", recordings=folder)

        def one_run(index: int) -> tuple[float, int]:
            started = time.perf_counter()
            run = asyncio.run(run_suite(suite, settings, concurrency=args.concurrency, log_path=Path(tmp) / f"run{index}.jsonl"))
            elapsed = time.perf_counter() - started
            if run.harness_errors:
                first = run.harness_errors[0]
                raise SystemExit(f"harness error in the benchmark run: {first.case_id}: {first.error}")
            return elapsed, len(run.records)

        one_run(-1)  # warm-up
        timings = [one_run(i) for i in range(args.runs)]
        cases = timings[0][1]
        per_run = statistics.median(t for t, _ in timings)
        rate = cases / per_run

        article = qa.load_article(suite.article_path)
        ask_settings = settings.model_copy(update={"seed": 1})  # the seed the suite's first repeat sends
        questions = [q.question for q in suite.questions]
        qa.ask(article, questions[0], settings=ask_settings)  # warm-up
        started = time.perf_counter()
        for i in range(args.asks):
            qa.ask(article, questions[i % len(questions)], settings=ask_settings)
        per_ask = (time.perf_counter() - started) / args.asks

    per_case = per_run / cases
    print(f"suite {suite.name}: {cases} cases ({len(suite.questions)} questions + 1 summary), {args.runs} timed runs, concurrency {args.concurrency}")
    print(f"harness (replay): {per_run * 1000:.1f} ms per run (median), {per_case * 1000:.2f} ms per case, {rate:.0f} cases/second")
    print(f"bare qa.ask (replay): {per_ask * 1000:.2f} ms per call, {1 / per_ask:.0f} calls/second")
    print(f"ratio (harness per case / bare ask): {per_case / per_ask:.2f}x")
    print(f"target >= 500 cases/second: {'met' if rate >= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()

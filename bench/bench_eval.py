"""Throughput of the eval harness in replay mode, against one bare replayed `qa.ask` call.

    .venv/bin/python bench/bench_eval.py [--runs 5] [--suite evals/seed/suite.toml]

Replays the full seed suite (every question and the summary) from its committed
recordings (evals/recordings/<suite>/), in-process. Interpreter start and imports are not
counted. Two figures:

- cold: the first run in the process, which also pays the one-time set-up (loading the
  embedded model's tokenizer, compiling prompt templates);
- per run (the headline, and the target): each timed run after that starts from data
  nothing has seen: its own fresh copy of the recordings folder (so a new backend reads
  and parses every recording again and counts every prompt's tokens again) and emptied
  scoring caches. Only the process-wide set-up stays warm. Each run writes a fresh run
  log, fsync per case included.

The baseline is the replay-mode cost of one bare `qa.ask` call on the same recordings (each
question once, in turn, on fresh recordings too), so the ratio says what the harness adds
per case: scoring, the log, concurrency, the summary.
Target: at least 500 cases/second.
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
from qa.evals.normalize import normalize_numbers, normalize_text
from qa.evals.runner import run_suite
from qa.recording import recorded_origins
from qa.tasks.abstention import _article_stems
from qa.text.retrieval import _index
from qa.text.support import _content_terms

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default=str(ROOT / "evals" / "seed" / "suite.toml"))
    parser.add_argument("--runs", type=int, default=5, help="timed runs of the whole suite")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--recordings", type=Path, help="recordings folder (default: evals/recordings/<suite>)")
    args = parser.parse_args()

    suite = load_suite(args.suite)
    source = args.recordings or ROOT / "evals" / "recordings" / suite.name
    origins = recorded_origins(source)
    if not origins:
        raise SystemExit(f"no recordings in {source}")
    backend, model = max(origins, key=lambda origin: origins[origin])  # the model the recordings were made with
    with tempfile.TemporaryDirectory() as tmp:

        def fresh_settings(index: int) -> qa.Settings:
            folder = Path(tmp) / f"recordings{index}"
            shutil.copytree(source, folder)
            return qa.Settings.load(env={}, backend=backend, model=model, record_mode="replay", recordings=folder)

        def one_run(index: int) -> tuple[float, int]:
            settings = fresh_settings(index)  # before the clock starts: copying is not the harness's work
            normalize_numbers.cache_clear()
            normalize_text.cache_clear()
            _content_terms.cache_clear()  # the article's terms and BM25 index are computed afresh too
            _index.cache_clear()
            _article_stems.cache_clear()
            started = time.perf_counter()
            run = asyncio.run(
                run_suite(suite, settings, concurrency=args.concurrency, log_path=Path(tmp) / f"run{index}.jsonl")
            )
            elapsed = time.perf_counter() - started
            if run.harness_errors:
                first = run.harness_errors[0]
                raise SystemExit(f"harness error in the benchmark run: {first.case_id}: {first.error}")
            return elapsed, len(run.records)

        cold, cases = one_run(-1)
        timings = [one_run(i) for i in range(args.runs)]
        per_run = statistics.median(t for t, _ in timings)
        rate = cases / per_run

        article = qa.load_article(suite.article_path)
        questions = [q.question for q in suite.questions]

        def bare_pass(index: int) -> float:
            """Each question once through `qa.ask`, on fresh recordings like a timed run."""
            settings = fresh_settings(100 + index).model_copy(update={"seed": 1})  # the suite's first repeat's seed
            _content_terms.cache_clear()
            _index.cache_clear()
            _article_stems.cache_clear()
            started = time.perf_counter()
            for question in questions:
                qa.ask(article, question, settings=settings)
            return (time.perf_counter() - started) / len(questions)

        per_ask = statistics.median(bare_pass(i) for i in range(args.runs))

    per_case = per_run / cases
    print(
        f"suite {suite.name}: {cases} cases ({len(suite.questions)} questions + 1 summary), {args.runs} timed runs, concurrency {args.concurrency}"
    )
    print(f"cold first run (one-time set-up included): {cold * 1000:.1f} ms, {cases / cold:.0f} cases/second")
    print(
        f"harness (replay): {per_run * 1000:.1f} ms per run (median), {per_case * 1000:.2f} ms per case, {rate:.0f} cases/second"
    )
    print(f"bare qa.ask (replay): {per_ask * 1000:.2f} ms per call, {1 / per_ask:.0f} calls/second")
    print(f"ratio (harness per case / bare ask): {per_case / per_ask:.2f}x")
    print(f"target >= 500 cases/second: {'met' if rate >= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()

"""inspect_ai's side of row 4: eval throughput on its mock model, in the inspect venv.

    .bench-venvs/inspect/bin/python bench/peers/inspect_eval.py --cases 57 --runs 5

Builds a Task with `--cases` Samples (a short input and target each), the `generate()`
solver and the `match()` scorer, and evaluates it on `mockllm/model` (inspect's built-in
mock: no network, no weights; its replies carry a fixed usage, see `mock_output`). One warm-up eval, then `--runs` timed evals; the time is
taken in-process around the `eval()` call, so interpreter start and imports are not
counted. Each eval writes its log to a temporary folder, as inspect always does.
Prints one JSON object: cases, runs, median seconds per eval, cases per second.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput, ModelUsage
from inspect_ai.scorer import match
from inspect_ai.solver import generate

MOCK_REPLY = "Default output from mockllm/model"


def mock_output(*_: object) -> ModelOutput:
    """mockllm's default reply, with usage filled in.

    Without usage, mockllm counts tokens with tiktoken's o200k_base, which tiktoken
    downloads at run time: that fails offline. A fixed usage keeps the run offline.
    """
    output = ModelOutput.from_content(model="mockllm", content=MOCK_REPLY)
    output.usage = ModelUsage(input_tokens=20, output_tokens=8, total_tokens=28)
    return output


def build_task(cases: int) -> Task:
    """A Task of `cases` question samples scored by exact match at the end of the output."""
    samples = [
        Sample(input=f"Question {i}: what does the article say about item {i}?", target="model", id=f"q{i:03d}")
        for i in range(cases)
    ]
    return Task(dataset=samples, solver=generate(), scorer=match())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4, help="max_samples (qa's harness runs 4 at once)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs:

        def one_run() -> float:
            task = build_task(args.cases)
            started = time.perf_counter()
            result = eval(
                task, model="mockllm/model", model_args={"custom_outputs": mock_output}, log_dir=logs, display="none",
                max_samples=args.concurrency, max_connections=args.concurrency,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            log = result[0]
            if log.status != "success" or len(log.samples or []) != args.cases:
                raise SystemExit(f"inspect eval did not succeed: status {log.status}, error {log.error}")
            return elapsed

        one_run()  # warm-up
        times = [one_run() for _ in range(args.runs)]
    per_run = statistics.median(times)
    print(
        json.dumps(
            {
                "cases": args.cases,
                "runs": args.runs,
                "seconds_per_run": per_run,
                "cases_per_second": args.cases / per_run,
            }
        )
    )


if __name__ == "__main__":
    main()

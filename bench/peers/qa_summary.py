"""qa's side of row 1: `qa.summarize(article, backend="embedded")`, timed run by run.

    .venv/bin/python bench/peers/qa_summary.py --write-request REQUEST.json
    .venv/bin/python bench/peers/qa_summary.py --repeats 1 --seed-base 1

Runs in the project's own venv (not a peer venv; it lives here beside its counterpart,
`instructor_summary.py`). `--write-request` writes what the instructor side needs to ask
the same thing: the messages of `qa`'s first summary request for the seed article, the
JSON schema of `qa.schemas.Summary`, `max_tokens` (qa's output budget), the sampling
settings qa's embedded transport uses, the GGUF path, context size and thread count.

Timed runs: the model is loaded and the SDK imported first (untimed, as the instructor
side loads its model before timing). Before each run the KV cache is reset, so no run
reuses an earlier run's prompt. Prints one JSON object per run: success (a schema-valid
`SummaryResult`), latency, tokens and attempts summed over every call qa made.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import qa
from qa.backends.embedded import load_model

ROOT = Path(__file__).resolve().parents[2]
SEED_ARTICLE = ROOT / "seeds" / "000_db386d23d8a38732.txt"
REPEAT_PENALTY = 1.1  # qa's embedded transport default (qa.backends.embedded.transport)
TOP_P = 1.0  # the transport's default too


def write_request(path: Path) -> None:
    """The request the instructor side replays (see the module docstring)."""
    from qa.backends.backend import open_backend
    from qa.schemas import Summary
    from qa.settings import Settings
    from qa.tasks.summarize import summary_steps

    article = qa.load_article(SEED_ARTICLE)
    settings = Settings.load(env={}, backend="embedded")
    backend = open_backend(settings)
    steps = summary_steps(article, backend)
    first = next(steps)
    steps.close()
    model = load_model()
    request = {
        "messages": first.body["messages"],
        "schema": Summary.model_json_schema(),
        "max_tokens": first.body["max_tokens"],
        "temperature": first.body["temperature"],
        "top_p": TOP_P,
        "repeat_penalty": REPEAT_PENALTY,
        "max_attempts": settings.max_attempts,
        "model_path": str(model.path),
        "n_ctx": model.n_ctx,
        "n_threads": int(model.llama.n_threads),
        "qa_response_format": first.body["response_format"]["type"],
    }
    path.write_text(json.dumps(request))


def timed_runs(repeats: int, seed_base: int) -> None:
    """Print one JSON record per `qa.summarize` call."""
    import httpx2  # noqa: F401 - imported before timing, as `import instructor` is on the other side
    import openai  # noqa: F401

    article = qa.load_article(SEED_ARTICLE)
    model = load_model()
    for i in range(repeats):
        seed = seed_base + i
        model.llama.reset()
        error, usage = None, None
        started = time.perf_counter()
        try:
            result = qa.summarize(article, backend="embedded", seed=seed, record_mode="off")
            usage = result.usage
        except qa.QAError as exc:
            error, usage = f"{type(exc).__name__}: {str(exc)[:200]}", exc.usage
        elapsed = time.perf_counter() - started
        record = {
            "ok": error is None, "latency_s": elapsed, "seed": seed, "error": error,
            "prompt_tokens": usage.prompt_tokens if usage else 0,
            "completion_tokens": usage.completion_tokens if usage else 0,
            "attempts": usage.attempts if usage else 0,
        }  # fmt: skip
        print(json.dumps(record), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-request", type=Path, help="write the request file and exit")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed-base", type=int, default=1)
    args = parser.parse_args()
    if args.write_request:
        write_request(args.write_request)
    else:
        timed_runs(args.repeats, args.seed_base)


if __name__ == "__main__":
    main()

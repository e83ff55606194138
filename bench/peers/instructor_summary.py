"""instructor's side of row 1: a structured Summary through instructor and llama-cpp-python.

    .bench-venvs/instructor/bin/python bench/peers/instructor_summary.py REQUEST.json --variant documented

Runs in `.bench-venvs/instructor` (instructor 1.17 cannot share a venv with openai 3.x
and `qa`'s pins). REQUEST.json is written by `bench/peers/qa_summary.py --write-request`:
the messages `qa` sends for the seed article, the JSON schema of `qa.schemas.Summary`,
`max_tokens`, sampling settings, the GGUF path and the context size `qa` loads it with.
The response model is `qa.schemas.Summary` itself (pure pydantic, imported from the repo);
the script refuses to run if its JSON schema differs from the one in REQUEST.json.

The model is loaded once, untimed. Each timed run resets the KV cache (no prefix reuse, as
on `qa`'s side) and calls the patched create with `max_retries=max_attempts - 1`, so both
sides may spend the same number of attempts. Every attempt's usage is summed by a wrapper
around `create_chat_completion_openai_v1` (instructor's own returned usage counts only the
last attempt in some versions).

Variants:
  documented  `instructor.patch(create=llama.create_chat_completion_openai_v1,
              mode=instructor.Mode.JSON_SCHEMA)`, as instructor's llama-cpp-python guide
              shows. instructor 1.17 sends `{"type": "json_schema", ...}`, which
              llama-cpp-python ignores without a word (it builds a grammar only for
              `json_object`): decoding is unconstrained.
  enforced    the same, with the request's `response_format` rewritten to
              llama-cpp-python's own spelling `{"type": "json_object", "schema": ...}` so
              llama.cpp enforces the schema with a grammar.
Prints one JSON object per run on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def load_summary_model(schema: dict[str, Any]) -> Any:
    """`qa.schemas.Summary`, checked against the schema the qa side sent."""
    sys.path.insert(0, str(ROOT))
    from qa.schemas import Summary  # pure pydantic: no qa dependency beyond it

    if Summary.model_json_schema() != schema:
        raise SystemExit("qa.schemas.Summary here differs from the schema in the request file")
    return Summary


class CountingCreate:
    """Wraps llama's OpenAI-style create: sums usage per attempt, optionally fixes response_format."""

    def __init__(self, llama: Any, enforce_schema: bool) -> None:
        self.llama, self.enforce_schema = llama, enforce_schema
        self.prompt_tokens = self.completion_tokens = self.attempts = 0
        self.response_formats: list[str] = []
        self.finish_reasons: list[str] = []

    def reset(self) -> None:
        self.prompt_tokens = self.completion_tokens = self.attempts = 0
        self.response_formats, self.finish_reasons = [], []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        response_format = kwargs.get("response_format")
        if self.enforce_schema and response_format and response_format.get("type") == "json_schema":
            kwargs["response_format"] = {"type": "json_object", "schema": response_format["json_schema"]["schema"]}
        self.response_formats.append(str((kwargs.get("response_format") or {}).get("type")))
        response = self.llama.create_chat_completion_openai_v1(*args, **kwargs)
        self.attempts += 1
        if response.usage is not None:
            self.prompt_tokens += response.usage.prompt_tokens
            self.completion_tokens += response.usage.completion_tokens
        self.finish_reasons.append(str(response.choices[0].finish_reason))
        return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("request", type=Path)
    parser.add_argument("--variant", choices=["documented", "enforced"], required=True)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed-base", type=int, default=1)
    args = parser.parse_args()
    request = json.loads(args.request.read_text())

    import instructor
    import llama_cpp

    summary_model = load_summary_model(request["schema"])
    llama = llama_cpp.Llama(
        model_path=request["model_path"], n_ctx=request["n_ctx"], n_threads=request["n_threads"],
        n_threads_batch=request["n_threads"], verbose=False,
    )  # fmt: skip
    counter = CountingCreate(llama, enforce_schema=args.variant == "enforced")
    create = instructor.patch(create=counter, mode=instructor.Mode.JSON_SCHEMA)
    for i in range(args.repeats):
        seed = args.seed_base + i
        counter.reset()
        llama.reset()
        error = None
        started = time.perf_counter()
        try:
            create(
                messages=[dict(m) for m in request["messages"]], response_model=summary_model,
                max_retries=request["max_attempts"] - 1, max_tokens=request["max_tokens"],
                temperature=request["temperature"], top_p=request["top_p"],
                repeat_penalty=request["repeat_penalty"], seed=seed,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - instructor raises its retry, incomplete-output or parse errors
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            attempts = getattr(exc, "failed_attempts", None) or []
            if attempts:  # why the last attempt failed, in brief
                last = " ".join(str(attempts[-1].exception).split())
                error += f" (last attempt: {last[:300]})"
        elapsed = time.perf_counter() - started
        record = {
            "ok": error is None, "latency_s": elapsed, "prompt_tokens": counter.prompt_tokens,
            "completion_tokens": counter.completion_tokens, "attempts": counter.attempts, "seed": seed,
            "error": error, "response_format_sent": counter.response_formats, "finish_reasons": counter.finish_reasons,
        }  # fmt: skip
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()

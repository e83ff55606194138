"""What the OpenAI SDK, the transport and `qa.ask` cost on top of llama.cpp itself.

    .venv/bin/python bench/bench_embedded.py [--repeats 10] [--question "..."]

Loads the embedded model once, then answers one question about the seed article three
ways, interleaved (a, b, c, a, b, c, ...) so that machine noise hits all three alike:

  (a) llama-cpp-python `create_chat_completion`, called directly;
  (b) the OpenAI SDK through `LocalModelTransport` (what `qa` does for every call);
  (c) `qa.ask(...)` on the embedded backend (prompt building, the call, validation and
      the citation check); skipped if `qa.ask` is not available.

(a) and (b) send exactly the request `qa.ask` makes first (taken from
`qa.tasks.answer.answer_steps` when present, else a comparable system+user pair): the same
messages, max_tokens, temperature 0 and JSON-schema grammar, plus a fixed seed. (a) gets
its grammar from `qa.backends.embedded.grammar`, like the transport, so both constrain decoding
identically (llama-cpp-python's own `response_format` path has a literal-escaping bug).
The KV cache is reset before every timed call, so each one evaluates the whole prompt.
Prints the median wall time of each and the ratios b/a and c/a (target: c/a <= 1.05),
and the time each path spends outside `llama.create_completion` (which all three call):
that overhead is what the SDK, the transport and `qa` add, and unlike the ratios it stays
meaningful on a machine busy with other work.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai

from qa.backends.embedded import LocalModel, LocalModelTransport, load_model
from qa.backends.embedded.grammar import grammar_for

ROOT = Path(__file__).resolve().parent.parent
SEED_ARTICLE = ROOT / "seeds" / "000_db386d23d8a38732.txt"
SEED = 1234


def qa_request(question: str) -> tuple[dict[str, Any], Callable[[], Any] | None]:
    """The request body `qa.ask` sends first, and a callable running `qa.ask` (None if unavailable)."""
    try:
        from qa.api import ask
        from qa.backends.backend import open_backend
        from qa.settings import Settings
        from qa.tasks.answer import answer_steps
        from qa.text.article import load_article
    except ImportError as exc:
        print(f"qa core not available ({exc}); using a constructed prompt and skipping (c)")
        return constructed_request(question), None
    article = load_article(SEED_ARTICLE)
    settings = Settings.load(backend="embedded", temperature=0.0, record_mode="off")
    steps = answer_steps(article, question, open_backend(settings))
    body = dict(next(steps).body)
    steps.close()
    return body, lambda: ask(article, question, settings=settings)


def constructed_request(question: str) -> dict[str, Any]:
    """A system+user pair comparable to `qa`'s answer prompt, with the Answer schema."""
    from openai.lib._pydantic import to_strict_json_schema

    from qa.schemas import Answer

    system = (
        "You answer questions about a news article, using only the article. Reply with JSON: "
        "answer, status ('answered' or 'not_in_article') and citations copied word for word."
    )
    user = f"<article>\n{SEED_ARTICLE.read_text()}\n</article>\n\nQuestion: {question}"
    schema = to_strict_json_schema(Answer)
    return {
        "model": "embedded",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "Answer", "strict": True, "schema": schema}},
        "max_tokens": 400,
        "temperature": 0.0,
    }


def direct_call(model: LocalModel, body: dict[str, Any]) -> Callable[[], Any]:
    """(a): llama-cpp-python's chat completion with the same request."""

    def call() -> Any:
        grammar, _ = grammar_for(body.get("response_format"), model.llama)
        with model.lock:
            return model.llama.create_chat_completion(
                messages=body["messages"],
                max_tokens=body["max_tokens"],
                temperature=body["temperature"],
                top_p=body.get("top_p", 1.0),
                seed=SEED,
                repeat_penalty=1.1,  # the transport's default
                grammar=grammar,
            )

    return call


def sdk_call(body: dict[str, Any]) -> Callable[[], Any]:
    """(b): the OpenAI SDK through the in-process transport."""
    http = httpx2.Client(transport=LocalModelTransport())
    client = openai.OpenAI(base_url="http://embedded/v1", api_key="unused", http_client=http, max_retries=0)
    return lambda: client.chat.completions.create(**body, seed=SEED)


class LlamaClock:
    """Adds up the time spent inside `llama.create_completion`, which all three paths call."""

    def __init__(self, model: LocalModel) -> None:
        self.inside = 0.0
        original = model.llama.create_completion

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.inside += time.perf_counter() - started

        model.llama.create_completion = timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--question", default="What did China and Colombia sign?")
    parser.add_argument("--no-qa", action="store_true", help="time (a) and (b) only, with a constructed prompt")
    args = parser.parse_args()

    started = time.perf_counter()
    model = load_model()
    print(f"model {model.name} loaded in {time.perf_counter() - started:.2f}s (n_ctx {model.n_ctx})")
    body, ask = (constructed_request(args.question), None) if args.no_qa else qa_request(args.question)
    tokens, _, _ = model.render_chat(body["messages"])
    print(
        f"prompt {len(tokens)} tokens, max_tokens {body['max_tokens']}, response_format {body['response_format']['type']}"
    )

    calls: dict[str, Callable[[], Any]] = {"a": direct_call(model, body), "b": sdk_call(body)}
    if ask is not None:
        calls["c"] = ask
    warm = {}
    for name, call in calls.items():  # warm-up: first-use costs (imports, backend set-up) are not measured
        model.llama.reset()
        warm[name] = call()
    same = warm["a"]["choices"][0]["message"]["content"] == warm["b"].choices[0].message.content
    print(
        f"(a) and (b) generate {warm['a']['usage']['completion_tokens']} tokens; identical output: {same}", flush=True
    )
    clock = LlamaClock(model)
    times: dict[str, list[float]] = {name: [] for name in calls}
    outside: dict[str, list[float]] = {name: [] for name in calls}
    for round_number in range(1, args.repeats + 1):
        for name, call in calls.items():
            model.llama.reset()  # no KV-cache reuse between calls: each evaluates the whole prompt
            inside, started = clock.inside, time.perf_counter()
            result = call()
            times[name].append(time.perf_counter() - started)
            outside[name].append(times[name][-1] - (clock.inside - inside))
        attempts = f", qa.ask attempts {result.usage.attempts}" if ask is not None else ""
        laps = "  ".join(f"{name}={values[-1]:.3f}s" for name, values in times.items())
        print(f"round {round_number}: {laps}{attempts}", flush=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    labels = {"a": "llama create_chat_completion", "b": "SDK via LocalModelTransport", "c": "qa.ask (embedded)"}
    for name, median in medians.items():
        spread = f"{min(times[name]):.3f}-{max(times[name]):.3f}"
        print(
            f"({name}) {labels[name]:<30} median {median:.3f}s  (range {spread}, n={len(times[name])}); "
            f"outside llama.create_completion: median {statistics.median(outside[name]) * 1000:.1f} ms"
        )
    for name in ("b", "c"):
        if name in medians:
            per_round = statistics.median(x / a for x, a in zip(times[name], times["a"], strict=True))
            print(f"{name}/a = {medians[name] / medians['a']:.3f}  (median of per-round ratios {per_round:.3f})")
    print("target: c/a <= 1.05")


if __name__ == "__main__":
    main()

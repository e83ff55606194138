"""Speed and memory of each embedded model on the seed article: what the ladder's time columns say.

    .venv/bin/python bench/bench_models.py                      # every installed registry model
    .venv/bin/python bench/bench_models.py smollm2-135m qwen2.5-coder-0.5b
    .venv/bin/python bench/bench_models.py --check qwen2.5-coder-1.5b   # also with the answer check
    .venv/bin/python bench/bench_models.py --spans qwen2.5-coder-0.5b   # short answers on, then constrained

Each model runs in a child process of its own (one model process at a time), on the
default settings (all physical cores), record mode off:
- load: seconds to load the model (after any assembly of its parts);
- first question: the first `qa.ask` (the model reads the whole article);
- later questions: the median of the next five (llama.cpp reuses the article's prefix);
- summary: one `qa.summarize` (key sentences, then the model writes);
- peak RSS of the child, MiB.
With `--check` each model runs a second time with `QA_VERIFY=on` (each answer checked by one
more turn of its conversation), and a row gives that run's figures and its ratio to the first.
With `--spans` the first run has `QA_SHORT_ANSWERS=on` (answers shortened after the fact) and
the second `QA_SHORT_ANSWERS=constrained` (also while decoding, by a grammar).
Run it on an idle machine: llama.cpp's threads spin, and a busy neighbour slows every call.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How much credit did Xi pledge during the gathering of Latin American leaders in Beijing?",
    "Who is Colombia's president?",
    "In what year was the Belt and Road Initiative launched?",
    "Which country said in February it was exiting the Belt and Road pact?",
    "Which news agency reported what Xi Jinping told Gustavo Petro?",
    "When did Petro make his first trip to China as president?",
]


def child(model: str) -> None:
    sys.path.insert(0, str(ROOT))
    import qa
    from qa.backends.embedded import load_model, resolve_model_path

    article = qa.load_article(ROOT / "seeds" / "000_db386d23d8a38732.txt")
    path = resolve_model_path(model)  # assembles and verifies the file on first use: not timed
    started = time.perf_counter()
    load_model(path)
    load = time.perf_counter() - started
    times = []
    for question in QUESTIONS:
        started = time.perf_counter()
        qa.ask(article, question, backend="embedded", local_model=model)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    qa.summarize(article, backend="embedded", local_model=model)
    summary = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"model": model, "load": load, "first": times[0], "later": statistics.median(times[1:]),
                      "summary": summary, "peak_mib": peak}))  # fmt: skip


VARIANTS = {"--check": ("QA_VERIFY", "off", "on"), "--spans": ("QA_SHORT_ANSWERS", "on", "constrained")}
"""Flag -> (setting, its value in the first run, its value in the second)."""


def _measure(model: str, setting: dict[str, str], label: str | None = None) -> dict[str, float] | None:
    """One child run of `model` with the `setting` environment variables, printed as a table row."""
    env = {**os.environ, **setting}
    out = subprocess.run(
        [sys.executable, __file__, "--child", model], capture_output=True, text=True, cwd=ROOT, env=env
    )
    name = label or model
    if out.returncode != 0:
        why = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode
        print(f"| {name} | not measured: {why} |||||")
        return None
    r: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"| {name} | {r['load']:.1f} | {r['first']:.1f} | {r['later']:.1f} | {r['summary']:.1f} | {r['peak_mib']:.0f} |"
    )
    return r


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    sys.path.insert(0, str(ROOT))
    from qa.backends.embedded.registry import MODELS

    args = sys.argv[1:]
    flags = [a for a in args if a in VARIANTS]
    if len(flags) > 1:
        sys.exit("bench_models: give at most one of " + ", ".join(VARIANTS))
    models = [a for a in args if a not in VARIANTS] or list(MODELS)
    name, first, second = VARIANTS[flags[0]] if flags else ("QA_VERIFY", "off", "")
    print("| model | load s | first question s | later questions s (median of 5) | summary s | peak MiB |")
    print("|---|---|---|---|---|---|")
    for model in models:
        plain = _measure(model, {name: first})
        if plain is None or not second:
            continue
        other = _measure(model, {name: second}, label=f"{model}, {name}={second}")
        if other is not None:
            print(
                f"| ratio {second}/{first} | | {other['first'] / plain['first']:.2f}x "
                f"| {other['later'] / plain['later']:.2f}x | | |"
            )
    print(f"\n(load average at the end: {Path('/proc/loadavg').read_text().split()[0]})")
    _ = resource  # the children's peaks are read inside each child


if __name__ == "__main__":
    main()

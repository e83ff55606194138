"""Every benchmark in one table: each figure a ratio against a baseline measured in the same run.

    .venv/bin/python bench/run_all.py --setup          # make the peer venvs, then run every row
    .venv/bin/python bench/run_all.py                  # every row (peer venvs already made)
    .venv/bin/python bench/run_all.py --quick --only prompt-tokens,startup

Rows (README.md beside this file says what each one means):
  1 summary        qa.summarize vs instructor + llama-cpp-python, same model, schema, messages
  2 prompt-tokens  prompt tokens per question through qa vs the floor (article + question)
  3 batch          ten questions in one call (ask_many batch=True) vs ten calls (batch=False)
  4 eval           eval harness throughput in replay mode vs inspect_ai on its mock model
  5 startup        `qa --help` start-up vs `python -c pass` and `llm --help`
  6 loopback       an eval over a 200 ms loopback server at concurrency 8 vs concurrency 1

Progress goes to stderr; stdout gets one Markdown table and its notes. Rows that run the
embedded model (1, 3) first wait until no other eval, recording or embedded benchmark is
running (`pgrep -f`, every 30 s, up to 15 min). A row whose peer cannot be installed or
run says why in the table; it never stops the other rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH, PEERS, VENVS = ROOT / "bench", ROOT / "bench" / "peers", ROOT / ".bench-venvs"
PYTHON = sys.executable
SEED_ARTICLE = ROOT / "seeds" / "000_db386d23d8a38732.txt"
SUITE = ROOT / "evals" / "seed" / "suite.toml"
BUSY_PATTERN = "qa.*eval|bench_embedded|record"
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF "
    "-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DGGML_OPENMP=OFF"
)
ROWS = {"1": "summary", "2": "prompt-tokens", "3": "batch", "4": "eval", "5": "startup", "6": "loopback"}


@dataclass
class Line:
    """One line of the table: a measure, qa's figure, the baseline's, and their ratio."""

    row: str
    measure: str
    qa: str
    baseline: str
    ratio: str
    note: str = ""


@dataclass(frozen=True)
class Plan:
    """Repeats per row: `--quick` lowers them all."""

    quick: bool
    summary_rounds: int
    batch_rounds: int
    eval_runs: int
    startup_runs: int


def log(message: str) -> None:
    print(f"[run_all {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ratio(a: float, b: float, digits: int = 2) -> str:
    if math.isnan(a) or math.isnan(b):
        return "n/a (no figure)"
    return "n/a (baseline is 0)" if b == 0 else f"{a / b:.{digits}f}x"


def child_env() -> dict[str, str]:
    """The environment for workers: no QA_*/OPENAI_* settings leak into a measurement."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}


def run_json(command: list[str], timeout: float) -> list[dict[str, Any]]:
    """Run a worker; return the JSON objects it printed, one per line."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=child_env(), cwd=ROOT)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{Path(command[1]).name} exited {done.returncode}: {tail[0][:300]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# -- peer venvs -------------------------------------------------------------------


def peer_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def peer_ready(name: str, module: str) -> bool:
    python = peer_python(name)
    return (
        python.exists() and subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0
    )


def setup_peers() -> dict[str, str]:
    """Create the peer venvs and install into them (idempotent); return failures by peer."""
    llama_version = metadata.version("llama_cpp_python")
    base = getattr(sys, "_base_executable", PYTHON)
    peers = {
        "instructor": ("instructor, llama_cpp", [["instructor"], ["llama-cpp-python==" + llama_version]]),
        "inspect": ("inspect_ai", [["inspect-ai"]]),
    }
    failures = {}
    for name, (modules, installs) in peers.items():
        if peer_ready(name, modules):
            log(f"setup: .bench-venvs/{name} is ready ({modules} import)")
            continue
        steps = [[base, "-m", "venv", str(VENVS / name)]]
        steps += [[str(peer_python(name)), "-m", "pip", "install", "-q", *pkgs] for pkgs in installs]
        for step in steps:
            env = {**os.environ, "CMAKE_ARGS": CMAKE_ARGS} if "llama-cpp-python" in " ".join(step) else None
            log("setup: " + ("CMAKE_ARGS=... " if env else "") + " ".join(step))
            done = subprocess.run(step, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                lines = [x for x in done.stderr.splitlines() if x.strip() and "is ignored" not in x]
                failures[name] = f"`{' '.join(step[-2:])}` failed: {(lines or ['?'])[-1][:200]}"
                log(f"setup: {name} failed: {failures[name]}")
                break
    return failures


def missing_peer(name: str, modules: str, failures: dict[str, str]) -> str | None:
    if name in failures:
        return f"{name} could not be installed here: {failures[name]}"
    if not peer_ready(name, modules):
        return f".bench-venvs/{name} is missing or broken: run bench/run_all.py --setup"
    return None


# -- waiting for a quiet machine ----------------------------------------------------


def _lineage() -> set[int]:
    """This process, its ancestors and its children: never counted as 'other' load."""
    pids, pid = {os.getpid()}, os.getpid()
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        pids.add(pid)
    for child in Path("/proc").glob("[0-9]*"):
        try:
            if int(child.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                pids.add(int(child.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def busy() -> list[str]:
    found = subprocess.run(["pgrep", "-af", BUSY_PATTERN], capture_output=True, text=True).stdout.splitlines()
    mine = _lineage()
    return [line for line in found if line.split()[0].isdigit() and int(line.split()[0]) not in mine]


def wait_for_quiet(label: str, enabled: bool, waits: dict[str, str]) -> None:
    """Wait (30 s steps, at most 15 min) until no other model-heavy process runs."""
    deadline = time.monotonic() + 15 * 60
    others = busy() if enabled else []
    while others and time.monotonic() < deadline:
        log(f"{label}: waiting for {len(others)} other process(es): {others[0][:120]}")
        time.sleep(30)
        others = busy()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    waits[label] = f"load average {load} at start" + (f"; STILL BUSY after 15 min: {others[0][:100]}" if others else "")
    log(f"{label}: starting ({waits[label]})")


# -- row 1: summary vs instructor ------------------------------------------------------


def _summary_stats(records: list[dict[str, Any]]) -> dict[str, float]:
    latencies = [r["latency_s"] for r in records if r["latency_s"] is not None]
    return {
        "latency": statistics.median(latencies) if latencies else math.nan,
        "tokens": statistics.median(r["prompt_tokens"] + r["completion_tokens"] for r in records),
        "success": sum(r["ok"] for r in records) / len(records),
        "attempts": statistics.mean(r["attempts"] for r in records),
    }


def row_summary(plan: Plan, failures: dict[str, str]) -> list[Line]:
    problem = missing_peer("instructor", "instructor, llama_cpp", failures)
    if problem:
        return [Line("1", "summary vs instructor", "-", "-", "not measured", problem)]
    timeout = 1800
    with tempfile.TemporaryDirectory() as tmp:
        request = Path(tmp) / "request.json"
        run_json([PYTHON, str(PEERS / "qa_summary.py"), "--write-request", str(request)], timeout=300)
        sides = {
            "qa": [PYTHON, str(PEERS / "qa_summary.py")],
            "documented": [str(peer_python("instructor")), str(PEERS / "instructor_summary.py"), str(request), "--variant", "documented"],
            "enforced": [str(peer_python("instructor")), str(PEERS / "instructor_summary.py"), str(request), "--variant", "enforced"],
        }  # fmt: skip
        records: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for seed in range(1, plan.summary_rounds + 1):  # interleaved: machine noise hits every side alike
            for side, command in sides.items():
                log(f"summary: round {seed}/{plan.summary_rounds}, {side}")
                failed = {"ok": False, "latency_s": timeout, "prompt_tokens": 0, "completion_tokens": 0, "attempts": 0}
                try:
                    records[side] += run_json([*command, "--repeats", "1", "--seed-base", str(seed)], timeout) or [
                        {**failed, "error": "the worker printed no result"}
                    ]
                except subprocess.TimeoutExpired:
                    records[side].append(
                        {**failed, "error": f"timed out after {timeout} s (latency counted as {timeout} s)"}
                    )
                except RuntimeError as exc:  # the worker crashed: a failed run, latency unknown
                    records[side].append({**failed, "latency_s": None, "error": f"worker failed: {exc}"})
                log(f"summary: {side}: {json.dumps(records[side][-1])[:300]}")
    n = plan.summary_rounds
    qa = _summary_stats(records["qa"])
    lines = []
    labels = {
        "documented": "instructor JSON_SCHEMA as documented (llama-cpp-python ignores type=json_schema: unconstrained)",
        "enforced": "instructor, response_format rewritten to llama-cpp-python's json_object+schema (grammar)",
    }
    for side, label in labels.items():
        base = _summary_stats(records[side])
        errors = sorted({r["error"].split(":")[0] for r in records[side] if r.get("error")})
        lines += [
            Line("1", f"summary latency, median s (lower is better) vs {label}", f"{qa['latency']:.1f}", f"{base['latency']:.1f}",
                 ratio(qa["latency"], base["latency"])),
            Line("1", "summary tokens per run, prompt+completion over all attempts, median", f"{qa['tokens']:.0f} ({qa['attempts']:.1f} attempts)",
                 f"{base['tokens']:.0f} ({base['attempts']:.1f} attempts)", ratio(qa["tokens"], base["tokens"])),
            Line("1", f"summary success rate, schema-valid result in {n} run(s) (higher is better)",
                 f"{qa['success'] * n:.0f}/{n}", f"{base['success'] * n:.0f}/{n}", ratio(qa["success"], base["success"]),
                 ("baseline errors: " + ", ".join(errors)) if errors else ""),
        ]  # fmt: skip
    return lines


# -- row 2: prompt tokens per question -----------------------------------------------


def row_prompt_tokens(plan: Plan) -> list[Line]:
    import qa
    from qa.backends.backend import open_backend
    from qa.backends.embedded import load_model
    from qa.evals import load_suite
    from qa.settings import Settings
    from qa.tasks.answer import answer_steps

    suite = load_suite(SUITE)
    article = qa.load_article(suite.article_path)
    backend = open_backend(Settings.load(env={}, backend="embedded", record_mode="off"))
    model = load_model()
    sent, floor = [], []
    for case in suite.questions:
        steps = answer_steps(article, case.question, backend)
        request = next(steps)
        steps.close()
        sent.append(len(model.render_chat(request.body["messages"])[0]))  # what the model evaluates and usage reports
        floor.append(model.count_tokens(article.text) + model.count_tokens(case.question))
    mean_sent, mean_floor = statistics.mean(sent), statistics.mean(floor)
    return [
        Line("2", f"prompt tokens per question, mean over {len(sent)} questions (lower is better) vs article+question",
             f"{mean_sent:.0f}", f"{mean_floor:.0f}", ratio(mean_sent, mean_floor, 3),
             f"overhead {mean_sent - mean_floor:.0f} tokens per question: instructions, article markers, chat template"),
    ]  # fmt: skip


# -- row 3: batched vs one question per call ---------------------------------------------


def row_batch(plan: Plan) -> list[Line]:
    import qa
    from qa.backends.embedded import load_model
    from qa.evals import load_suite

    suite = load_suite(SUITE)
    article = qa.load_article(suite.article_path)
    questions = [case.question for case in suite.questions[:10]]
    settings = qa.Settings.load(env={}, backend="embedded", record_mode="off")
    model = load_model()
    figures: dict[bool, list[tuple[float, int, int, int, bool]]] = {True: [], False: []}
    for round_number in range(1, plan.batch_rounds + 1):
        for batch in (True, False):
            log(f"batch: round {round_number}/{plan.batch_rounds}, batch={batch}")
            model.llama.reset()
            started = time.perf_counter()
            results = qa.ask_many(article, questions, batch=batch, concurrency=1, settings=settings)
            elapsed = time.perf_counter() - started
            answered = sum(r.answer.status == "answered" for r in results)
            batched = all(r.provenance.prompt == "answer_many" for r in results)
            prompt = sum(r.usage.prompt_tokens for r in results)
            completion = sum(r.usage.completion_tokens for r in results)
            figures[batch].append((elapsed, prompt, completion, answered, batched))
            log(f"batch: {elapsed:.1f} s, {prompt} prompt + {completion} completion tokens, {answered}/10 answered")

    def med(batch: bool, i: int) -> float:
        return statistics.median(f[i] for f in figures[batch])

    fell_back = not all(f[4] for f in figures[True])
    note = "batched call fell back to one call per question in some round" if fell_back else ""
    answered = f"answered: batched {med(True, 3):.0f}/10, one by one {med(False, 3):.0f}/10"
    title = "10 questions in 1 call vs 10 calls (concurrency 1), embedded"
    return [
        Line("3", f"{title}: prompt tokens (lower is better)", f"{med(True, 1):.0f}", f"{med(False, 1):.0f}", ratio(med(True, 1), med(False, 1)), note),
        Line("3", f"{title}: completion tokens", f"{med(True, 2):.0f}", f"{med(False, 2):.0f}", ratio(med(True, 2), med(False, 2)), answered),
        Line("3", f"{title}: wall time, median s (lower is better)", f"{med(True, 0):.1f}", f"{med(False, 0):.1f}", ratio(med(True, 0), med(False, 0))),
    ]  # fmt: skip


# -- row 4: eval throughput vs inspect_ai -------------------------------------------------

_HARNESS = re.compile(r"harness \(replay\): ([\d.]+) ms per run .*?, ([\d.]+) ms per case, (\d+) cases/second")
_CASES = re.compile(r": (\d+) cases \(")


def row_eval(plan: Plan, failures: dict[str, str]) -> list[Line]:
    command = [PYTHON, str(BENCH / "bench_eval.py"), "--runs", str(plan.eval_runs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=child_env(), cwd=ROOT)
    harness, cases = _HARNESS.search(done.stdout), _CASES.search(done.stdout)
    if done.returncode != 0 or not harness or not cases:
        why = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return [
            Line(
                "4",
                "eval throughput vs inspect_ai",
                "-",
                "-",
                "not measured",
                f"bench/bench_eval.py failed: {why[0][:300]}",
            )
        ]
    qa_rate, n_cases = float(harness.group(3)), int(cases.group(1))
    qa_rate = n_cases / (float(harness.group(1)) / 1000)  # unrounded
    problem = missing_peer("inspect", "inspect_ai", failures)
    if problem:
        return [Line("4", "eval throughput, cases/s vs inspect_ai", f"{qa_rate:.0f}", "-", "not measured", problem)]
    try:
        peer = run_json([str(peer_python("inspect")), str(PEERS / "inspect_eval.py"), "--cases", str(n_cases),
                         "--runs", str(plan.eval_runs)], timeout=900)[-1]  # fmt: skip
    except (RuntimeError, IndexError, subprocess.TimeoutExpired) as exc:
        return [
            Line(
                "4",
                "eval throughput, cases/s vs inspect_ai",
                f"{qa_rate:.0f}",
                "-",
                "not measured",
                f"inspect_ai run failed: {exc}",
            )
        ]
    return [
        Line("4", f"eval throughput, replay mode, {n_cases} cases, cases/s (higher is better) vs inspect_ai mockllm/model",
             f"{qa_rate:.0f}", f"{peer['cases_per_second']:.0f}", ratio(qa_rate, peer["cases_per_second"]),
             "median of timed runs after a warm-up (qa: each run on a fresh copy of its recordings), in-process, concurrency 4 both; qa scores + fsyncs a JSONL log, inspect writes its .eval log"),
    ]  # fmt: skip


# -- row 5: start-up -------------------------------------------------------------------

_STARTUP = re.compile(r"^\s+(qa --help|python -c pass|llm --help)\s+([\d.]+) ms", re.MULTILINE)


def row_startup(plan: Plan) -> list[Line]:
    command = [PYTHON, str(BENCH / "bench_startup.py"), "--runs", str(plan.startup_runs)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=child_env(), cwd=ROOT)
    found = {label: float(ms) for label, ms in _STARTUP.findall(done.stdout)}
    if done.returncode != 0 or "qa --help" not in found:
        return [
            Line(
                "5",
                "qa --help start-up",
                "-",
                "-",
                "not measured",
                f"bench/bench_startup.py failed: {done.stderr.strip()[-200:]}",
            )
        ]
    runs = f"median of {plan.startup_runs} runs each, interleaved"
    lines = [Line("5", "`qa --help` start-up, ms (lower is better) vs `python -c pass`", f"{found['qa --help']:.0f}",
                  f"{found['python -c pass']:.0f}", ratio(found["qa --help"], found["python -c pass"]), runs)]  # fmt: skip
    if "llm --help" in found:
        lines.append(Line("5", "`qa --help` start-up, ms (lower is better) vs `llm --help`", f"{found['qa --help']:.0f}",
                          f"{found['llm --help']:.0f}", ratio(found["qa --help"], found["llm --help"])))  # fmt: skip
    else:
        lines.append(
            Line("5", "`qa --help` vs `llm --help`", "-", "-", "not measured", "`llm` is not installed in .venv")
        )
    return lines


# -- row 6: eval over a slow loopback server ------------------------------------------------


def _fixed_responder(article: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A valid Answer (an abstention) for answer requests, a valid Summary for summary ones."""
    sentences = [s.text for s in article.sentences(("body",))][:3]
    summary = {
        "headline": "China and Colombia sign a Belt and Road plan", "summary": "China and Colombia deepened ties.",
        "key_points": [{"point": s[:150], "quote": s} for s in sentences], "entities": [], "figures": [],
    }  # fmt: skip
    answer = {"answer": "", "status": "not_in_article", "citations": []}

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        return {"content": json.dumps(summary if name in ("summarize", "combine") else answer), "finish_reason": "stop"}

    return respond


def _loopback_responder(article: Any) -> tuple[Callable[[dict[str, Any]], dict[str, Any]], Callable[[], str]]:
    """The seed recordings through `qa.testing.replay_responder` if present, else fixed JSON."""
    try:
        from qa.testing.replay_responder import ReplayResponder  # written by another helper
    except ImportError:
        return _fixed_responder(article), lambda: "fixed valid Answer/Summary JSON (no qa.testing.replay_responder)"
    responder = ReplayResponder(ROOT / "evals" / "recordings" / "seed")
    return responder, lambda: f"seed recordings via ReplayResponder, lookups {responder.stats}"


def row_loopback(plan: Plan) -> list[Line]:
    import qa
    from qa.backends.backend import open_backend
    from qa.evals import load_suite
    from qa.evals.runner import run_suite
    from qa.testing import FaultServer

    suite = load_suite(SUITE)
    responder, describe = _loopback_responder(qa.load_article(suite.article_path))
    model = open_backend(
        qa.Settings.load(env={}, backend="embedded", local_model="smollm2-135m")
    ).model  # the recordings' model
    source = ""
    timings: dict[int, tuple[float, int, int]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        FaultServer(responder, fault_rate=0.0, latency=0.2, max_seconds=900) as server,
    ):
        for concurrency in (1, 8):
            log(f"loopback: concurrency {concurrency}")
            # The recorded requests' model name and sentence-constrained quotes, so requests match them;
            # no SDK retries: the server injects no faults, and a replay miss must not add back-off sleeps.
            settings = qa.Settings.load(env={}, backend="server", base_url=server.base_url, record_mode="off",
                                        model=model, constrain_quotes="on", max_retries=0)  # fmt: skip
            before = server.stats.requests
            started = time.perf_counter()
            run = asyncio.run(
                run_suite(suite, settings, concurrency=concurrency, log_path=Path(tmp) / f"c{concurrency}.jsonl")
            )
            timings[concurrency] = (time.perf_counter() - started, len(run.records), server.stats.requests - before)
            errors = [r for r in run.records if r.error is not None]
            if errors:
                source += f"; c={concurrency}: {len(errors)} case(s) errored, first {errors[0].error.type}"
    (t1, n, req1), (t8, _, req8) = timings[1], timings[8]
    note = f"{n} cases, {req1}/{req8} requests at c=1/c=8, 200 ms each; responder: {describe()}{source}"
    return [
        Line("6", "eval over a 200 ms loopback server: wall time s, concurrency 8 vs concurrency 1 (lower is better)",
             f"{t8:.1f}", f"{t1:.1f}", ratio(t8, t1), note),
        Line("6", "eval over a 200 ms loopback server: cases/s, concurrency 8 vs concurrency 1 (higher is better)",
             f"{n / t8:.1f}", f"{n / t1:.1f}", ratio(n / t8, n / t1)),
    ]  # fmt: skip


# -- the table -----------------------------------------------------------------------------


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {datetime.now().strftime('%Y-%m-%d %H:%M')}"
    )


def print_table(lines: list[Line], waits: dict[str, str], plan: Plan) -> None:
    print(f"qa benchmarks ({'quick' if plan.quick else 'full'}) on {machine()}\n")
    print("| # | measure | qa | baseline | qa ÷ baseline | note |")
    print("|---|---|---|---|---|---|")
    for line in lines:
        cells = [line.row, line.measure, line.qa, line.baseline, line.ratio, line.note]
        print("| " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    for label, wait in waits.items():
        print(f"\n{label}: {wait}")


def parse_only(text: str | None) -> list[str]:
    if not text:
        return list(ROWS.values())
    chosen = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        name = ROWS.get(item, item)
        if name not in ROWS.values():
            raise SystemExit(
                f"run_all: unknown row {item!r}; choose from {', '.join(f'{k}/{v}' for k, v in ROWS.items())}"
            )
        chosen.append(name)
    return [name for name in ROWS.values() if name in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup", action="store_true", help="create/update the peer venvs in .bench-venvs/ first")
    parser.add_argument("--only", help="comma-separated rows, by number or name (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, not a measurement)")
    parser.add_argument("--rounds", type=int, help="row 1 repeats per side (default 3, quick 1)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for other model processes to finish")
    args = parser.parse_args()
    rows = parse_only(args.only)
    plan = Plan(args.quick, args.rounds or (1 if args.quick else 3), 1 if args.quick else 2,
                2 if args.quick else 5, 2 if args.quick else 20)  # fmt: skip
    failures = setup_peers() if args.setup else {}
    waits: dict[str, str] = {}
    runners: dict[str, Callable[[], list[Line]]] = {
        "summary": lambda: row_summary(plan, failures),
        "prompt-tokens": lambda: row_prompt_tokens(plan),
        "batch": lambda: row_batch(plan),
        "eval": lambda: row_eval(plan, failures),
        "startup": lambda: row_startup(plan),
        "loopback": lambda: row_loopback(plan),
    }
    lines: list[Line] = []
    for name in rows:
        number = next(k for k, v in ROWS.items() if v == name)
        log(f"row {number}: {name}")
        if name in ("summary", "batch"):  # the rows that run the embedded model
            wait_for_quiet(f"row {number}", not args.no_wait, waits)
        try:
            lines += runners[name]()
        except Exception as exc:  # noqa: BLE001 - one broken row must not hide the others
            lines.append(Line(number, name, "-", "-", "not measured", f"{type(exc).__name__}: {str(exc)[:300]}"))
    print_table(lines, waits, plan)


if __name__ == "__main__":
    main()

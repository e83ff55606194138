"""Reliability: the seed eval suite through a fault-injecting server, its invariants checked.

    .venv/bin/python bench/reliability.py [--fault-rate 0.3] [--seed 4] [--questions N]

Four runs of the suite (every question and the summary) through `run_suite`, in one
process, each into its own run log:

1. replay: qa's own replay mode (embedded backend) on a copy of evals/recordings/seed.
   This is the eval's correct rate.
2. clean: backend "openai" (a hosted API that returns logprobs, as the embedded model
   does, so abstention reads the same signals) against a `FaultServer` at fault_rate 0
   whose answers, logprobs included, come from `ReplayResponder` on the same recordings.
   The wall-time baseline.
3. faults: the same server at `--fault-rate` with every fault kind and a fixed seed (the
   default, 4, happens to inject every kind at least once on the seed suite).
4. faults, 4 at a time: run 3 again with the runner's default concurrency, to check the
   invariants when cases overlap (faults can then not be pinned on cases).

Runs 2 to 4 use a fake key, record_mode "off", timeout 2 s (a "slow" fault waits 3 s),
max_retries 2 (the SDK's transport retries) and max_attempts 3 (qa's re-asks). The model
name is the recordings' own and quotes are constrained as when they were recorded, so the
requests are byte-for-byte the recorded ones. In runs 2 and 3 cases run one at a time, so
the server's request order is the client's: each request is tagged with its case as it is
sent, and zipped with the server's log to say which faults hit which case.

Invariants (exit status 1 if one fails): every planned case is in the run log, each with
a result or a qa error (never a raw exception); server requests <= cases x (max_retries+1)
x max_attempts; the sum of the cases' `usage.attempts` equals the 200 responses that
reached qa with a message (normal, schema_invalid, truncated, refusal); the clean run
scores every case as the replay run does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx2

import qa.errors
from qa.backends.backend import PROFILES, Backend
from qa.backends.embedded.registry import find_model
from qa.evals import load_suite
from qa.evals.dataset import Suite
from qa.evals.log import read_log
from qa.evals.runner import EvalRun, plan_cases, run_suite
from qa.settings import Settings
from qa.testing import ALL_FAULTS, FaultServer
from qa.testing.replay_responder import ReplayResponder

__all__ = ["CONSUMED", "FaultRun", "Figures", "check", "fault_run", "figures", "replay_run", "table", "trim_suite"]

ROOT = Path(__file__).resolve().parent.parent
FAKE_KEY = "sk-fake-reliability-000000000000"
CONSUMED = (None, "schema_invalid", "truncated", "refusal")
"""Server log kinds whose 200 response carries a message that qa reads (and counts as an attempt)."""
QA_ERRORS = frozenset(qa.errors.__all__)


class _Tagger(httpx2.AsyncBaseTransport):
    """Sends requests over the network, noting first which case each one belongs to."""

    def __init__(self, suite: Suite) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.ids = {q.question.strip(): q.id for q in suite.questions}
        self.sent: list[str] = []

    def tag(self, request: httpx2.Request) -> str:
        body = json.loads(request.content)
        repeat = body.get("seed", 1)
        if request.headers.get("x-qa-prompt") == "summarize":
            return f"summary#{repeat}"
        question = str(body["messages"][1]["content"]).rsplit("Question: ", 1)[-1].strip()
        return f"{self.ids.get(question, '?')}#{repeat}"

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(self.tag(request))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class FaultRun:
    """One suite run against a FaultServer, with what the server and the client saw."""

    run: EvalRun
    settings: Settings
    planned: int
    """Cases in the suite's plan."""
    server_log: list[tuple[int, str | None]]
    """The server's (request index, fault kind or None), in order."""
    rejected: int
    sent: list[str]
    """Case id of every request, in the order they were sent."""
    responder: dict[str, int]
    """How the responder answered: exact, exact_unstreamed, nearest, miss."""
    wall_s: float
    concurrency: int
    """Cases run at once; above 1, requests cannot be matched to the server's log by order."""


def trim_suite(suite: Suite, questions: int | None) -> Suite:
    """The suite with only its first `questions` questions (all of them for None)."""
    return suite if questions is None else suite.model_copy(update={"questions": suite.questions[:questions]})


def _recorded_model(responder: ReplayResponder) -> str:
    models = {r.body.get("model") for r in responder.store.recorded_requests() if isinstance(r.body, dict)}
    if len(models) != 1:
        raise SystemExit(
            f"expected recordings of one model in {responder.store.folder}, found {sorted(map(str, models))}"
        )
    return str(models.pop())


def fault_run(
    suite: Suite, recordings: Path, log_path: Path, *, fault_rate: float, seed: int, timeout: float = 2.0,
    slow_seconds: float = 3.0, max_retries: int = 2, max_attempts: int = 3, concurrency: int = 1,
) -> FaultRun:  # fmt: skip
    """Run `suite` against a FaultServer replaying `recordings` (one case at a time by default)."""
    responder = ReplayResponder(recordings)
    server = FaultServer(responder, fault_rate=fault_rate, faults=ALL_FAULTS, seed=seed, slow_seconds=slow_seconds)
    with server:
        model = _recorded_model(responder)
        entry = find_model(model)  # summarize as the recorded model does (the 0.5B extracts: no call)
        settings = Settings.load(
            env={}, backend="openai", base_url=server.base_url, api_key=FAKE_KEY, model=model,
            constrain_quotes="on", record_mode="off", timeout=timeout, max_retries=max_retries, max_attempts=max_attempts,
            summary_mode=entry.summary_mode if entry is not None else None,
        )  # fmt: skip
        tagger = _Tagger(suite)
        started = time.perf_counter()
        run = asyncio.run(
            run_suite(
                suite, settings, concurrency=concurrency, log_path=log_path, resume=False,
                backends=cache(lambda s: Backend(s, PROFILES[s.resolved_backend()], async_transport=tagger)),
            )
        )  # fmt: skip
        wall = time.perf_counter() - started
    stats = server.stats
    if not tagger.sent:
        raise SystemExit("the runner did not use the tagged backend: requests cannot be matched to cases")
    planned = len(plan_cases(suite, 1))
    return FaultRun(run, settings, planned, server.log, stats.rejected, tagger.sent, responder.stats, wall, concurrency)


def replay_run(suite: Suite, recordings: Path, log_path: Path) -> EvalRun:
    """The suite in qa's own replay mode (embedded backend, model never loaded)."""
    model = _recorded_model(ReplayResponder(recordings))
    entry = find_model(model)
    settings = Settings.load(
        env={}, backend="embedded", record_mode="replay", recordings=recordings,
        local_model=Path("/nonexistent") / f"{model}.gguf",  # the recordings' model: its name, not its weights
        summary_mode=entry.summary_mode if entry is not None else None,
    )  # fmt: skip
    return asyncio.run(run_suite(suite, settings, log_path=log_path, resume=False))


@dataclass
class Figures:
    """What one fault run proved and measured."""

    planned: int
    """Cases in the plan."""
    logged: int
    """Cases read back from the run log."""
    results: int
    """Cases that ended with a result."""
    errors: Counter[str]
    """Cases that ended with an error, by error type."""
    untyped: list[str]
    """Cases whose error is not a qa error."""
    requests: int
    """Chat requests the server answered."""
    bound: int
    """cases x (max_retries + 1) x max_attempts."""
    attempts: int
    """Sum of the cases' `usage.attempts`."""
    consumed: int
    """Server replies that carried a message to qa (see `CONSUMED`)."""
    faults: Counter[str]
    """Faults injected, by kind."""
    faulted_cases: list[str]
    """Cases with at least one fault on their requests (one case at a time only)."""
    survived: list[str]
    """Faulted cases that still ended with a result."""
    same_verdict: list[str]
    """Faulted cases whose verdict is the clean run's."""
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    """Fault kind -> outcome of the cases it hit ('result' or the error type) -> count."""


def figures(fr: FaultRun, clean: EvalRun | None = None) -> Figures:
    """Count what `fr` did: cases, errors, requests against the bound, attempts, faults per case."""
    s = fr.settings
    planned = fr.planned
    logged = read_log(fr.run.log_path).records
    errors = Counter(r.error.type for r in fr.run.records if r.error is not None)
    untyped = [r.case_id for r in fr.run.records if r.error is not None and r.error.type not in QA_ERRORS]
    faults = Counter(kind for _, kind in fr.server_log if kind is not None)
    per_case: dict[str, list[str]] = {}
    for case_id, (_, kind) in zip(fr.sent if fr.concurrency == 1 else [], fr.server_log, strict=False):
        if kind is not None:
            per_case.setdefault(case_id, []).append(kind)
    outcome = {r.case_id: "result" if r.error is None else r.error.type for r in fr.run.records}
    by_kind: dict[str, Counter[str]] = {}
    for case_id, kinds in per_case.items():
        for kind in kinds:
            by_kind.setdefault(kind, Counter())[outcome.get(case_id, "?")] += 1
    before = {r.case_id: r.verdict for r in clean.records} if clean else {}
    faulted = sorted(per_case)
    return Figures(
        planned=planned, logged=len(logged), results=sum(1 for r in fr.run.records if r.result is not None),
        errors=errors, untyped=untyped, requests=len(fr.server_log),
        bound=planned * (s.max_retries + 1) * s.max_attempts,
        attempts=sum(r.usage.attempts for r in fr.run.records),
        consumed=sum(1 for _, kind in fr.server_log if kind in CONSUMED) - fr.responder["miss"],
        faults=faults, faulted_cases=faulted,
        survived=[c for c in faulted if outcome.get(c) == "result"],
        same_verdict=[c for c in faulted if c in before and _verdict(fr.run, c) == before[c]],
        by_kind=by_kind,
    )  # fmt: skip


def _verdict(run: EvalRun, case_id: str) -> str:
    return next(r.verdict for r in run.records if r.case_id == case_id)


def check(fig: Figures, fr: FaultRun) -> list[str]:
    """The invariants that failed (empty: all hold)."""
    problems = []
    if not fig.planned == fig.logged == len(fr.run.records):
        problems.append(f"cases lost: planned {fig.planned}, in the run {len(fr.run.records)}, in the log {fig.logged}")
    if any((r.result is None) == (r.error is None) for r in fr.run.records):
        problems.append("a case has neither (or both) a result and an error")
    if fig.untyped:
        problems.append(f"untyped errors (not qa errors) in cases {fig.untyped}")
    if fig.requests > fig.bound:
        problems.append(f"retries unbounded: {fig.requests} requests > bound {fig.bound}")
    if fig.attempts != fig.consumed:
        problems.append(f"usage: {fig.attempts} attempts counted, {fig.consumed} replies reached qa")
    if len(fr.sent) != len(fr.server_log) or fr.rejected:
        problems.append(
            f"client sent {len(fr.sent)} requests, server logged {len(fr.server_log)} ({fr.rejected} rejected)"
        )
    if fr.responder["miss"]:
        problems.append(f"{fr.responder['miss']} requests had no recording near enough")
    return problems


def _rate(run: EvalRun) -> str:
    """'0.232 (13/56)': the correct rate over the questions it could score."""
    metric = run.aggregates.metrics["correct"]
    right = sum(1 for r in run.records if r.kind == "question" and r.verdict == "correct")
    return "—" if metric.value is None else f"{metric.value:.3f} ({right}/{metric.n})"


def table(rows: list[tuple[str, str]]) -> str:
    """Two aligned columns."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name.ljust(width)}  {value}".rstrip() for name, value in rows)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items())) or "none"


def report(replay: EvalRun, clean: FaultRun, faulty: FaultRun, overlap: FaultRun, fault_rate: float, seed: int) -> str:
    """The figures, as printed."""
    fig, fig4, s = figures(faulty, clean.run), figures(overlap), faulty.settings
    head = (f"qa reliability: suite {faulty.run.header.suite} ({fig.planned} cases), fault_rate {fault_rate}, seed {seed}, "
            f"timeout {s.timeout:g} s, slow fault 3 s, max_retries {s.max_retries}, max_attempts {s.max_attempts}")  # fmt: skip
    main = table([
        ("cases planned / in the log", f"{fig.planned} / {fig.logged}"),
        ("ended with a result / a qa error", f"{fig.results} / {sum(fig.errors.values())} (untyped: {len(fig.untyped)})"),
        ("server requests / bound", f"{fig.requests} / {fig.bound} = cases x (max_retries+1) x max_attempts"),
        ("usage.attempts / replies that reached qa", f"{fig.attempts} / {fig.consumed}"),
        ("faults injected", f"{sum(fig.faults.values())} of {fig.requests} requests"),
        ("cases hit by a fault", str(len(fig.faulted_cases))),
        ("... ended with a result anyway", str(len(fig.survived))),
        ("... with the clean run's verdict", str(len(fig.same_verdict))),
        ("correct: replay / clean / faults", f"{_rate(replay)} / {_rate(clean.run)} / {_rate(faulty.run)}"),
        ("", "(a failed call leaves its question unscored, out of the rate)"),
        ("wall time: faults / clean", f"{faulty.wall_s:.1f} s / {clean.wall_s:.1f} s = {faulty.wall_s / clean.wall_s:.1f}x"),
    ])  # fmt: skip
    kinds = table(
        [(kind, f"{fig.faults[kind]:>3}  {_counts(fig.by_kind.get(kind, Counter()))}") for kind in ALL_FAULTS]
    )
    clean_errors = Counter(r.error.type for r in clean.run.records if r.error is not None)
    return "\n".join([
        head, "", main, "",
        "faults by kind, and how the cases they hit ended (a case hit by two kinds counts under both):", kinds, "",
        f"cases ending in each error: faults {_counts(fig.errors)}; clean {_counts(clean_errors)}",
        f"responder: faults {faulty.responder}, clean {clean.responder}", "",
        f"4 cases at a time: {fig4.logged}/{fig4.planned} cases logged, {fig4.results} results, errors {_counts(fig4.errors)}, "
        f"untyped {len(fig4.untyped)}; {fig4.requests} requests (bound {fig4.bound}); "
        f"attempts {fig4.attempts} = replies {fig4.consumed}; {sum(fig4.faults.values())} faults; {overlap.wall_s:.1f} s",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--questions", type=int, help="only the first N questions (default: all)")
    parser.add_argument("--recordings", type=Path, default=ROOT / "evals" / "recordings" / "seed")
    args = parser.parse_args()
    suite = trim_suite(load_suite(ROOT / "evals" / "seed" / "suite.toml"), args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        work, rate, seed = Path(tmp), args.fault_rate, args.seed
        copy = Path(shutil.copytree(args.recordings, work / "recordings"))  # replay writes a usage log there
        replay = replay_run(suite, copy, work / "replay.jsonl")
        clean = fault_run(suite, args.recordings, work / "clean.jsonl", fault_rate=0.0, seed=seed)
        faulty = fault_run(suite, args.recordings, work / "faults.jsonl", fault_rate=rate, seed=seed)
        overlap = fault_run(suite, args.recordings, work / "overlap.jsonl", fault_rate=rate, seed=seed, concurrency=4)
        print(report(replay, clean, faulty, overlap, rate, seed))
        runs = (("faults", faulty), ("clean", clean), ("4 at a time", overlap))
        problems = [f"{name}: {p}" for name, fr in runs for p in check(figures(fr), fr)]
    mismatch = [r.case_id for r, c in zip(replay.records, clean.run.records, strict=True) if r.verdict != c.verdict]
    if mismatch:
        problems.append(f"the clean run scored {mismatch} differently from the replay run")
    if problems:
        print("\nINVARIANTS FAILED:\n" + "\n".join(f"  - {p}" for p in problems))
        sys.exit(1)
    print("\nall invariants hold")


if __name__ == "__main__":
    main()

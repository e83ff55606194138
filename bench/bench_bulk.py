"""Bulk runs: items per second on the local and ray engines against a 200 ms loopback server.

    .venv/bin/python bench/bench_bulk.py                 # the table (about 3 minutes on 2 cores)
    .venv/bin/python bench/bench_bulk.py --quick         # fewer items: a smoke run, not a measurement
    .venv/bin/python bench/bench_bulk.py --embedded      # also: embedded model, ray 2 x 1 thread vs local 2 threads

Every run is a real `qa.run` (summaries of synthetic articles, `qa.testing.synthetic`) into
a fresh output against `qa.testing.FaultServer` (no faults, `--latency` seconds per reply,
200 ms by default), so a figure includes reading the corpus, the steps, grounding and the
fsynced output. Each configuration does 24 x its calls in flight items (about 24 rounds
of replies):
- items/s once running: the server notes when each reply leaves; the replies after the
  first round / the time from the first reply to the last;
- fixed cost: the run's wall time less its items at that rate: for ray, making the dataset
  and starting the actor pool (the cluster itself is started once, timed apart), and for
  both the last round's wait and the tail of results reaching the output;
- whole run: items / wall time.
`ray` runs `workers` actors, each with `concurrency` calls in flight: workers x concurrency.

Marginal cost per item: 600 items against a server that answers at once (latency 0),
local (concurrency 4) against ray (2 workers x 4): the time an item costs once running.

`--embedded` (not part of the default run; it loads the embedded model, and on 2 cores it
takes several minutes): 16 synthetic articles summarized by the embedded model, `local`
with one model using both cores (2 llama.cpp threads) against `ray` with 2 actors pinned to
one core each (one thread each, `cpus_per_worker=1`). It waits for nothing: run it on an
idle machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qa  # noqa: E402
from qa.bulk import Engine, LocalEngine, RayEngine  # noqa: E402
from qa.settings import Settings  # noqa: E402
from qa.testing import FaultServer, article_responder, write_articles  # noqa: E402


def log(message: str) -> None:
    print(f"[bench_bulk {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Measure:
    """One run of one configuration, with the time of every reply the server sent."""

    label: str
    in_flight: int
    items: int
    wall: float
    """Seconds of the whole `qa.run`."""
    replies: tuple[float, ...]
    """Seconds from the start of the run to each reply, in order."""
    latency: float

    @property
    def rate(self) -> float:
        """Items per second once replies flow: replies after the first round / the time they took."""
        first = self.replies[0]
        later = [t for t in self.replies if t - first > self.latency / 2]
        span = self.replies[-1] - first
        return len(later) / span if later and span > 0 else float("nan")

    @property
    def fixed(self) -> float:
        """What the run cost besides its items at that rate: start-up and tail."""
        return self.wall - self.items / self.rate

    @property
    def whole(self) -> float:
        return self.items / self.wall


class StampingResponder:
    """`article_responder`, noting when each reply leaves (after the server's latency)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        self.stamps.append(time.perf_counter())
        return article_responder(body)


def timed_run(corpus: Path, work: Path, settings: Settings, engine: Engine, stamper: StampingResponder | None = None,
              label: str = "", in_flight: int = 1, latency: float = 0.0) -> Measure:  # fmt: skip
    """One qa.run into a fresh output; every item must end with a result."""
    out = Path(tempfile.mkdtemp(dir=work)) / "out.jsonl"
    if stamper is not None:
        stamper.stamps.clear()
    started = time.perf_counter()
    report = qa.run(corpus, out, settings=settings, engine=engine)
    wall = time.perf_counter() - started
    if report.results != report.items:
        raise SystemExit(f"{engine.name}: {report.line()}")
    replies = tuple(t - started for t in (stamper.stamps if stamper is not None else [wall]))
    return Measure(label, in_flight, report.items, wall, replies, latency)


def corpus_of(work: Path, count: int) -> Path:
    folder = work / f"corpus-{count}"
    if not folder.exists():
        write_articles(folder, count)
    return folder


def measure(label: str, in_flight: int, engine: Engine, settings: Settings, work: Path, scale: int,
            stamper: StampingResponder, latency: float) -> Measure:  # fmt: skip
    count = scale * in_flight
    result = timed_run(corpus_of(work, count), work, settings, engine, stamper, label, in_flight, latency)
    log(
        f"{label}: {count} items in {result.wall:.2f} s (first reply at {result.replies[0]:.2f} s) -> {result.rate:.1f} items/s"
    )
    return result


def start_ray() -> float:
    import ray

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    return time.perf_counter() - started


def server_settings(server: FaultServer) -> Settings:
    return Settings.load(
        env={}, backend="server", base_url=server.base_url, record_mode="off", max_retries=0, timeout=30
    )


def throughput(work: Path, latency: float, scale: int) -> list[Measure]:
    runs = []
    stamper = StampingResponder()
    with FaultServer(stamper, fault_rate=0.0, latency=latency, max_requests=1_000_000, max_seconds=3600) as server:
        settings = server_settings(server)
        timed_run(corpus_of(work, 4), work, settings, LocalEngine(concurrency=4))  # warm-up: imports, tokenizer
        for c in (1, 4, 16):
            runs.append(
                measure(
                    f"local, concurrency {c}", c, LocalEngine(concurrency=c), settings, work, scale, stamper, latency
                )
            )
        for workers in (1, 2):
            for c in (1, 4, 16):
                label = f"ray, {workers} worker{'s' if workers > 1 else ''} x concurrency {c}"
                engine = RayEngine(workers=workers, concurrency=c)
                runs.append(measure(label, workers * c, engine, settings, work, scale, stamper, latency))
    return runs


def marginal(work: Path, items: int) -> tuple[Measure, Measure]:
    """Both engines at 4 calls in flight per process against a server that answers at once."""
    stamper = StampingResponder()
    with FaultServer(stamper, fault_rate=0.0, latency=0.0, max_requests=1_000_000, max_seconds=3600) as server:
        settings = server_settings(server)
        corpus = corpus_of(work, items)
        local = timed_run(corpus, work, settings, LocalEngine(concurrency=4), stamper, "local, concurrency 4", 4)
        on_ray = timed_run(
            corpus, work, settings, RayEngine(workers=2, concurrency=4), stamper, "ray, 2 workers x concurrency 4", 8
        )
    for m in (local, on_ray):
        log(f"latency 0, {m.label}: {m.items} items in {m.wall:.2f} s -> {1000 / m.rate:.2f} ms per item")
    return local, on_ray


def embedded(work: Path, count: int) -> tuple[float, float]:
    """Wall seconds: local (one model, 2 threads) and ray (2 actors, one thread each)."""
    corpus = corpus_of(work, count)
    settings = Settings.load(env={}, backend="embedded", record_mode="off")
    log("embedded: local, one model on 2 threads")
    local = timed_run(corpus, work, settings, LocalEngine(concurrency=1)).wall
    log("embedded: ray, 2 actors x 1 thread")
    on_ray = timed_run(corpus, work, settings, RayEngine(workers=2, concurrency=1, cpus_per_worker=1)).wall
    return local, on_ray


def table(runs: list[Measure], init: float, latency: float) -> str:
    rows = [
        f"| engine | calls in flight | items | items/s once running | ideal ({latency * 1000:.0f} ms a reply) | fixed cost, s | whole run, items/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in runs:
        rows.append(
            f"| {m.label} | {m.in_flight} | {m.items} | {m.rate:.1f} | {m.in_flight / latency:.0f} | {m.fixed:.1f} | {m.whole:.1f} |"
        )
    return "\n".join(rows) + f"\n\nRay cluster start (`ray.init`, local, once per process): {init:.1f} s."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="n = 2 x calls in flight: a smoke run")
    parser.add_argument(
        "--embedded", action="store_true", help="also the embedded-model comparison (slow; loads the model)"
    )
    parser.add_argument("--embedded-items", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    scale = 6 if args.quick else 24
    import ray

    log(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        init = start_ray()
        log(f"ray.init: {init:.1f} s")
        try:
            runs = throughput(work, args.latency, scale)
            local0, ray0 = marginal(work, 100 if args.quick else 600)
            emb = embedded(work, args.embedded_items) if args.embedded else None
        finally:
            ray.shutdown()
    print(table(runs, init, args.latency))
    print()
    print(f"| latency 0, {local0.items} items | ms per item once running | fixed cost, s |")
    print("|---|---|---|")
    for m in (local0, ray0):
        print(f"| {m.label} | {1000 / m.rate:.2f} | {m.fixed:.1f} |")
    if emb is not None:
        print()
        print(f"embedded, {args.embedded_items} summaries: local (1 model x 2 threads) {emb[0]:.1f} s, "
              f"ray (2 actors x 1 thread) {emb[1]:.1f} s, ray / local = {emb[1] / emb[0]:.2f}")  # fmt: skip
    if args.json:
        data: dict[str, Any] = {
            "ray_init_s": init, "latency_s": args.latency,
            "runs": [{"label": m.label, "in_flight": m.in_flight, "items": m.items, "wall_s": m.wall, "first_reply_s": m.replies[0],
                      "items_per_s": m.rate, "fixed_s": m.fixed} for m in [*runs, local0, ray0]],
            "embedded": emb,
        }  # fmt: skip
        print(json.dumps(data))
    print(
        f"\nload average after the run: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"median whole-run rate {statistics.median(m.whole for m in runs):.1f} items/s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

"""The `ray` engine: Ray Data `map_batches` over a fixed pool of actors.

    qa.run("articles/", "out.jsonl", engine=RayEngine(workers=2, concurrency=4))
    RAY_ADDRESS=ray://head:10001 qa run articles/ -o out.jsonl --engine ray --workers 8

The driver reads every article (an unreadable one is recorded at once, as on the other
engines) and makes a dataset of items. Each actor opens one backend when it starts
(`open_backend`: one client, one connection pool, or one embedded model) and does the items
of each batch it is given `concurrency` at a time, through `qa.bulk.work.execute`: the same
steps, hence the same records, as the local engine. Records come back to the driver batch by
batch as they finish and are appended and fsynced there; an interrupted run loses at most
the batches in flight.

Cluster: with `address` or `RAY_ADDRESS` set, `ray.init` joins that cluster (qa must be
installed on its nodes); otherwise it starts a local one, and shuts it down at the end. If
Ray is already initialised (a notebook, a test session), that cluster is used and left
running.

CPUs: each actor asks Ray for `cpus_per_worker` CPUs. Network backends need little (0.25 by
default). The embedded model computes in the actor's own process, so by default it asks for
one CPU, and the actor pins itself to that many CPUs of its node before the model loads
(llama.cpp then starts one thread per pinned CPU): two actors on two cores use one core
each instead of both fighting over both. Slots are claimed with lock files, so actors of
concurrent runs on one node do not share CPUs either.

The API key is never sent through Ray (it would sit in its object store and logs): actors
read `OPENAI_API_KEY` from their own environment, which a local cluster inherits from this
process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.bulk.corpus import CorpusItem
from qa.bulk.records import RunRecord
from qa.bulk.work import Task, WorkItem, execute, read_article, record_of
from qa.errors import BackendError, BackendUnavailableError, ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from qa.backends.backend import Backend
    from qa.bulk.runner import Job

__all__ = ["RayEngine", "claim_cpus"]

API_KEY_ENV = "OPENAI_API_KEY"
_held_slots: list[int] = []  # lock files an actor holds for its lifetime


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise BackendUnavailableError(
            f"the ray engine needs Ray ({exc}); install it with: pip install 'qa[ray]'"
        ) from exc
    return ray


@contextmanager
def _quiet() -> Iterator[None]:
    """Ray's deprecation notices and Ray Data's progress logs are not the user's: `qa run` shows its own."""
    data_log = logging.getLogger("ray.data")
    level = data_log.level
    data_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        data_log.setLevel(level)


def claim_cpus(count: int) -> list[int] | None:
    """Pin this process to `count` CPUs no other claimant on this machine holds; return them.

    CPUs are cut into slots of `count`; a slot is held by an exclusive lock on a file in
    the temporary folder, released when the process ends. None when `count` covers every
    CPU, when every slot is taken, or off Linux (then nothing is pinned).
    """
    if not hasattr(os, "sched_setaffinity"):  # not Linux: leave the thread count to the model
        return None
    import fcntl

    cpus = sorted(os.sched_getaffinity(0))
    if count < 1 or count >= len(cpus):
        return None
    slots = len(cpus) // count
    folder = Path(tempfile.gettempdir()) / f"qa-ray-cpu-slots-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    for slot in range(slots):
        fd = os.open(folder / f"{count}x{slot}-of-{len(cpus)}", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held_slots.append(fd)
        chosen = cpus[slot * count : (slot + 1) * count]
        os.sched_setaffinity(0, chosen)
        return chosen
    return None


class _Worker:
    """A Ray Data actor: one backend, opened once; a batch's items `concurrency` at a time."""

    def __init__(self, settings: dict[str, Any], task: Task, concurrency: int, pin_cpus: int, needs_key: bool) -> None:
        from qa.backends.backend import open_backend
        from qa.settings import Settings

        if pin_cpus:
            claim_cpus(pin_cpus)  # before the embedded model loads and sizes its thread pool
        if needs_key:
            settings = {**settings, "api_key": os.environ.get(API_KEY_ENV) or None}
        self.task = task
        self.backend = open_backend(Settings.model_validate(settings))
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="qa-ray")

    def _one(self, payload: str) -> str:
        from qa.text.article import Article

        data = json.loads(payload)
        article = Article.model_validate(data["article"])
        corpus_item = CorpusItem(id=data["id"], source=data["source"], load=lambda: article)
        record = execute(WorkItem(corpus_item, data["question"]), self.task, self.backend, article)
        return record.model_dump_json()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        records = list(self.pool.map(self._one, list(batch["payload"])))
        return {"record": np.array(records, dtype=object)}


@dataclass(frozen=True)
class RayEngine:
    """Ray Data over a fixed pool of `workers` actors (see the module docstring)."""

    workers: int = 2
    """Actors in the pool, each with its own backend."""
    concurrency: int = 4
    """Items in flight in each actor (so workers x concurrency in all)."""
    cpus_per_worker: float | None = None
    """CPUs Ray reserves for each actor; default 1 for the embedded model, else 0.25."""
    batch_size: int | None = None
    """Items per Ray batch; default 2 x concurrency. Records reach the output batch by batch."""
    address: str | None = None
    """A Ray cluster to join; default `RAY_ADDRESS`, else a local cluster."""

    name = "ray"

    def __post_init__(self) -> None:
        if self.workers < 1 or self.concurrency < 1:
            raise ConfigError(f"workers and concurrency must be at least 1 (got {self.workers} and {self.concurrency})")
        if self.cpus_per_worker is not None and self.cpus_per_worker <= 0:
            raise ConfigError(f"cpus_per_worker must be above 0 (got {self.cpus_per_worker})")

    def cpu_share(self, backend: Backend) -> tuple[float, int]:
        """CPUs Ray reserves for each actor, and how many CPUs an actor pins itself to (0: none).

        Only a model that computes in the actor's process (the embedded one) is pinned: to
        `cpus_per_worker` CPUs rounded down, at least one.
        """
        if not backend.profile.local:
            return (self.cpus_per_worker or 0.25), 0
        cpus = self.cpus_per_worker or 1.0
        return cpus, max(1, math.floor(cpus))

    def _init(self, ray: Any, job: Job) -> bool:
        """Start or join a cluster unless Ray is up already; True when this call started it."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        job.status(f"joining the Ray cluster at {address}" if address else "starting a local Ray cluster")
        try:
            with _quiet():
                ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError: Ray's own, for one cause
            hint = (
                " (a cluster with token authentication also needs RAY_AUTH_MODE=token and its token)" if address else ""
            )
            where = f"join the Ray cluster at {address}" if address else "start a local Ray cluster"
            raise BackendUnavailableError(f"cannot {where}: {exc}{hint}") from exc
        return True

    def check(self, backend: Backend) -> None:
        """Before the output is opened: Ray is installed, and the workers can get the key."""
        _import_ray()
        key = backend.settings.api_key
        if key is not None and os.environ.get(API_KEY_ENV) != key.get_secret_value():
            raise ConfigError(
                f"the ray engine's workers read the API key from {API_KEY_ENV} (it is never sent through Ray): "
                f"set {API_KEY_ENV} to the key this run uses"
            )

    def run(self, job: Job) -> None:
        """Do `job`'s items on the actor pool, writing records batch by batch."""
        ray = _import_ray()
        backend = job.backend()
        settings = job.settings
        needs_key = settings.api_key is not None
        cpus, pin = self.cpu_share(backend)
        payloads, unreadable = [], []
        for item in job.items:
            article = read_article(item)
            if isinstance(article, BaseException):
                unreadable.append(record_of(item, job.task, None, article))
                continue
            payload = {"id": item.article.id, "source": item.article.source, "question": item.question,
                       "article": article.model_dump(mode="json")}  # fmt: skip
            payloads.append({"payload": json.dumps(payload)})
        job.write(unreadable)
        if not payloads:
            return
        started = self._init(ray, job)
        try:
            batch = self.batch_size or 2 * self.concurrency
            resolved = settings.model_copy(update={
                "backend": settings.resolved_backend(), "api_key": None,  # workers read the key themselves
                "recordings": settings.recordings.resolve(),  # workers may not share this process's folder
                "local_model": settings.local_model.resolve() if isinstance(settings.local_model, Path) else settings.local_model,
            })  # fmt: skip
            kwargs = {"settings": resolved.model_dump(mode="json"), "task": job.task, "concurrency": self.concurrency,
                      "pin_cpus": pin, "needs_key": needs_key}  # fmt: skip
            with _quiet():
                context = ray.data.DataContext.get_current()
                context.enable_progress_bars = False
                context.print_on_execution_start = False
                dataset = ray.data.from_items(payloads, override_num_blocks=max(1, math.ceil(len(payloads) / batch)))
                dataset = dataset.map_batches(
                    _Worker, fn_constructor_kwargs=kwargs, compute=ray.data.ActorPoolStrategy(size=self.workers),
                    batch_size=batch, num_cpus=cpus, batch_format="numpy",
                )  # fmt: skip
            job.status(f"running {len(payloads)} items on {self.workers} Ray workers x {self.concurrency}")
            with _quiet():
                for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    job.write([RunRecord.model_validate_json(line) for line in block["record"]])
        except (KeyboardInterrupt, BackendError):
            raise
        except Exception as exc:  # Ray wraps a worker's failure in its own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BackendError(f"the Ray run failed: {first}") from exc
        finally:
            if started:
                ray.shutdown()

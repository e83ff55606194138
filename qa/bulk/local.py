"""The `local` engine: items run `concurrency` at a time in one process.

Worker threads each run one item synchronously (`qa.bulk.work.execute`: the item's steps
through `qa.backends.driver.run` on one shared backend, the way `ask_many(batch=False)` does); the
calling thread writes each finished record. Records finished together share one fsync (group
commit), so a fast backend is not held back by the disk. At most `concurrency` items are in
flight and at most as many wait, so a corpus of any size takes little memory.

On Ctrl-C no new item starts; the items in flight are let finish and written (they are paid
for), then `KeyboardInterrupt` goes on. A second Ctrl-C stops at once.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.bulk.work import execute
from qa.errors import ConfigError

if TYPE_CHECKING:
    from qa.bulk.records import RunRecord
    from qa.bulk.runner import Job

__all__ = ["LocalEngine"]


@dataclass(frozen=True)
class LocalEngine:
    """Bounded concurrency in this process."""

    concurrency: int = 4
    """Items in flight at once."""

    name = "local"

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1 (got {self.concurrency})")

    def run(self, job: Job) -> None:
        """Do every item of `job`, writing each record as it finishes."""
        backend = job.backend()
        items = iter(job.items)
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="qa-run")
        running: set[Future[RunRecord]] = set()

        def fill() -> None:
            while len(running) < self.concurrency:
                item = next(items, None)
                if item is None:
                    return
                running.add(pool.submit(execute, item, job.task, backend))

        try:
            fill()
            while running:
                finished, pending = wait(running, return_when=FIRST_COMPLETED)
                running.clear()
                running.update(pending)
                job.write([future.result() for future in finished])
                fill()
        except KeyboardInterrupt:
            # Let the calls in flight end and keep their records; a second Ctrl-C ends this wait.
            job.status(f"interrupted: finishing {len(running)} item(s) in flight (Ctrl-C again to stop now)")
            job.write([future.result() for future in wait(running).done])
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

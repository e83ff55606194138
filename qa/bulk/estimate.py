"""`estimate_run`: what a `qa run` would send, in tokens and dollars, without calling anything.

Each item's steps are started and stopped at their first request: the very body the run
would send (and the openai-batch engine would put in its batch file). Its messages are
counted with the backend's own counter (the embedded model's tokenizer, else tiktoken) for
the configured model, and with tiktoken for every other model given (default: every model
with a known price). Completion tokens are counted as the request's `max_tokens`, an upper
bound; a real reply is usually far shorter. Re-asks, and the extra calls of an article too
long for one call (map-reduce), are not counted: the figures are for one call per item.
Items already done in `output` (if given) are left out; unreadable articles are counted
apart. The openai-batch engine is priced at the Batch API's half price.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa.bulk.corpus import read_corpus
from qa.bulk.output import read_results
from qa.bulk.work import Task, item_steps, plan, read_article

if TYPE_CHECKING:
    from qa.bulk.records import TaskKind
    from qa.settings import Settings

__all__ = ["BATCH_PRICE_FACTOR", "ModelEstimate", "RunEstimate", "estimate_run"]

BATCH_PRICE_FACTOR = 0.5
"""The OpenAI Batch API bills half the online price for input and output tokens."""


@dataclass(frozen=True)
class ModelEstimate:
    """Tokens and cost of the run's first requests for one model."""

    model: str
    counter: str
    """What counted the tokens: 'backend' (the configured backend's own counter) or 'tiktoken'."""
    prompt_tokens: int
    max_completion_tokens: int
    """The sum of the requests' `max_tokens`: an upper bound."""
    input_cost: float | None
    """Dollars for the prompt tokens (None: price unknown; 0.0: a local model)."""
    max_cost: float | None
    """Dollars if every reply used all of its `max_tokens`."""


@dataclass(frozen=True)
class RunEstimate:
    """What `qa run` would send (see the module docstring)."""

    items: int
    """Items in the plan."""
    done: int
    """Items already done in the output."""
    unreadable: int
    """Items whose article cannot be read (they would be recorded as errors, with no call)."""
    requests: int
    """First requests counted: items - done - unreadable."""
    price_factor: float
    """1.0 online; 0.5 for the Batch API."""
    models: list[ModelEstimate]

    def table(self) -> str:
        """A plain-text table, one row per model."""
        head = (f"{self.items} items, {self.done} already done, {self.unreadable} unreadable: "
                f"{self.requests} requests (first call per item; nothing was sent)")  # fmt: skip
        rows = [("model", "counted with", "prompt tokens", "completion tokens (max)", "input cost", "cost if max")]
        for m in self.models:
            rows.append(
                (
                    m.model,
                    m.counter,
                    f"{m.prompt_tokens:,}",
                    f"{m.max_completion_tokens:,}",
                    _money(m.input_cost),
                    _money(m.max_cost),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(
                cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in rows
        ]
        note = "" if self.price_factor == 1.0 else f"\nprices x {self.price_factor:g} (OpenAI Batch API)"
        return head + "\n" + "\n".join(line.rstrip() for line in lines) + note


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}"


def estimate_run(
    corpus: str | os.PathLike[str],
    *,
    task: TaskKind = "summarize",
    questions: Sequence[str] = (),
    style: str = "standard",
    lang: str | None = None,
    output: str | os.PathLike[str] | None = None,
    models: Sequence[str] | None = None,
    engine: str = "local",
    settings: Settings | None = None,
    **overrides: Any,
) -> RunEstimate:
    """Count what `run` with these arguments would send (see the module docstring)."""
    from qa.backends.backend import open_backend
    from qa.core.tokens import PRICES_PER_MILLION, estimate_cost, message_tokens, tiktoken_counter
    from qa.settings import Settings

    work = Task(kind=task, questions=tuple(questions), style=style, lang=lang)
    items = plan(read_corpus(corpus), work)
    backend = open_backend(settings or Settings.load(**overrides))
    done = set(read_results(output).records) if output is not None else set()
    pending = [item for item in items if item.key not in done]
    factor = BATCH_PRICE_FACTOR if engine == "openai-batch" else 1.0
    bodies: list[dict[str, Any]] = []
    unreadable = 0
    for item in pending:
        article = read_article(item)
        if isinstance(article, BaseException):
            unreadable += 1
            continue
        steps = item_steps(item, article, work, backend)
        try:
            bodies.append(next(steps).body)
        finally:
            steps.close()
    max_out = sum(int(body.get("max_tokens") or 0) for body in bodies)
    rows = []
    others = [m for m in (models if models is not None else PRICES_PER_MILLION) if m != backend.model]
    for model in [backend.model, *dict.fromkeys(others)]:
        mine = model == backend.model
        count = backend.count_tokens if mine else tiktoken_counter(model)
        prompt = sum(message_tokens(body["messages"], count) for body in bodies)
        local = mine and backend.profile.local
        cost_in, cost_max = (
            estimate_cost(model, prompt, 0, local=local),
            estimate_cost(model, prompt, max_out, local=local),
        )
        rows.append(ModelEstimate(
            model=model, counter="backend" if mine else "tiktoken", prompt_tokens=prompt, max_completion_tokens=max_out,
            input_cost=None if cost_in is None else cost_in * factor, max_cost=None if cost_max is None else cost_max * factor,
        ))  # fmt: skip
    return RunEstimate(
        items=len(items), done=len(items) - len(pending), unreadable=unreadable, requests=len(bodies),
        price_factor=factor, models=rows,
    )  # fmt: skip

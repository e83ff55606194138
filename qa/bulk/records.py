"""One line of a `qa run` output: an item's result or its typed error, its usage and provenance.

    {"id": "a.txt", "task": "summarize", "question": null, "source": "articles/a.txt",
     "article_id": "3f2a...", "result": {...SummaryResult...}, "error": null, "usage": {...}}

An item is one article for `summarize`, one (article, question) pair for `ask`; its key is
`(id, question)`. A record holds exactly one of `result` and `error`. `usage` is what the
item's model calls cost, on success and on failure alike. The model-side provenance (prompt,
version, backend, model) is in `result.provenance`; `source` and `article_id` say which
input, and which exact text of it, was processed. Records carry no timings, so the same
replies give byte-identical lines whichever engine ran them.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from qa.errors import QAError
from qa.schemas import AnswerResult, FrozenModel, SummaryResult, Usage

__all__ = ["ItemError", "RunRecord", "TaskKind", "item_key"]

TaskKind = Literal["summarize", "ask"]


def item_key(item_id: str, question: str | None) -> str:
    """The item's key as a string: the id for a summary, `id#q<hash of the question>` for a question.

    Used as the Batch API's `custom_id`; the hash keeps it short and stable when the list of
    questions is reordered or grows.
    """
    if question is None:
        return item_id
    return f"{item_id}#q{hashlib.sha256(question.encode('utf-8')).hexdigest()[:10]}"


class ItemError(FrozenModel):
    """Why an item has no result."""

    type: str
    """The error's class name, e.g. 'OutputValidationError', 'ArticleError', 'BatchAPIError'."""
    message: str
    """The error's message."""

    @classmethod
    def of(cls, exc: BaseException) -> ItemError:
        return cls(type=type(exc).__name__, message=str(exc) or repr(exc))


class RunRecord(FrozenModel):
    """The outcome of one item of a `qa run` (see the module docstring)."""

    id: str
    """The article's id in the corpus."""
    task: TaskKind
    """Which task ran: 'summarize' or 'ask'."""
    question: str | None
    """The question asked ('ask'), or None ('summarize')."""
    source: str
    """Where the article was read: a file path, or `file.jsonl:LINE`."""
    article_id: str | None
    """The article's content hash (`Article.id`); None when it could not be read."""
    result: SummaryResult | AnswerResult | None
    """The result, or None when the item failed."""
    error: ItemError | None
    """The failure, or None."""
    usage: Usage
    """Tokens, attempts and cost of the item's model calls, whether it succeeded or failed."""

    @property
    def key(self) -> str:
        """The item's key (see `item_key`)."""
        return item_key(self.id, self.question)

    @classmethod
    def failed(
        cls, *, id: str, task: TaskKind, question: str | None, source: str, article_id: str | None, exc: BaseException
    ) -> RunRecord:
        """The record of an item that ended with `exc` (its usage, if it carries one, is kept)."""
        usage = (exc.usage if isinstance(exc, QAError) else None) or Usage.zero()
        return cls(
            id=id, task=task, question=question, source=source, article_id=article_id,
            result=None, error=ItemError.of(exc), usage=usage,
        )  # fmt: skip

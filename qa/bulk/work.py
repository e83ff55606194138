"""The work of a `qa run`: the task, its items, and one item's steps and record.

A `Task` is what to do with every article: summarize it, or ask it each of a list of
questions. `plan` turns a corpus into `WorkItem`s (one per article, or per article and
question). `item_steps` is the item's `Steps`, built only from the tasks' public entry
points (`summary_steps`, `answer_steps`); every engine drives those very steps, so
validation, re-asks, grounding and abstention are the same code whichever engine runs.
`execute` runs one item synchronously and never raises: a failure becomes the record's
typed error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from qa.bulk.corpus import CorpusItem
from qa.bulk.records import RunRecord, TaskKind, item_key
from qa.errors import InputError

if TYPE_CHECKING:
    from qa.backends.backend import Backend
    from qa.core.structured import Steps
    from qa.schemas import AnswerResult, SummaryResult
    from qa.tasks.common import Style
    from qa.text.article import Article

__all__ = ["Task", "WorkItem", "execute", "item_steps", "plan", "read_article", "record_of"]

_STYLES = ("brief", "standard", "bullets")


@dataclass(frozen=True)
class Task:
    """What `qa run` does with every article: summarize it, or ask it every question."""

    kind: TaskKind
    questions: tuple[str, ...] = ()
    """The questions, for 'ask' (asked one call each, in this order)."""
    style: str = "standard"
    """Summary style: brief, standard or bullets."""
    lang: str | None = None
    """Write summaries in this language (quotes stay verbatim)."""

    def __post_init__(self) -> None:
        from qa.tasks.common import check_question

        if self.kind == "ask":
            if not self.questions:
                raise InputError("the ask task needs at least one question")
            object.__setattr__(self, "questions", tuple(dict.fromkeys(check_question(q) for q in self.questions)))
        elif self.kind == "summarize":
            if self.questions:
                raise InputError("questions go with the ask task, not summarize")
            if self.style not in _STYLES:
                raise InputError(f"unknown summary style {self.style!r}: use brief, standard or bullets")
        else:
            raise InputError(f"unknown task {self.kind!r}: use summarize or ask")

    @property
    def prompts(self) -> tuple[str, ...]:
        """The prompt templates the task renders (their versions guard a resumed output)."""
        return ("summarize",) if self.kind == "summarize" else ("answer",)

    def describe(self) -> dict[str, Any]:
        """What shapes the results, for the output's state file (questions are in the keys)."""
        if self.kind == "ask":
            return {"task": "ask"}
        return {"task": "summarize", "style": self.style, "lang": self.lang}


@dataclass(frozen=True)
class WorkItem:
    """One item: an article, and the question to ask it (None: summarize it)."""

    article: CorpusItem
    question: str | None
    key: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", item_key(self.article.id, self.question))


def plan(corpus: Sequence[CorpusItem], task: Task) -> list[WorkItem]:
    """Every item of `task` over `corpus`: articles in corpus order, questions in task order."""
    questions: Sequence[str | None] = task.questions if task.kind == "ask" else (None,)
    return [WorkItem(article, question) for article in corpus for question in questions]


def item_steps(item: WorkItem, article: Article, task: Task, backend: Backend) -> Steps[SummaryResult | AnswerResult]:
    """The steps that do `item`: the very ones `qa.summarize` and `qa.ask` run."""
    from qa.tasks.answer import answer_steps
    from qa.tasks.summarize import summary_steps

    if item.question is None:
        style = cast("Style", task.style)  # Task.__post_init__ checked it is one
        return summary_steps(article, backend, style=style, lang=task.lang)
    return answer_steps(article, item.question, backend)


def record_of(
    item: WorkItem, task: Task, article: Article | None, outcome: SummaryResult | AnswerResult | BaseException
) -> RunRecord:
    """The item's record: its result, or its failure with the usage the failure carries."""
    common: dict[str, Any] = {
        "id": item.article.id, "task": task.kind, "question": item.question,
        "source": item.article.source, "article_id": article.id if article is not None else None,
    }  # fmt: skip
    if isinstance(outcome, BaseException):
        return RunRecord.failed(**common, exc=outcome)
    return RunRecord(**common, result=outcome, error=None, usage=outcome.usage)


def read_article(item: WorkItem) -> Article | BaseException:
    """The item's article, or the error that kept it from being read."""
    try:
        return item.article.load()
    except Exception as exc:  # noqa: BLE001 - an unreadable article is this item's failure, not the run's
        return exc


def execute(item: WorkItem, task: Task, backend: Backend, article: Article | None = None) -> RunRecord:
    """Do `item` synchronously (loading its article unless given); never raises."""
    from qa.backends.driver import run

    loaded = read_article(item) if article is None else article
    if isinstance(loaded, BaseException):
        return record_of(item, task, None, loaded)
    try:
        outcome: SummaryResult | AnswerResult | BaseException = run(item_steps(item, loaded, task, backend), backend)
    except Exception as exc:  # noqa: BLE001 - a failed item never stops the run: it is recorded
        outcome = exc
    return record_of(item, task, loaded, outcome)

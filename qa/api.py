"""The Python API: `summarize`, `ask`, `ask_many`, `Conversation`, and their async twins.

Every function takes an `Article` (see `load_article`) and either `settings=` or setting
overrides as keyword arguments (`backend="embedded"`, `model="gpt-4o-mini"`, ...); with
neither, settings come from the environment. `backend=` also takes a `Backend` you built
(`qa.backends.Backend(settings, PROFILES["vllm"], transport=...)`): it is used as it is.
The async functions run the very same steps as the sync ones (see `qa.backends.driver`);
only the client differs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qa.backends.backend import Backend, open_backend
from qa.backends.driver import TextCallback, arun, run
from qa.errors import ArticleError, BackendError, ConfigError, QuestionError
from qa.schemas import AnswerResult, SummaryResult, Usage
from qa.settings import Settings
from qa.tasks.answer import Turn, answer_steps
from qa.tasks.answer_many import batch_steps, charge_batch_failure
from qa.tasks.common import Style
from qa.tasks.summarize import summary_steps
from qa.text.article import Article

__all__ = ["Conversation", "aask", "aask_many", "ask", "ask_many", "asummarize", "backend_for", "summarize"]

log = logging.getLogger("qa")


def _check_article(article: Any, function: str) -> None:
    """`ArticleError` when `article` is not an `Article` (a common slip: passing its text)."""
    if not isinstance(article, Article):
        raise ArticleError(
            f"qa.{function} needs a qa.Article, not {type(article).__name__}: "
            "read a file with qa.load_article(path), or text you hold with qa.parse_article(text)"
        )


def backend_for(settings: Settings | None = None, **overrides: Any) -> Backend:
    """The backend for `settings`, or for the environment with `overrides` applied.

    `backend=` takes a backend kind ("embedded", "openai", ...) or a `Backend` you built
    (a server behind your own transport, a test's fake), which is used as it is.
    """
    given = overrides.get("backend")
    if isinstance(given, Backend):
        if settings is not None or len(overrides) > 1:
            raise ConfigError("pass either a Backend or settings (and overrides), not both: a Backend has its settings")
        return given
    backend = open_backend(settings or Settings.load(**overrides))
    log.info("using %s", backend.describe())
    return backend


def summarize(
    article: Article,
    *,
    style: Style = "standard",
    lang: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> SummaryResult:
    """A structured, quote-checked summary of `article`."""
    _check_article(article, "summarize")
    backend = backend_for(settings, **overrides)
    return run(summary_steps(article, backend, style=style, lang=lang), backend)


async def asummarize(
    article: Article,
    *,
    style: Style = "standard",
    lang: str | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> SummaryResult:
    """Async `summarize`."""
    _check_article(article, "asummarize")
    backend = backend_for(settings, **overrides)
    return await arun(summary_steps(article, backend, style=style, lang=lang), backend)


def ask(
    article: Article,
    question: str,
    *,
    on_text: TextCallback | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> AnswerResult:
    """Answer `question` from `article`, with verified quotes or an explicit abstention.

    `on_text`, if given, receives the model's raw output as it streams.
    """
    _check_article(article, "ask")
    backend = backend_for(settings, **overrides)
    return run(answer_steps(article, question, backend, stream=on_text is not None), backend, on_text)


async def aask(
    article: Article,
    question: str,
    *,
    on_text: TextCallback | None = None,
    settings: Settings | None = None,
    **overrides: Any,
) -> AnswerResult:
    """Async `ask`."""
    _check_article(article, "aask")
    backend = backend_for(settings, **overrides)
    return await arun(answer_steps(article, question, backend, stream=on_text is not None), backend, on_text)


def _check_questions(questions: Sequence[str]) -> list[str]:
    if isinstance(questions, str) or not questions:
        raise QuestionError("ask_many needs a non-empty list of questions")
    return list(questions)


def _batch_failed(exc: BackendError) -> Usage | None:
    """Log a failed batched call; its usage, to be charged to the one-by-one answers."""
    log.warning("batched call failed (%s); answering one question at a time", exc)
    return exc.usage


def ask_many(
    article: Article,
    questions: Sequence[str],
    *,
    batch: bool = True,
    concurrency: int = 4,
    settings: Settings | None = None,
    **overrides: Any,
) -> list[AnswerResult]:
    """Answer several questions: in one call where the context allows, else one call each.

    One-by-one calls run `concurrency` at a time. Results keep the questions' order.
    """
    _check_article(article, "ask_many")
    questions = _check_questions(questions)
    backend = backend_for(settings, **overrides)
    spent = None
    if batch and len(questions) > 1:
        try:
            results = run(batch_steps(article, questions, backend), backend)
        except BackendError as exc:
            results, spent = None, _batch_failed(exc)
        if results is not None:
            return results
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(questions)))) as pool:
        results = list(pool.map(lambda q: run(answer_steps(article, q, backend), backend), questions))
    return charge_batch_failure(results, spent)


async def aask_many(
    article: Article,
    questions: Sequence[str],
    *,
    batch: bool = True,
    concurrency: int = 4,
    settings: Settings | None = None,
    **overrides: Any,
) -> list[AnswerResult]:
    """Async `ask_many`."""
    _check_article(article, "aask_many")
    questions = _check_questions(questions)
    backend = backend_for(settings, **overrides)
    spent = None
    if batch and len(questions) > 1:
        try:
            results = await arun(batch_steps(article, questions, backend), backend)
        except BackendError as exc:
            results, spent = None, _batch_failed(exc)
        if results is not None:
            return results
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(question: str) -> AnswerResult:
        async with gate:
            return await arun(answer_steps(article, question, backend), backend)

    return charge_batch_failure(list(await asyncio.gather(*(one(q) for q in questions))), spent)


class Conversation:
    """Follow-up questions about one article; earlier turns are kept within the context.

    >>> chat = Conversation(article)            # doctest: +SKIP
    >>> chat.ask("Who signed the plan?")        # doctest: +SKIP
    >>> chat.ask("When did he take office?")    # doctest: +SKIP
    """

    def __init__(self, article: Article, *, settings: Settings | None = None, **overrides: Any) -> None:
        _check_article(article, "Conversation")
        self.article = article
        self.backend = backend_for(settings, **overrides)
        self.results: list[AnswerResult] = []

    @property
    def history(self) -> list[Turn]:
        return [Turn(question=r.question, answer=r.answer) for r in self.results]

    @property
    def usage(self) -> Usage:
        """Tokens and cost over the whole conversation."""
        total = Usage.zero()
        for result in self.results:
            total = total + result.usage
        return total

    def ask(self, question: str, *, on_text: TextCallback | None = None) -> AnswerResult:
        result = run(
            answer_steps(self.article, question, self.backend, self.history, stream=on_text is not None),
            self.backend,
            on_text,
        )
        self.results.append(result)
        return result

    async def aask(self, question: str, *, on_text: TextCallback | None = None) -> AnswerResult:
        result = await arun(
            answer_steps(self.article, question, self.backend, self.history, stream=on_text is not None),
            self.backend,
            on_text,
        )
        self.results.append(result)
        return result

    def clear(self) -> None:
        """Forget earlier turns (the article stays)."""
        self.results.clear()

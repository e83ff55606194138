"""What every task shares: question checks, provenance, the quotes a model may use, the schema shown.

A task module (`answer`, `answer_many`, `summarize`, `reference`, and the eval judge) builds
on these instead of borrowing from another task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from qa.backends.backend import Backend
from qa.core.prompts import RenderedPrompt
from qa.core.tokens import message_tokens
from qa.errors import QuestionError
from qa.schemas import Provenance
from qa.text.article import Article, ParagraphKind
from qa.text.grounding import locate_quote

__all__ = [
    "MAX_QUESTION_CHARS",
    "Style",
    "check_question",
    "missing_quotes",
    "provenance",
    "quote_choices",
    "room_left",
    "schema_text",
]

MAX_QUESTION_CHARS = 2000
Style = Literal["brief", "standard", "bullets"]
_QUOTE_KINDS: tuple[ParagraphKind, ...] = ("headline", "standfirst", "subheading", "body")


def check_question(question: str) -> str:
    """The question, stripped; `QuestionError` if it is empty or too long."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("the question is empty: ask something about the article")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. Ask it more briefly."
        )
    return question


def provenance(prompt: RenderedPrompt, backend: Backend) -> Provenance:
    return Provenance(prompt=prompt.name, prompt_version=prompt.version, backend=backend.kind, model=backend.model)


def quote_choices(article: Article, text: str, backend: Backend) -> list[str] | None:
    """Sentences of `text` the model may quote, when quotes are constrained."""
    if not backend.constrain_quotes:
        return None
    return [s.text for s in article.sentences(_QUOTE_KINDS) if s.text in text]


def missing_quotes(article: Article, quotes: Sequence[str]) -> list[str]:
    return [
        f"quote not found in the article: {q[:80]!r}"
        for q in quotes
        if locate_quote(article.text, q, None, None) is None
    ]


def schema_text(backend: Backend, schema: dict[str, Any]) -> str:
    return json.dumps(schema, separators=(",", ":")) if backend.schema_in_prompt else ""


def room_left(backend: Backend, prompt: RenderedPrompt, budget: int) -> int:
    """Tokens left in the backend's context window once `prompt` and `budget` output tokens
    are in it; negative when the prompt does not fit."""
    return backend.context_tokens - budget - message_tokens(prompt.messages, backend.count_tokens)

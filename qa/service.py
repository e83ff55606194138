"""The tasks: summarize an article, answer questions about it, hold a conversation.

Each task is written once as steps (see `qa.structured`): it fits the article into the
context, renders its prompt, makes one or more structured calls and verifies every quote
against the article. `summarize`/`ask`/`ask_many` run the steps synchronously,
`asummarize`/`aask`/`aask_many` asynchronously, through `qa.driver`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from qa.article import Article
from qa.backends import Backend
from qa.chunking import pack, pieces, select_relevant, span_text
from qa.constraints import output_budget, response_schema
from qa.errors import ContextLengthError, InputError, QAError, QuestionError
from qa.grounding import locate_quote, verify_answer, verify_summary
from qa.prompts import RenderedPrompt, article_block, load_prompt
from qa.schemas import Answer, AnswerResult, Provenance, Summary, SummaryResult, Usage
from qa.support import answer_supported
from qa.structured import Steps, StructuredSpec, structured_call
from qa.tokens import message_tokens

__all__ = [
    "MAX_QUESTION_CHARS",
    "Style",
    "Turn",
    "answer_problems",
    "answer_steps",
    "check_question",
    "missing_quotes",
    "quote_choices",
    "schema_text",
    "summary_steps",
]

MAX_QUESTION_CHARS = 2000
Style = Literal["brief", "standard", "bullets"]
_QUOTE_KINDS = ("headline", "standfirst", "subheading", "body")


@dataclass(frozen=True)
class Turn:
    """One earlier question and its answer, for follow-up questions."""

    question: str
    answer: Answer


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


def _provenance(prompt: RenderedPrompt, backend: Backend) -> Provenance:
    return Provenance(prompt=prompt.name, prompt_version=prompt.version, backend=backend.kind, model=backend.model)


def quote_choices(article: Article, text: str, backend: Backend) -> list[str] | None:
    """Sentences of `text` the model may quote, when quotes are constrained."""
    if not backend.constrain_quotes:
        return None
    return [s.text for s in article.sentences(_QUOTE_KINDS) if s.text in text]


def missing_quotes(article: Article, quotes: Sequence[str]) -> list[str]:
    return [f"quote not found in the article: {q[:80]!r}" for q in quotes if locate_quote(article.text, q, None, None) is None]


def answer_problems(article: Article, answer: Answer | Any) -> list[str]:
    """Meaning checks that drive a re-ask: an answer needs quotes that are in the article and support it."""
    if answer.status != "answered":
        return []
    if not answer.citations:
        return ["status is 'answered' but there are no citations: quote the sentences that support the answer"]
    problems = missing_quotes(article, [c.quote for c in answer.citations])
    if not problems and answer_supported(answer.answer, [c.quote for c in answer.citations]) is False:
        problems.append("the cited sentences do not mention anything the answer says: cite the sentences that support it")
    return problems


def schema_text(backend: Backend, schema: dict[str, Any]) -> str:
    return json.dumps(schema, separators=(",", ":")) if backend.schema_in_prompt else ""


# -- answers -------------------------------------------------------------------


def _answer_messages(block: str, question: str, history: Sequence[Turn], schema_json: str) -> RenderedPrompt:
    """System, the article with the first question, then earlier turns, then `question`."""
    template = load_prompt("answer")
    first = history[0].question if history else question
    prompt = template.render(article_block=block, question=first, schema=schema_json)
    if not history:
        return prompt
    messages = list(prompt.messages)
    for i, turn in enumerate(history):
        reply = turn.answer.model_dump_json(include={"answer", "status"})
        follow = history[i + 1].question if i + 1 < len(history) else question
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": f"Question: {follow}\n"}]
    return RenderedPrompt(name=prompt.name, version=prompt.version, messages=messages)


def answer_steps(
    article: Article, question: str, backend: Backend, history: Sequence[Turn] = (), *, stream: bool = False
) -> Steps[AnswerResult]:
    """Steps that answer `question`, keeping as much `history` as the context allows."""
    question = check_question(question)
    count = backend.count_tokens
    history = list(history)
    text = article.text
    while True:
        schema = response_schema(Answer, quote_choices(article, text, backend))
        budget = output_budget(schema)
        prompt = _answer_messages(article_block(text), question, history, schema_text(backend, schema))
        spare = backend.context_tokens - budget - message_tokens(prompt.messages, count)
        if spare >= 0:
            break
        if history:  # forget the oldest turn first
            history = history[1:]
            continue
        if text != article.text:
            raise ContextLengthError("the question and the most relevant part of the article do not fit the context")
        # The article alone is too long: keep the paragraphs most relevant to the question.
        room = count(text) + spare
        text = span_text(article, select_relevant(article, pieces(article, count, room), question, count, room))
    spec = StructuredSpec(
        prompt=prompt,
        response_model=Answer,
        schema=schema,
        max_tokens=budget,
        check=lambda a: answer_problems(article, a),
    )
    answer, usage = yield from structured_call(spec, backend, stream=stream)
    verified, grounding = verify_answer(article.text, answer)
    return AnswerResult(
        question=question, answer=verified, grounding=grounding, usage=usage, provenance=_provenance(prompt, backend)
    )


# -- summaries -----------------------------------------------------------------


def _summary_spec(article: Article, text: str, backend: Backend, style: Style, lang: str | None) -> StructuredSpec[Summary]:
    schema = response_schema(Summary, quote_choices(article, text, backend))
    prompt = load_prompt("summarize").render(
        article_block=article_block(text), style=style, lang=lang or "", schema=schema_text(backend, schema)
    )
    check = lambda s: missing_quotes(article, [k.quote for k in s.key_points])  # noqa: E731
    return StructuredSpec(prompt=prompt, response_model=Summary, schema=schema, max_tokens=output_budget(schema), check=check)


def _fits(spec: StructuredSpec[Any], backend: Backend) -> int:
    """Tokens to spare in the context for `spec` (negative: it does not fit)."""
    return backend.context_tokens - spec.max_tokens - message_tokens(spec.prompt.messages, backend.count_tokens)


def _partials_text(partials: Sequence[Summary]) -> str:
    blocks = [f"<<<PART {i}>>>\n{p.model_dump_json()}\n<<<END PART {i}>>>" for i, p in enumerate(partials, 1)]
    return "\n\n".join(blocks)


def _combine_spec(partials: Sequence[Summary], backend: Backend, style: Style, lang: str | None) -> StructuredSpec[Summary]:
    schema = response_schema(Summary)
    prompt = load_prompt("combine").render(
        partials=_partials_text(partials), style=style, lang=lang or "", schema=schema_text(backend, schema)
    )
    return StructuredSpec(prompt=prompt, response_model=Summary, schema=schema, max_tokens=output_budget(schema))


def _combine_steps(
    partials: list[Summary], backend: Backend, style: Style, lang: str | None
) -> Steps[tuple[Summary, RenderedPrompt, Usage]]:
    """Reduce partial summaries to one: as many as fit per call, level by level."""
    usage = Usage.zero()
    while True:
        groups: list[list[Summary]] = []
        for part in partials:
            if groups and _fits(_combine_spec([*groups[-1], part], backend, style, lang), backend) >= 0:
                groups[-1].append(part)
            else:
                groups.append([part])
        if len(groups) == len(partials) and len(partials) > 1:
            raise ContextLengthError("two partial summaries of this article do not fit the context together")
        merged = []
        for group in groups:
            spec = _combine_spec(group, backend, style, lang)
            if _fits(spec, backend) < 0:
                raise ContextLengthError("a partial summary of this article does not fit the context")
            try:
                summary, step_usage = yield from structured_call(spec, backend)
            except QAError as exc:
                exc.usage = usage + (exc.usage or Usage.zero())
                raise
            usage = usage + step_usage
            merged.append(summary)
        if len(merged) == 1:
            return merged[0], spec.prompt, usage
        partials = merged


def summary_steps(
    article: Article, backend: Backend, *, style: Style = "standard", lang: str | None = None
) -> Steps[SummaryResult]:
    """Steps that summarize `article`: in one call, or map-reduce over chunks if it is long."""
    if style not in ("brief", "standard", "bullets"):
        raise InputError(f"unknown summary style {style!r}: use brief, standard or bullets")
    spec = _summary_spec(article, article.text, backend, style, lang)
    spare = _fits(spec, backend)
    if spare >= 0:
        summary, usage = yield from structured_call(spec, backend)
        prompt = spec.prompt
    else:
        count = backend.count_tokens
        room = count(article.text) + spare
        chunks = pack(article, pieces(article, count, room), count, room)
        partials: list[Summary] = []
        usage = Usage.zero()
        try:
            for chunk in chunks:
                part, part_usage = yield from structured_call(
                    _summary_spec(article, span_text(article, chunk), backend, style, lang), backend
                )
                partials.append(part)
                usage = usage + part_usage
            summary, prompt, combine_usage = yield from _combine_steps(partials, backend, style, lang)
        except QAError as exc:  # a failing step's error carries the cost of every step before it
            exc.usage = usage + (exc.usage or Usage.zero())
            raise
        usage = usage + combine_usage
    verified, grounding = verify_summary(article.text, summary)
    return SummaryResult(summary=verified, grounding=grounding, usage=usage, provenance=_provenance(prompt, backend))

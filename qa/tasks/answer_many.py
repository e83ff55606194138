"""Several questions about one article in one model call.

The batch prompt carries the article once and numbers the questions; the reply must hold
exactly one answer per number. On grammar-constrained backends the schema pins the
numbers (`prefixItems`, one entry per question with `number` fixed), so the reply is
numbered right by construction; elsewhere the numbering is checked and re-asked. Each
answer is then verified on its own, exactly like a single answer.

`batch_steps` returns None when the batch cannot fit the context, and raises
`OutputValidationError` (with the usage spent) when the reply stays misnumbered; either
way the caller falls back to one call per question, and `charge_batch_failure` adds a
failed batch's cost to those results, so their usage still adds up to what was spent.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from qa.backends.backend import Backend
from qa.core.constraints import output_budget, response_schema
from qa.core.prompts import load_prompt
from qa.core.structured import Steps, StructuredSpec, structured_reply
from qa.errors import OutputValidationError
from qa.schemas import AnswerResult, EvidenceAnswer, Usage
from qa.tasks.answer import check_steps, evidence_schema, ground_reply, reply_problems
from qa.tasks.common import check_question, provenance, room_left, schema_text
from qa.tasks.evidence import evidence_sentences, numbered_block
from qa.text.article import Article
from qa.text.retrieval import rank_sentences

__all__ = ["AnswerSet", "NumberedAnswer", "batch_steps", "charge_batch_failure", "pin_numbers", "split_usage"]


class NumberedAnswer(EvidenceAnswer):
    """The reply to question number `number`: its evidence, then its answer."""

    number: int
    """The question's number, from 1."""


class AnswerSet(BaseModel):
    """Answers to all the numbered questions."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    answers: list[NumberedAnswer]
    """One entry per question, in order."""


def split_usage(usage: Usage, n: int) -> list[Usage]:
    """Share one call's usage among `n` answers so that the shares add up to the whole."""
    shares = []

    def part(total: int, i: int) -> int:
        return total // n + (1 if i < total % n else 0)

    for i in range(n):
        shares.append(
            Usage(
                prompt_tokens=part(usage.prompt_tokens, i),
                completion_tokens=part(usage.completion_tokens, i),
                total_tokens=part(usage.prompt_tokens, i) + part(usage.completion_tokens, i),
                attempts=usage.attempts if i == 0 else 0,
                cost_usd=None if usage.cost_usd is None else usage.cost_usd / n,
            )
        )
    return shares


def charge_batch_failure(results: list[AnswerResult], spent: Usage | None) -> list[AnswerResult]:
    """`results` with a failed batch call's usage `spent` shared among them."""
    if spent is None or spent.attempts == 0 or not results:
        return results
    shares = split_usage(spent, len(results))
    return [r.model_copy(update={"usage": r.usage + share}) for r, share in zip(results, shares, strict=True)]


def pin_numbers(schema: dict[str, Any], n: int) -> None:
    """Make `schema`'s answers array exactly `n` entries numbered 1 to `n`, in order.

    For grammar-constrained backends: the entry schema is inlined once per position with
    `number` fixed by `const`, as `prefixItems`, so a misnumbered reply cannot be decoded.
    """
    answers = schema["properties"]["answers"]
    entry = answers.pop("items")
    if "$ref" in entry:
        entry = schema["$defs"][entry["$ref"].rsplit("/", 1)[-1]]
    pinned = []
    for number in range(1, n + 1):
        item = copy.deepcopy(entry)
        item["properties"]["number"] = {"type": "integer", "const": number}
        pinned.append(item)
    answers["prefixItems"] = pinned


def _numbering_problems(result: AnswerSet, n: int) -> list[str]:
    numbers = [a.number for a in result.answers]
    if sorted(numbers) != list(range(1, n + 1)):
        return [f"'answers' must hold exactly one entry for each question number 1 to {n}; got numbers {numbers}"]
    return []


def _number_first(schema: dict[str, Any]) -> None:
    """Order each entry's properties number, sentence, answer (the model writes in this order)."""
    for node in [schema, *schema.get("$defs", {}).values()]:
        props = node.get("properties", {})
        if {"number", "sentence", "answer"} <= props.keys():
            node["properties"] = {k: props[k] for k in ("number", "sentence", "answer")}
            node["required"] = ["number", "sentence", "answer"]


def batch_steps(article: Article, questions: Sequence[str], backend: Backend) -> Steps[list[AnswerResult] | None]:
    """Steps answering all `questions` in one call, or returning None if they do not fit."""
    questions = [check_question(q) for q in questions]
    n = len(questions)
    sentences = evidence_sentences(article)
    numbers = list(range(1, len(sentences) + 1))
    schema = response_schema(AnswerSet)
    _number_first(schema)
    entry = schema["$defs"]["NumberedAnswer"] if "$defs" in schema else schema["properties"]["answers"]["items"]
    entry["properties"]["sentence"] = evidence_schema(numbers)["properties"]["sentence"]
    answers = schema["properties"]["answers"]
    answers["minItems"] = answers["maxItems"] = n
    if backend.profile.grammar:
        pin_numbers(schema, n)
    budget = output_budget(schema)
    prompt = load_prompt("answer_many").render(
        article_block=numbered_block(article), questions=questions, schema=schema_text(backend, schema)
    )
    if room_left(backend, prompt, budget) < 0:
        return None

    def check(result: AnswerSet) -> list[str]:
        problems = _numbering_problems(result, n)
        for a in result.answers:
            problems += [f"answer {a.number}: {p}" for p in reply_problems(a, numbers)]
        return problems

    spec: StructuredSpec[Any] = StructuredSpec(
        prompt=prompt, response_model=AnswerSet, schema=schema, max_tokens=budget, check=check, logprobs=True
    )
    result, usage, completion = yield from structured_reply(spec, backend)
    if problems := _numbering_problems(result, n):  # still misnumbered after the re-asks
        raise OutputValidationError(
            f"the batched reply did not number its answers 1 to {n}", attempts=usage.attempts,
            last_output=result.model_dump_json(), errors=problems, usage=usage,
        )  # fmt: skip
    position = {a.number: i for i, a in enumerate(result.answers)}
    made_by = provenance(prompt, backend)
    texts = [s.text for s in sentences]
    out = []
    for i, (question, share) in enumerate(zip(questions, split_usage(usage, n), strict=True), 1):
        raw = result.answers[position[i]]
        reply = EvidenceAnswer(sentence=raw.sentence, answer=raw.answer)
        # Each answer is checked on its own, as one more turn after the whole batch's reply.
        p_verified, spent = yield from check_steps(article, question, reply, prompt, completion.content or "", backend)
        share = share + spent
        answer, grounding, confidence, signals = ground_reply(
            article, question, reply, completion.logprobs, rank_sentences(texts, question), backend,
            nth=position[i], p_verified=p_verified,
        )  # fmt: skip
        out.append(
            AnswerResult(
                question=question,
                answer=answer,
                grounding=grounding,
                usage=share,
                provenance=made_by,
                confidence=confidence,
                signals=signals,
            )
        )
    return out

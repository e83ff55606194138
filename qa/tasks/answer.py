"""Answer one question about an article, evidence first (the `ask` task; `Conversation` adds turns).

Written once as steps (see `qa.core.structured`): it fits the article into the context,
shows it as numbered sentences, asks for the number of the sentence that answers and then
a short answer, derives the citation from that number (so the quote is verbatim), with
`QA_VERIFY=on` checks the answer with one more turn of the same conversation ("does
sentence n answer the question with this?", read as the probability of "yes"), and
decides whether to keep the answer from measured signals (`qa.tasks.abstention`), and shows
a question of fact's answer as the words of its sentence that answer it (`qa.text.spans`;
with `short_answers == "constrained"` on a grammar backend, the answer is also held to the
sentence's words while it is decoded: `qa.tasks.span_grammar`; batches are shortened after
the fact only).
`ask`/`aask` and `Conversation` run these steps through `qa.backends.driver`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.backends.backend import Backend
from qa.core.constraints import output_budget, response_schema
from qa.core.prompts import RenderedPrompt, load_prompt
from qa.core.structured import Steps, StructuredSpec, TokenLogprob, structured_reply
from qa.errors import ContextLengthError, InputError, OutputValidationError, RefusalError, TruncatedOutputError
from qa.schemas import Answer, AnswerResult, EvidenceAnswer, Grounding, Usage, Verdict
from qa.tasks.abstention import AnswerSignals, calibrator_for, echoes_question, measure
from qa.tasks.common import check_question, provenance, room_left, schema_text
from qa.tasks.evidence import (
    answer_logprob,
    answer_logprob_sum,
    answer_sentence,
    chosen_number_probability,
    citation_for,
    evidence_sentences,
    no_evidence_probability,
    numbered_block,
    yes_probability,
)
from qa.tasks.span_grammar import span_grammar
from qa.text.article import Article, Sentence
from qa.text.grounding import grounding_report
from qa.text.retrieval import SentenceScores, rank_sentences
from qa.text.spans import asks_for_fact, short_answer
from qa.text.support import answer_supported

__all__ = [
    "Turn",
    "answer_steps",
    "candidate_of",
    "check_prompt",
    "check_steps",
    "evidence_schema",
    "ground_reply",
    "relevance_hint",
    "reply_problems",
]


@dataclass(frozen=True)
class Turn:
    """One earlier question and its answer, for follow-up questions."""

    question: str
    answer: Answer


# -- answers -------------------------------------------------------------------


def evidence_schema(numbers: Sequence[int]) -> dict[str, Any]:
    """The reply schema for one answer: `sentence` limited to 0 and the shown sentence numbers."""
    schema = response_schema(EvidenceAnswer)
    schema["properties"]["sentence"] = {
        "type": "integer",
        "enum": [0, *numbers],
        "description": "The number of the sentence that answers the question; 0 if no sentence does.",
    }
    return schema


def _reply_json(article: Article, answer: Answer) -> str:
    """An earlier answer as the model would have written it (for follow-up questions)."""
    number = 0
    if answer.status == "answered" and answer.citations:
        starts = [s.start for s in evidence_sentences(article)]
        first = answer.citations[0].start
        number = starts.index(first) + 1 if first in starts else 0
    return json.dumps({"sentence": number, "answer": answer.answer if number else ""}, ensure_ascii=False)


def relevance_hint(ranking: SentenceScores, shown: Sequence[int], top: int = 3) -> str:
    """The `top` best-matching sentence numbers among those shown, as a hint line."""
    visible = set(shown)
    best = [n for n in ranking.ranked() if n in visible and ranking.scores[n - 1] > 0][:top]
    return ", ".join(f"[{n}]" for n in best)


def _answer_messages(
    article: Article, shown: Sequence[int] | None, question: str, hint: str, history: Sequence[Turn], schema_json: str
) -> RenderedPrompt:
    """System, the numbered article with the first question, then earlier turns, then `question`."""
    template = load_prompt("answer")
    block = numbered_block(article, shown)
    if not history:
        return template.render(article_block=block, question=question, hint=hint, schema=schema_json)
    prompt = template.render(article_block=block, question=history[0].question, hint="", schema=schema_json)
    messages = list(prompt.messages)
    for i, turn in enumerate(history):
        follow = history[i + 1].question if i + 1 < len(history) else question
        note = f"Sentences that share words with it: {hint}\n" if follow == question and hint else ""
        messages += [
            {"role": "assistant", "content": _reply_json(article, turn.answer)},
            {"role": "user", "content": f"{note}Question: {follow}\n"},
        ]
    return RenderedPrompt(name=prompt.name, version=prompt.version, messages=messages)


def reply_problems(reply: EvidenceAnswer, shown: Sequence[int], question: str | None = None) -> list[str]:
    """Meaning checks that drive a re-ask: a real sentence number, an answer when one is
    cited, and (given the `question`) an answer that says more than the question does.

    (Re-asking a question of fact answered with its whole sentence was tried and dropped:
    on 286 development questions the 0.5B model gave the same answer all 48 times.)"""
    if reply.sentence != 0 and reply.sentence not in shown:
        return [f"sentence {reply.sentence} does not exist: use one of the numbers in brackets, or 0"]
    if reply.sentence != 0 and not reply.answer.strip():
        return ["'answer' is empty although a sentence is cited: give the answer, or set sentence to 0"]
    if reply.sentence != 0 and question is not None and echoes_question(question, reply.answer):
        return [
            f"the answer {reply.answer.strip()!r} only repeats words of the question: give the words of the "
            "cited sentence that answer it, or set sentence to 0 if no sentence does"
        ]
    return []


def candidate_of(article: Article, reply: EvidenceAnswer) -> tuple[int, str] | None:
    """The sentence number a reply's answer stands on and the answer, or None when the reply
    offers no answer (sentence 0, a number that does not exist, or an empty answer).

    The number is the one cited, unless the answer's words are in a sentence next to it
    (models miscount numbered lists: see `answer_sentence`)."""
    texts = [s.text for s in evidence_sentences(article)]
    answer_text = " ".join(reply.answer.split())
    if reply.sentence == 0 or not answer_text or not 1 <= reply.sentence <= len(texts):
        return None
    return answer_sentence(texts, reply.sentence, answer_text), answer_text


def check_prompt(
    prompt: RenderedPrompt, reply: str, article: Article, number: int, question: str, answer: str
) -> RenderedPrompt:
    """The answer's conversation, its `reply`, and one more turn asking whether sentence
    `number` answers `question` with `answer` (prompt `verify`). It extends the answer's own
    messages, so a backend that caches prompt prefixes does not read the article again."""
    sentence = evidence_sentences(article)[number - 1].text
    turn = load_prompt("verify").render(number=number, sentence=sentence, question=question, answer=answer)
    messages = [*prompt.messages, {"role": "assistant", "content": reply}, turn.messages[-1]]
    return RenderedPrompt(name=turn.name, version=turn.version, messages=messages)


def check_steps(
    article: Article, question: str, reply: EvidenceAnswer, prompt: RenderedPrompt, written: str, backend: Backend
) -> Steps[tuple[float | None, Usage]]:
    """Steps that check one answer (`QA_VERIFY=on`): the model's probability of "yes" that its
    cited sentence answers `question` with its answer, and what the check cost.

    `prompt` and `written` are the conversation the answer came from and the reply as the
    model wrote it (for a batch, the whole batch's); the check is one more turn of it. None,
    and nothing spent, when the check is off, the reply offers no answer or the check would
    not fit the context; None, with what it cost, when the model gave no usable verdict
    (invalid, cut off or refused). The answer is then judged on its other signals; a
    transport failure is raised as for any call."""
    candidate = candidate_of(article, reply)
    if candidate is None or backend.settings.verify != "on":
        return None, Usage.zero()
    number, answer_text = candidate
    schema = response_schema(Verdict)
    budget = output_budget(schema)
    conversation = check_prompt(prompt, written, article, number, question, answer_text)
    if room_left(backend, conversation, budget) < 0:
        return None, Usage.zero()
    check = StructuredSpec(prompt=conversation, response_model=Verdict, schema=schema, max_tokens=budget, logprobs=True)
    try:
        verdict, spent, completion = yield from structured_reply(check, backend)
    except (OutputValidationError, TruncatedOutputError, RefusalError) as error:
        return None, error.usage or Usage.zero()
    p_yes = yes_probability(completion.logprobs)
    if p_yes is None:  # a backend without logprobs: the verdict itself
        p_yes = 1.0 if verdict.verdict == "yes" else 0.0
    return p_yes, spent


def ground_reply(
    article: Article,
    question: str,
    reply: EvidenceAnswer,
    logprobs: Sequence[TokenLogprob] | None,
    ranking: SentenceScores,
    backend: Backend,
    *,
    nth: int = 0,
    p_verified: float | None = None,
) -> tuple[Answer, Grounding, float | None, AnswerSignals]:
    """Turn a model's reply into a checked `Answer`: cite the sentence, measure, decide.

    `logprobs` are the reply's token log-probabilities (None if the backend gives none);
    `nth` says which reply of a batch this one is; `p_verified` is the answer check's
    probability of "yes", when one was made."""
    texts = [s.text for s in evidence_sentences(article)]
    # The citation goes to the sentence that holds the answer (models miscount numbered lists).
    candidate = candidate_of(article, reply)
    number, answer_text = candidate or (reply.sentence, " ".join(reply.answer.split()))
    signals = measure(
        question, answer_text, number, texts, no_evidence_probability(logprobs, nth=nth), ranking,
        p_sentence=chosen_number_probability(logprobs, nth=nth), answer_logprob=answer_logprob(logprobs, nth=nth),
        answer_logprob_sum=answer_logprob_sum(logprobs, nth=nth), p_verified=p_verified,
        cited=reply.sentence if number != reply.sentence else None,
    )  # fmt: skip
    counts = {"verified": 0, "repaired": 0}
    if candidate is None:
        # An answer whose evidence does not exist is withdrawn by qa (abstained); sentence 0 is the model's own "no".
        withdrawn = reply.sentence != 0 and bool(answer_text)
        nothing = Answer(answer="", status="not_in_article", citations=[])
        return nothing, grounding_report(counts, [], abstained=withdrawn), None, signals
    citation = citation_for(article, number)
    # A citation moved to the sentence that holds the answer counts as repaired, not verified.
    counts["repaired"] = int(number != reply.sentence)
    counts["verified"] = 1 - counts["repaired"]
    calibrator = calibrator_for(backend.model, checked=backend.settings.verify == "on")
    confidence = calibrator.confidence(signals)
    threshold = backend.settings.abstain_threshold
    keep = confidence >= (calibrator.threshold if threshold is None else threshold)
    unsupported = answer_supported(answer_text, [citation.quote]) is False
    span: str | None = None
    if not keep:
        answer = Answer(answer="", status="not_in_article", citations=[])
    else:
        # Signals and the calibration stay on the model's own words; the answer shown is short.
        if backend.settings.short_answers != "off":
            short = short_answer(question, answer_text, texts[number - 1])
            answer_text, span = short.text, short.form
        answer = Answer(answer=answer_text, status="answered", citations=[citation])
    grounding = grounding_report(counts, [], abstained=not keep, unsupported_answer=unsupported, answer_span=span)
    return answer, grounding, round(confidence, 4), signals


def answer_steps(
    article: Article, question: str, backend: Backend, history: Sequence[Turn] = (), *, stream: bool = False
) -> Steps[AnswerResult]:
    """Steps that answer `question`, keeping as much `history` as the context allows."""
    question = check_question(question)
    count = backend.count_tokens
    history = list(history)
    sentences = evidence_sentences(article)
    if not sentences:
        raise InputError("the article has no sentences to answer from")
    ranking = rank_sentences([s.text for s in sentences], question)
    shown: list[int] | None = None
    while True:
        numbers = list(range(1, len(sentences) + 1)) if shown is None else shown
        schema = evidence_schema(numbers)
        budget = output_budget(schema)
        hint = relevance_hint(ranking, numbers)
        prompt = _answer_messages(article, shown, question, hint, history, schema_text(backend, schema))
        spare = room_left(backend, prompt, budget)
        if spare >= 0:
            break
        if history:  # forget the oldest turn first
            history = history[1:]
            continue
        if shown is not None and len(shown) <= 1:
            raise ContextLengthError("the question and the most relevant part of the article do not fit the context")
        # The article is too long: keep the sentences most relevant to the question.
        keep = len(numbers) // 2 if shown is not None else _sentences_that_fit(sentences, ranking, count, spare)
        shown = sorted(ranking.ranked()[: max(1, keep)])
    grammar = None
    if backend.settings.short_answers == "constrained" and backend.takes_grammar and asks_for_fact(question):
        grammar = span_grammar([s.text for s in sentences], numbers)
    spec = StructuredSpec(
        prompt=prompt,
        response_model=EvidenceAnswer,
        schema=schema,
        max_tokens=budget,
        check=lambda r: reply_problems(r, numbers, question),
        logprobs=True,
        grammar=grammar,
    )
    reply, usage, completion = yield from structured_reply(spec, backend, stream=stream)
    p_verified, spent = yield from check_steps(article, question, reply, prompt, completion.content or "", backend)
    usage = usage + spent
    answer, grounding, confidence, signals = ground_reply(
        article, question, reply, completion.logprobs, ranking, backend, p_verified=p_verified
    )
    return AnswerResult(
        question=question,
        answer=answer,
        grounding=grounding,
        usage=usage,
        provenance=provenance(prompt, backend),
        confidence=confidence,
        signals=signals,
    )


def _sentences_that_fit(sentences: Sequence[Sentence], ranking: SentenceScores, count: Any, spare: int) -> int:
    """How many of the best-ranked sentences fit once `-spare` tokens are cut."""
    total = sum(count(s.text) + 4 for s in sentences)
    room = total + spare
    used = 0
    kept = 0
    for n in ranking.ranked():
        used += count(sentences[n - 1].text) + 4
        if used > room:
            break
        kept += 1
    return kept

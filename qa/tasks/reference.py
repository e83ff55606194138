"""The reference arm of an eval: the bare model, asked plainly, no schema and no checks.

What qa adds (evidence-first answers, verified citations, calibrated abstention) is only
worth its cost if it beats the same model asked the obvious way. `bare_answer_steps` asks
that way: the `bare` prompt (the article and the question, "reply unanswerable if the
text does not say"), plain text out, temperature and max tokens as for qa. A reply that
says it cannot answer counts as an abstention; anything else is the answer, as given.
The eval runner scores these answers with the same scorers, beside qa's own
(`reference = "bare"` in a suite).
"""

from __future__ import annotations

import re

from qa.backends.backend import Backend
from qa.core.prompts import load_prompt
from qa.core.structured import ChatRequest, Completion, Steps, usage_of
from qa.errors import BrokenReplyError, QAError
from qa.schemas import Answer, AnswerResult, Grounding
from qa.tasks.common import provenance
from qa.text.article import Article

__all__ = ["BARE_MAX_TOKENS", "bare_answer_steps", "is_abstention"]

BARE_MAX_TOKENS = 48
_ABSTAIN = re.compile(
    r"^\W*(unanswerable|not answerable|no answer|unknown|n/?a)\b|\b(does not|doesn't|do not) (say|mention|state|specify|provide)"
    r"|\bnot (mentioned|stated|specified|provided|given)\b|\bcannot be (answered|determined)\b",
    re.IGNORECASE,
)


def is_abstention(text: str) -> bool:
    """True when a plain reply declines to answer ("unanswerable", "the text does not say", ...)."""
    return not text.strip() or bool(_ABSTAIN.search(text))


def bare_answer_steps(article: Article, question: str, backend: Backend) -> Steps[AnswerResult]:
    """One plain call: the model's answer as it comes, or an abstention when it declines."""
    prompt = load_prompt("bare").render(article=article.text, question=question)
    body = {
        "model": backend.model,
        "messages": prompt.messages,
        "max_tokens": BARE_MAX_TOKENS,
        "temperature": backend.settings.temperature,
    }
    if backend.settings.seed is not None:  # as for qa's own calls: eval repeats are distinct requests
        body["seed"] = backend.settings.seed
    headers = {"x-qa-prompt": prompt.name, "x-qa-prompt-version": prompt.version, "x-qa-backend": backend.kind}
    try:
        completion: Completion = yield ChatRequest(body=body, headers=headers)
    except QAError as error:  # thrown in by the driver, already a qa error
        error.usage = error.usage or usage_of(backend, None)
        raise
    if completion.content is None:
        raise BrokenReplyError("the model sent no text", usage=usage_of(backend, completion))
    text = " ".join(completion.content.strip().split())
    text = text.split(" Question:")[0].strip().strip('"').rstrip(".")
    abstained = is_abstention(text)
    answer = Answer(
        answer="" if abstained else text[:600], status="not_in_article" if abstained else "answered", citations=[]
    )
    grounding = Grounding(
        verified=0, repaired=0, dropped=[], abstained=abstained, unsupported_answer=False, unsupported_key_points=[]
    )
    made_by = provenance(prompt, backend)
    return AnswerResult(
        question=question,
        answer=answer,
        grounding=grounding,
        usage=usage_of(backend, completion),
        provenance=made_by,
    )

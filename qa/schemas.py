"""The shapes a model must produce, and the results `qa` returns.

Response models (`Summary`, `Answer` and their parts) are strict-compatible: every field
required, `X | None` instead of defaults, no dict fields, `extra="forbid"`. `maxLength`
and `maxItems` bound every string and list so runaway output from a small model stops
early instead of running to `max_tokens`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_ANSWER_CHARS",
    "MAX_QUOTE_CHARS",
    "Answer",
    "AnswerResult",
    "AnswerSignals",
    "Citation",
    "DroppedQuote",
    "DroppedStatement",
    "Entity",
    "EvidenceAnswer",
    "Figure",
    "FrozenModel",
    "Grounding",
    "KeyPoint",
    "Provenance",
    "StrictModel",
    "Summary",
    "SummaryResult",
    "Usage",
    "Verdict",
]

ShortText = Annotated[str, Field(max_length=200)]
MAX_QUOTE_CHARS = 400
MAX_ANSWER_CHARS = 200
"""The longest answer an evidence-first reply may give (its schema's maxLength)."""
"""The longest quote a result carries: the schemas' bound, the citations' cut and the summary's clip."""
Quote = Annotated[str, Field(max_length=MAX_QUOTE_CHARS)]


class StrictModel(BaseModel):
    """A model that refuses unknown fields and documents each field with its docstring."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class FrozenModel(StrictModel):
    """A `StrictModel` whose instances cannot change (records, scores, dataset rows)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Citation(StrictModel):
    """A verbatim quote from the article, with its character offsets."""

    quote: Quote
    """Text copied word for word from the article."""
    start: int | None
    """Offset of the quote's first character in the article text, or null if unknown."""
    end: int | None
    """Offset just past the quote's last character, or null if unknown."""


class EvidenceAnswer(StrictModel):
    """The model's reply to one question: the evidence first, then the answer."""

    sentence: int
    """The number of the article sentence that answers the question; 0 if no sentence does."""
    answer: Annotated[str, Field(max_length=MAX_ANSWER_CHARS)]
    """The answer, as short as the question allows; empty when sentence is 0."""


class Verdict(StrictModel):
    """The model's reply to the check of its own answer (`QA_VERIFY`)."""

    verdict: Literal["yes", "no"]
    """Does the cited sentence answer the question with that answer?"""


class Answer(StrictModel):
    """An answer to one question, grounded in quotes from the article."""

    answer: Annotated[str, Field(max_length=600)]
    """The answer in one or two sentences; empty when the article does not say."""
    status: Literal["answered", "not_in_article"]
    """'answered' if the article supports an answer, else 'not_in_article'."""
    citations: Annotated[list[Citation], Field(max_length=4)]
    """Quotes from the article that support the answer; empty when not_in_article."""


class KeyPoint(StrictModel):
    """One key point of the story with the quote that supports it."""

    point: ShortText
    """The key point in one sentence."""
    quote: Quote
    """Text copied word for word from the article that supports the point."""


class Entity(StrictModel):
    """A person, organisation, place or programme the story is about."""

    name: Annotated[str, Field(max_length=80)]
    """The entity's name as the article gives it."""
    type: Literal["person", "organization", "place", "program", "other"]
    """What kind of entity it is."""
    role: Annotated[str, Field(max_length=120)]
    """Its role in the story, in a few words."""


class Figure(StrictModel):
    """An amount, date or count stated in the article."""

    value: Annotated[str, Field(max_length=60)]
    """The figure as written, e.g. '$9.2 billion', '2013', 'more than 150'."""
    kind: Literal["amount", "date", "count", "other"]
    """What kind of figure it is."""
    meaning: Annotated[str, Field(max_length=120)]
    """What the figure refers to, in a few words."""
    quote: Quote
    """Text copied word for word from the article that contains the figure."""


class Summary(StrictModel):
    """A structured summary of one article."""

    headline: Annotated[str, Field(max_length=120)]
    """A neutral headline of at most 15 words."""
    summary: Annotated[str, Field(max_length=300)]
    """The story in one sentence."""
    key_points: Annotated[list[KeyPoint], Field(min_length=3, max_length=7)]
    """Three to seven key points, each with a supporting quote."""
    entities: Annotated[list[Entity], Field(max_length=8)]
    """The main people, organisations and places."""
    figures: Annotated[list[Figure], Field(max_length=8)]
    """Amounts, dates and counts the story states."""


class Usage(StrictModel):
    """Tokens (and cost, where the price is known) summed over every attempt."""

    prompt_tokens: int
    """Tokens sent, over all attempts."""
    completion_tokens: int
    """Tokens generated, over all attempts."""
    total_tokens: int
    """prompt_tokens + completion_tokens."""
    attempts: int
    """Model calls made, including re-asks."""
    cost_usd: float | None
    """Estimated cost in US dollars, or null when the model's price is unknown."""

    @classmethod
    def zero(cls) -> Usage:
        return cls(prompt_tokens=0, completion_tokens=0, total_tokens=0, attempts=0, cost_usd=None)

    def __add__(self, other: Usage) -> Usage:
        cost = None
        if self.cost_usd is not None or other.cost_usd is not None:
            cost = (self.cost_usd or 0.0) + (other.cost_usd or 0.0)
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            attempts=self.attempts + other.attempts,
            cost_usd=cost,
        )


class DroppedQuote(StrictModel):
    """A quote the model gave that could not be found in the article."""

    quote: str
    """The quote as the model gave it."""
    where: str
    """Where it appeared, e.g. 'citations[1]' or 'key_points[2].quote'."""


class Grounding(StrictModel):
    """What the citation check found after a call."""

    verified: int
    """Quotes found verbatim at the offsets the model gave."""
    repaired: int
    """Quotes found elsewhere or after normalising whitespace and quote marks; offsets fixed."""
    dropped: list[DroppedQuote]
    """Quotes not found in the article, removed from the result."""
    abstained: bool
    """True when an answer was turned into 'not_in_article': nothing verified, or it was unsupported."""
    unsupported_answer: bool
    """True when the answer shared no content word with its verified quotes (see `qa.text.support`)."""
    unsupported_key_points: list[int]
    """Indexes of summary key points whose quote did not verify."""
    answer_span: Literal["verified", "repaired", "free"] | None = None
    """How a kept answer's words relate to its cited sentence (see `qa.text.spans`): 'verified',
    they are the sentence's own; 'repaired', replaced by the shortest part of the sentence that
    holds them; 'free', the model's words (a why or how answer, or words the sentence lacks).
    None for no answer, or with short answers off."""


class Provenance(StrictModel):
    """Where a result came from: the prompt, its version, the backend and model."""

    prompt: str
    """Prompt template name."""
    prompt_version: str
    """Template version and content hash, e.g. '3+1a2b3c4d'."""
    backend: str
    """Backend kind: 'embedded', 'openai', 'llamacpp', ..."""
    model: str
    """Model name as the backend knows it."""
    structured_mode: str = ""
    """How structured output was asked for: 'json_schema', 'json_object_schema', 'grammar' or
    'json_object' (schema in the prompt); negotiated with servers (`qa.backends.negotiate`). Set by
    `qa.backends.driver` when the result is returned; empty only on a Provenance built by hand."""


class AnswerSignals(BaseModel):
    """What was measured about one answer before deciding whether to keep it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    sentence: int
    """The sentence number cited (0: the model said no sentence answers): the model's own, or
    the nearest sentence that holds the answer when the model's does not (see `cited`)."""
    candidate: str
    """The model's answer before the abstention decision (kept even when abstaining)."""
    p_none: float | None
    """The model's probability that no sentence answers, or None without logprobs."""
    retrieval: float
    """BM25 score of the cited sentence over the best sentence's score (0 to 1)."""
    rank: int
    """Rank of the cited sentence by BM25 (1 = best match)."""
    question_overlap: float
    """Share of the question's content words in the cited sentence and its neighbours."""
    question_unseen: float = 0.0
    """Share of the question's content words the article never uses (a question about something else)."""
    answer_support: float
    """Share of the answer's content words in the cited sentence."""
    type_fit: int
    """1: the answer has the shape the question asks for; -1: it does not; 0: cannot tell."""
    question_echo: bool = False
    """The answer only repeats words of the question ("Colombia" for "Who is Colombia's largest partner?")."""
    p_sentence: float | None = None
    """The model's probability of the first digit of the sentence number it wrote (None without logprobs)."""
    answer_logprob: float | None = None
    """Mean log-probability of the answer's tokens (None without logprobs)."""
    answer_logprob_sum: float | None = None
    """Total log-probability of the answer's tokens: the whole answer's (None without logprobs)."""
    p_verified: float | None = None
    """The model's probability of "yes" when asked, in a second call, whether the cited sentence
    answers the question with this answer (None when the check was not made)."""
    cited: int | None = None
    """The sentence number the model wrote, when qa moved the citation to the nearest sentence
    that holds the answer (`sentence` is then the one cited); None when it was not moved."""


class AnswerResult(StrictModel):
    """What `qa.ask` returns: the grounded answer and everything needed to trust it."""

    question: str
    """The question as asked."""
    answer: Answer
    """The answer after citation checks (unverified quotes removed, offsets repaired)."""
    grounding: Grounding
    """What the citation check found."""
    usage: Usage
    """Tokens and attempts summed over every model call made for this answer."""
    provenance: Provenance
    """Prompt, version, backend and model that produced it."""
    confidence: float | None = None
    """Estimated probability that the answer is right (`qa.tasks.abstention`); None when not measured."""
    signals: AnswerSignals | None = None
    """What was measured to decide between answering and abstaining, the model's own answer included."""


class DroppedStatement(StrictModel):
    """A statement the model wrote that its evidence does not support: not shown, replaced or left out."""

    where: str
    """Which statement: 'headline', 'summary' or 'key_points[i]'."""
    text: str
    """The statement as the model wrote it."""
    reasons: list[str]
    """Why it was dropped (numbers or names not in its evidence, too few of its words there, debris)."""


class SummaryResult(StrictModel):
    """What `qa.summarize` returns: the summary and everything needed to trust it."""

    summary: Summary
    """The summary after quote checks (key points keep their quote; see grounding)."""
    grounding: Grounding
    """What the quote check found; unsupported key points are listed there."""
    usage: Usage
    """Tokens and attempts summed over every model call."""
    provenance: Provenance
    """Prompt, version, backend and model that produced it."""
    supported_statements: int | None = None
    """Statements the model wrote that passed the evidence checks (None for older results)."""
    dropped_statements: list[DroppedStatement] = []
    """Statements the model wrote that failed them: replaced by their evidence sentence, or left out."""
    mode: Literal["write", "extract"] | None = None
    """'write': the model wrote the statements; 'extract': every statement is a compressed article sentence."""

"""Summaries: extract the key sentences, then write each key point from its own sentence.

1. Extract (no model): `qa.text.extract.key_sentences` picks the sentences the summary must
   cover (the lead, then what adds the most central vocabulary per word, no near-duplicates,
   no subheadings): at most 3 for `brief`, 5 for `standard`, 7 for `bullets` (one more
   when an extractive summary says the lead as its summary), so that the whole summary
   keeps within `WORD_BUDGET` words.
2. Write (one call): the model sees the article as numbered sentences (the very block
   answers use, so a model that caches prefixes reuses it) and writes one key point per
   key sentence (the schema pins each point to its sentence number, in order), then a
   one-sentence summary and a headline.
3. Check: every statement is checked against its evidence (`qa.text.statements`: numbers,
   names, words; no JSON debris). A reply with problems is re-asked once with them; what
   is still unsupported is dropped and reported in `dropped_statements`, never shown as
   verified, and replaced by the compressed evidence sentence itself (extractive), so a
   summary keeps one point per key sentence.
4. Entities and figures are extracted, not written (`qa.text.extract`): names that occur in the
   article, figures as written in their sentence, each with the sentence it comes from. A
   figure the headline, summary or key points already give is not listed again.

`mode="extract"` skips step 2: every statement is a compressed article sentence (no model
call at all), for models too weak to rewrite. An article too long for the context shows
the model only its key sentences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field

from qa.backends.backend import Backend
from qa.core.constraints import output_budget, response_schema
from qa.core.prompts import load_prompt
from qa.core.structured import Steps, StructuredSpec, structured_call
from qa.errors import ContextLengthError, InputError
from qa.schemas import (
    MAX_QUOTE_CHARS,
    DroppedStatement,
    Entity,
    Figure,
    KeyPoint,
    Provenance,
    StrictModel,
    Summary,
    SummaryResult,
    Usage,
)
from qa.tasks.common import Style, room_left, schema_text
from qa.tasks.evidence import evidence_sentences, numbered_block
from qa.text.article import Article, Sentence
from qa.text.extract import compress, find_entities, find_figures, key_sentences
from qa.text.grounding import grounding_report
from qa.text.statements import statement_problems
from qa.text.support import content_terms

__all__ = ["KEY_SENTENCES", "SummaryDraft", "SummaryMode", "extractive_summary", "summary_steps"]

SummaryMode = Literal["write", "extract"]
KEY_SENTENCES = {"brief": 3, "standard": 5, "bullets": 7}
WORD_BUDGET = {"brief": 70, "standard": 170, "bullets": 250}
"""Most words a summary of each style may have, counted as the evals count them: headline,
summary, key points and figures ('meaning: value'). The article's headline and standfirst
come first, the key sentences (compressed) share what is left, and figures fill the rest
(at least three key points are kept even when their sentences overrun it). `brief` is about
as long as an article's first three sentences (lead-3 of news runs 70 to 90 words);
`standard` keeps the seed's 21 key facts at 0.6 (BENCHMARKS.md: no choice of sentences
reaches that in under 111 words)."""
FIGURES = {"brief": 3, "standard": 5, "bullets": 8}


class DraftPoint(StrictModel):
    """One key point, written from one article sentence."""

    sentence: int
    """The number of the article sentence the point is written from."""
    point: Annotated[str, Field(max_length=160)]
    """What that sentence says, in fewer words, with only its facts."""


class SummaryDraft(StrictModel):
    """What the model writes: key points first (from their sentences), then summary and headline."""

    key_points: list[DraftPoint]
    """One point per key sentence, in the order given."""
    summary: Annotated[str, Field(max_length=240)]
    """The story in one sentence, from the key points."""
    headline: Annotated[str, Field(max_length=100)]
    """A neutral headline of at most 12 words."""


def _draft_schema(numbers: Sequence[int]) -> dict[str, Any]:
    schema = response_schema(SummaryDraft)
    points = schema["properties"]["key_points"]
    entry = points.pop("items")
    if "$ref" in entry:
        entry = schema["$defs"][entry["$ref"].rsplit("/", 1)[-1]]
    pinned = []
    for number in numbers:
        item = {**entry, "properties": {**entry["properties"], "sentence": {"type": "integer", "const": number}}}
        pinned.append(item)
    points["prefixItems"] = pinned
    points["minItems"] = points["maxItems"] = len(numbers)
    return schema


def _key_numbers(article: Article, sentences: Sequence[Sentence], style: Style, *, extract: bool = False) -> list[int]:
    """The key sentences for `style`. An extractive summary of an article without a standfirst
    says its first key sentence as the summary, so it needs one more for three key points."""
    given = _given(article)
    standfirst = len(given) > 1
    headline_words = len(given[0].split()) if given else 12  # no headline: the fallback takes 12 words
    budget = WORD_BUDGET[style] - headline_words - sum(len(text.split()) for text in given[1:])
    least = 4 if extract and not standfirst else 3
    numbers = key_sentences(
        sentences,
        max(KEY_SENTENCES[style], least),
        budget,
        skip=_subheadings(article, sentences),
        least=least,
        given=given if standfirst else (),
    )
    if not numbers:
        numbers = list(range(1, min(len(sentences), KEY_SENTENCES[style]) + 1))
    return numbers


def _given(article: Article) -> list[str]:
    """The headline and standfirst a summary of `article` shows as they are: [] without a headline,
    [headline] without a standfirst (see `_headline_fallback` and `_summary_fallback`)."""
    heads = [s.text for s in article.sentences(("headline",)) if len(s.text) <= 120][:1]
    firsts = [s.text for s in article.sentences(("standfirst",)) if len(s.text) <= 300][:1]
    return heads + firsts if heads else []


def _subheadings(article: Article, sentences: Sequence[Sentence]) -> frozenset[int]:
    """Numbers of the sentences that are subheadings (fragments such as "'$9.2 billion in credit'")."""
    kinds = {p.index: p.kind for p in article.paragraphs}
    return frozenset(n for n, s in enumerate(sentences, 1) if kinds.get(s.paragraph) == "subheading")


def _figure_order(article: Article, sentences: Sequence[Sentence], numbers: Sequence[int]) -> list[int]:
    """Where to look for figures: the key sentences, then the other body sentences, subheadings last."""
    headings = _subheadings(article, sentences)
    rest = [n for n in range(1, len(sentences) + 1) if n not in numbers]
    return [*numbers, *(n for n in rest if n not in headings), *(n for n in rest if n in headings)]


def _neighbours(sentences: Sequence[Sentence], number: int) -> list[str]:
    return [sentences[n - 1].text for n in (number - 1, number, number + 1) if 1 <= n <= len(sentences)]


class _Checker:
    """The statement checks of one summary: key points against their sentence, the rest against all key sentences."""

    def __init__(
        self,
        article: Article,
        sentences: Sequence[Sentence],
        numbers: Sequence[int],
        lang: str | None,
        figures: int = 5,
        words: int | None = None,
    ):
        self.article, self.sentences, self.numbers, self.lexical = article, sentences, list(numbers), not lang
        self.figures, self.words = figures, words
        heads = [s.text for s in article.sentences(("headline", "standfirst"))]
        self.overall = heads + [sentences[n - 1].text for n in numbers]

    def point(self, number: int, text: str) -> list[str]:
        cut = _cut_off(text, 160)
        return cut + statement_problems(
            text, _neighbours(self.sentences, number), self.article.text, lexical=self.lexical
        )

    def whole(self, text: str, limit: int = 240) -> list[str]:
        return _cut_off(text, limit) + statement_problems(text, self.overall, self.article.text, lexical=self.lexical)

    def problems(self, draft: SummaryDraft) -> list[str]:
        out = []
        for i, point in enumerate(draft.key_points):
            out += [
                f"key point {i + 1} (sentence {point.sentence}): {p}" for p in self.point(point.sentence, point.point)
            ]
        out += [f"summary: {p}" for p in self.whole(draft.summary)]
        out += [f"headline: {p}" for p in self.whole(draft.headline, 100)]
        return out


def _cut_off(text: str, limit: int) -> list[str]:
    """A statement that runs to the schema's length limit was cut off mid-sentence by it."""
    return [f"it was cut off at the {limit}-character limit: write it shorter"] if len(text) >= limit - 2 else []


def _headline_fallback(article: Article, sentences: Sequence[Sentence], numbers: Sequence[int]) -> str:
    for s in article.sentences(("headline",)):
        if len(s.text) <= 120:
            return s.text
    words = compress(sentences[numbers[0] - 1].text).split()
    return " ".join(words[:12]).rstrip(",;:") + ("..." if len(words) > 12 else "")


def _summary_fallback(article: Article, sentences: Sequence[Sentence], numbers: Sequence[int]) -> str:
    """The article's own standfirst when it has one (its author's summary), else its first key sentence."""
    for s in article.sentences(("standfirst",)):
        if len(s.text) <= 300:
            return s.text
    return compress(sentences[numbers[0] - 1].text)


def _key(text: str) -> str:
    """`text` lower-cased with punctuation folded: two statements with the same key say the same."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."


def _assemble(
    article: Article,
    sentences: Sequence[Sentence],
    numbers: Sequence[int],
    draft: SummaryDraft | None,
    checker: _Checker,
) -> tuple[Summary, list[DroppedStatement], int]:
    """The summary from a checked draft (or none: extractive), with what was dropped and why."""
    dropped: list[DroppedStatement] = []
    supported = 0
    points: list[KeyPoint] = []
    seen: set[str] = set()
    written = {p.sentence: p.point for p in draft.key_points} if draft else {}
    for i, number in enumerate(numbers):
        quote = sentences[number - 1].text
        text = " ".join(written.get(number, "").split())
        problems = checker.point(number, text) if draft else []
        if draft and not problems:
            supported += 1
        else:
            if draft:
                dropped.append(DroppedStatement(where=f"key_points[{i}]", text=text, reasons=problems))
            text = compress(quote)
        key = _key(text)
        if key in seen:
            continue
        seen.add(key)
        points.append(KeyPoint(point=_clip(text, 200), quote=_clip(quote, MAX_QUOTE_CHARS)))
    headline = _headline_fallback(article, sentences, numbers)
    summary_text = _summary_fallback(article, sentences, numbers)
    if draft:
        for where, text, limit in (("headline", draft.headline, 100), ("summary", draft.summary, 240)):
            text = " ".join(text.split())
            problems = checker.whole(text, limit)
            if problems:
                dropped.append(DroppedStatement(where=where, text=text, reasons=problems))
                continue
            supported += 1
            if where == "headline":
                headline = text
            else:
                summary_text = text
    # The summary is not said twice: a key point that repeats it (the lead sentence, when the
    # article has no standfirst) gives way to the next sentence. Its quote is compared too: a
    # point clipped to 200 characters no longer equals the summary it repeats.
    taken = {_key(summary_text)}
    points = [p for p in points if _key(p.point) not in taken and _key(compress(p.quote)) not in taken]
    taken |= {_key(p.point) for p in points}
    while len(points) < 3:  # a Summary has at least three key points: add the next sentences
        extra = next(
            (s for s in sentences if len(content_terms(s.text)) >= 3 and _key(compress(s.text)) not in taken), None
        )
        if extra is None:
            break
        taken.add(_key(compress(extra.text)))
        points.append(KeyPoint(point=_clip(compress(extra.text), 200), quote=_clip(extra.text, MAX_QUOTE_CHARS)))
    entities = [Entity(name=e.name[:80], type=e.type, role=_clip(e.role, 120)) for e in find_entities(sentences)]
    stated = " ".join([headline, summary_text, *(p.point for p in points)])
    order = _figure_order(article, sentences, numbers)
    room = None if checker.words is None else checker.words - len(stated.split())
    figures = _new_figures(sentences, order, stated, checker.figures, room)
    summary = Summary(
        headline=_clip(headline, 120),
        summary=_clip(summary_text, 300),
        key_points=points[:7],
        entities=entities[:8],
        figures=figures[:8],
    )
    return summary, dropped, supported


def _new_figures(
    sentences: Sequence[Sentence], order: Sequence[int], stated: str, limit: int, words: int | None
) -> list[Figure]:
    """At most `limit` figures from sentences `order` that say something the summary's statements
    (`stated`) do not (a value they already give, or one whose meaning names nothing, "mi: 160"
    or "–1763: 1754", would only repeat or pad), in at most `words` words ('meaning: value')."""
    said = stated.lower()
    room = 10**9 if words is None else words
    out: list[Figure] = []
    for f in find_figures(sentences, order, limit=4 * len(sentences)):
        if len(out) >= limit:
            break
        if f.value.lower() in said or not any(term[0].isalpha() for term in content_terms(f.meaning)):
            continue
        size = len(f"{f.meaning}: {f.value}".split())
        if size > room:
            continue
        room -= size
        quote = _clip(sentences[f.sentence - 1].text, MAX_QUOTE_CHARS)
        out.append(Figure(value=f.value, kind=f.kind, meaning=_clip(f.meaning, 120), quote=quote))
    return out


def _plan(article: Article, style: Style, lang: str | None, *, extract: bool) -> _Checker:
    """The key sentences of `article` for `style`, with the checks its statements get."""
    sentences = evidence_sentences(article)
    numbers = _key_numbers(article, sentences, style, extract=extract)
    return _Checker(article, sentences, numbers, lang, FIGURES[style], WORD_BUDGET[style])


def extractive_summary(article: Article, *, style: Style = "standard") -> SummaryResult:
    """A summary made only of the article's own (compressed) sentences: no model call."""
    return _finish(_plan(article, style, None, extract=True), None, Usage.zero(), None)


def _finish(
    checker: _Checker, draft: SummaryDraft | None, usage: Usage, provenance: Provenance | None
) -> SummaryResult:
    summary, dropped, supported = _assemble(checker.article, checker.sentences, checker.numbers, draft, checker)
    quotes = len(summary.key_points) + len(summary.figures)
    grounding = grounding_report({"verified": quotes, "repaired": 0}, [])
    return SummaryResult(
        summary=summary,
        grounding=grounding,
        usage=usage,
        provenance=provenance or Provenance(prompt="extract", prompt_version="1", backend="none", model="none"),
        supported_statements=supported,
        dropped_statements=dropped,
        mode="write" if draft else "extract",
    )


def summary_steps(
    article: Article,
    backend: Backend,
    *,
    style: Style = "standard",
    lang: str | None = None,
    mode: SummaryMode | None = None,
) -> Steps[SummaryResult]:
    """Steps that summarize `article`: extract the key sentences, then write from them (see the module)."""
    if style not in KEY_SENTENCES:
        raise InputError(f"unknown summary style {style!r}: use brief, standard or bullets")
    mode = mode or backend.summary_mode
    checker = _plan(article, style, lang, extract=mode == "extract")
    sentences, numbers = checker.sentences, checker.numbers
    if not sentences:
        raise InputError("the article has no sentences to summarize")
    if mode == "extract":
        provenance = Provenance(prompt="extract", prompt_version="1", backend=backend.kind, model=backend.model)
        free = Usage.zero().model_copy(update={"cost_usd": 0.0})  # no call: it cost nothing, on any backend
        return _finish(checker, None, free, provenance)
    schema = _draft_schema(numbers)
    budget = output_budget(schema)
    template = load_prompt("summarize")
    hint = ", ".join(f"[{n}]" for n in numbers)
    shown: list[int] | None = None
    while True:
        prompt = template.render(
            article_block=numbered_block(article, shown), key_sentences=hint, style=style, lang=lang or "",
            schema=schema_text(backend, schema),
        )  # fmt: skip
        if room_left(backend, prompt, budget) >= 0:
            break
        if shown is not None:
            raise ContextLengthError("even the key sentences of this article do not fit the model's context")
        shown = sorted({m for n in numbers for m in (n - 1, n, n + 1) if 1 <= m <= len(sentences)})
    spec = StructuredSpec(
        prompt=prompt, response_model=SummaryDraft, schema=schema, max_tokens=budget, check=checker.problems
    )
    draft, usage = yield from structured_call(spec, backend)
    provenance = Provenance(
        prompt=prompt.name, prompt_version=prompt.version, backend=backend.kind, model=backend.model
    )
    return _finish(checker, draft, usage, provenance)

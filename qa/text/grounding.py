"""Citation verifier: find each quote a model gave in the article and fix its offsets.

Every quote that survives satisfies `text[start:end] == quote`. A quote is looked up in
this order, and the first hit wins:

1. exactly at the offsets the model gave                         -> "verified"
2. exactly elsewhere (nearest to the given start)                -> "repaired"
3. after folding whitespace, quote marks, dashes and NFKC        -> "repaired"
4. 2-3 again with wrapping quote marks and "..." stripped        -> "repaired"
5. 3-4 again ignoring case                                       -> "repaired"

A repaired quote is replaced by the exact span of the original text. Quotes with fewer
than three non-space characters never match. The article's folded form is built only
when some quote is not found verbatim, then reused for the other quotes (and, through a
two-entry cache, by the next calls about the same article).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Literal, NamedTuple

from qa.schemas import Answer, Citation, DroppedQuote, Figure, Grounding, KeyPoint, Summary
from qa.text.support import answer_supported

__all__ = ["grounding_report", "locate_quote", "normalize_for_match", "verify_answer", "verify_summary"]

MIN_QUOTE_CHARS = 3
"""Quotes with fewer non-space characters than this are too ambiguous to match."""

Status = Literal["verified", "repaired"]
Span = tuple[int, int]

# Applied before NFKC (which turns U+2033 into two primes) and again after it.
_FOLD = str.maketrans(
    dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2039\u203a", "'")
    | dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"')
    | dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-")
    | dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", None)  # invisible: dropped
)
_WRAPPERS = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033\u00ab\u00bb"
_ASCII_CHUNK = re.compile(r"[\x00-\x7f]+")
_OTHER_CHUNK = re.compile(r"[^\x00-\x7f]+")
_COLLAPSE = re.compile(r"\s{2,}|[^\S ]")  # whitespace that is not already a lone " "
_ELLIPSIS_HEAD = re.compile(r"^\[?(?:\.\.\.|\u2026)\]?")
_ELLIPSIS_TAIL = re.compile(r"\[?(?:\.\.\.|\u2026)\]?$")
# The schemas' maxLength for quotes, so a repaired span never fails validation.
_MAX_QUOTE: int = next(m.max_length for m in Citation.model_fields["quote"].metadata if hasattr(m, "max_length"))


class _Folded(NamedTuple):
    text: str
    starts: list[int]  # folded index -> index of its source character(s) in the original
    ends: list[int]  # folded index -> index just past its source character(s)


class _Builder:
    """Collects folded characters with their source spans, one space per whitespace run."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.after_space = True  # True at the start too, so leading whitespace is dropped

    def space(self, start: int, end: int) -> None:
        if not self.after_space:
            self.pieces.append(" ")
            self.starts.append(start)
            self.ends.append(end)
            self.after_space = True
        elif self.starts:
            self.ends[-1] = end  # the previous space now covers this run too

    def ascii(self, text: str, start: int, end: int) -> None:
        """Copy ASCII text whose only whitespace is lone " " characters."""
        if start < end and text[start] == " ":
            self.space(start, start + 1)
            start += 1
        trailing = start < end and text[end - 1] == " "
        end -= trailing
        if start < end:
            self.pieces.append(text[start:end])
            self.starts.extend(range(start, end))
            self.ends.extend(range(start + 1, end + 1))
            self.after_space = False
        if trailing:
            self.space(end, end + 1)

    def other(self, text: str, start: int, end: int) -> None:
        """Fold one character with its combining marks."""
        source = text[start:end].translate(_FOLD)
        folded = unicodedata.normalize("NFKC", source).translate(_FOLD)
        if any(char.isspace() for char in folded):  # spacing accents: NFKC("¸") == " \u0327"
            folded = unicodedata.normalize("NFC", source)
        for char in folded:
            if char.isspace():
                self.space(start, end)
            else:
                self.pieces.append(char)
                self.starts.append(start)
                self.ends.append(end)
                self.after_space = False


def _is_mark(char: str) -> bool:
    return unicodedata.category(char)[0] == "M"


def _fold(text: str) -> _Folded:
    out = _Builder()
    pos, size = 0, len(text)
    while pos < size:
        chunk = _ASCII_CHUNK.match(text, pos)
        if chunk is not None:  # fast path: only whitespace runs need work
            stop = chunk.end()
            if stop < size and _is_mark(text[stop]) and not text[stop - 1].isspace():
                stop -= 1  # this ASCII letter carries combining marks: fold it below
            for run in _COLLAPSE.finditer(text, pos, stop):
                out.ascii(text, pos, run.start())
                out.space(run.start(), run.end())
                pos = run.end()
            out.ascii(text, pos, stop)
            pos = stop
        chunk = _OTHER_CHUNK.match(text, pos)
        stop = chunk.end() if chunk is not None else min(pos + 1, size)
        while pos < stop:
            after = pos + 1
            if text[pos].isspace():  # a mark after whitespace stands alone, as in a quote
                out.space(pos, after)
            else:
                while after < size and _is_mark(text[after]):
                    after += 1
                out.other(text, pos, after)
            pos = after
    if out.after_space and out.starts:  # trailing whitespace
        del out.pieces[-1], out.starts[-1], out.ends[-1]
    return _Folded("".join(out.pieces), out.starts, out.ends)


# Callers such as a re-ask validator check quotes one `locate_quote` at a time against the
# same article: remember the last few folded articles (never handed out, never mutated).
_fold_article = functools.lru_cache(maxsize=2)(_fold)


def normalize_for_match(text: str) -> tuple[str, list[int]]:
    """Fold `text` for matching; return it with a map from folded to original indexes.

    Whitespace runs become one space, curly quotes and primes become ' and ", dashes
    become "-", invisible characters (soft hyphen, zero-width) are dropped, the rest is
    NFKC (per character with its combining marks), and the result is stripped.
    `mapping[i]` is the index in `text` of the character that produced folded char `i`.
    """
    folded = _fold(text)
    return folded.text, folded.starts


def _lower(text: str) -> str:
    """Lower-case without changing the length, so folded indexes stay valid."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _long_enough(quote: str) -> bool:
    return sum(not c.isspace() for c in quote) >= MIN_QUOTE_CHARS


def _unwrap(quote: str) -> str:
    """Strip the quote marks and "..." a model puts around a quote."""
    previous = None
    while previous != quote:
        previous = quote
        quote = _ELLIPSIS_TAIL.sub("", _ELLIPSIS_HEAD.sub("", quote.strip().strip(_WRAPPERS)))
    return quote


def _nearest(hits: list[Span], near: int | None) -> Span | None:
    if not hits:
        return None
    return hits[0] if near is None else min(hits, key=lambda hit: abs(hit[0] - near))


class _Article:
    """An article whose folded forms are built on first use, then reused for every quote."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._folded: _Folded | None = None
        self._lowered: str | None = None

    @property
    def folded(self) -> _Folded:
        if self._folded is None:
            self._folded = _fold_article(self.text)
        return self._folded

    @property
    def lowered(self) -> str:
        if self._lowered is None:
            self._lowered = _lower(self.folded.text)
        return self._lowered

    def _exact(self, quote: str, near: int | None) -> Span | None:
        hits: list[Span] = []
        pos = self.text.find(quote)
        while pos != -1:
            hits.append((pos, pos + len(quote)))
            if near is None or pos >= near:  # later hits are only further away
                break
            pos = self.text.find(quote, pos + 1)
        return _nearest(hits, near)

    def _fuzzy(self, quote: str, near: int | None, ignore_case: bool) -> Span | None:
        folded, needle = self.folded, _fold(quote).text
        haystack = self.lowered if ignore_case else folded.text
        needle = _lower(needle) if ignore_case else needle
        hits: list[Span] = []
        pos = haystack.find(needle) if needle else -1
        while pos != -1:
            last = pos + len(needle) - 1
            # Skip hits that start or end inside one source character ("ive" in "ﬁve").
            if (pos == 0 or folded.starts[pos - 1] != folded.starts[pos]) and (
                last + 1 == len(haystack) or folded.ends[last + 1] != folded.ends[last]
            ):
                start, end = folded.starts[pos], folded.ends[last]
                while start < end and self.text[start].isspace():
                    start += 1
                while end > start and self.text[end - 1].isspace():
                    end -= 1
                if start < end:
                    hits.append((start, end))
                    if near is None or start >= near:
                        break
            pos = haystack.find(needle, pos + 1)
        return _nearest(hits, near)

    def locate(self, quote: str, start: int | None, end: int | None) -> tuple[int, int, Status] | None:
        """See `locate_quote`."""
        if (
            start is not None and end is not None and 0 <= start < end <= len(self.text)
            and self.text[start:end] == quote and _long_enough(quote)
        ):  # fmt: skip
            return start, end, "verified"
        unwrapped = _unwrap(quote)
        variants = [quote] if unwrapped == quote.strip() else [quote, unwrapped]
        variants = [variant for variant in variants if _long_enough(variant)]
        for variant in variants:
            span = self._exact(variant, start)
            if span is None and variant.strip() != variant:
                span = self._exact(variant.strip(), start)
            span = span or self._fuzzy(variant, start, ignore_case=False)
            if span is not None:
                return span[0], span[1], "repaired"
        for variant in variants:
            span = self._fuzzy(variant, start, ignore_case=True)
            if span is not None:
                return span[0], span[1], "repaired"
        return None

    def quote_at(self, start: int, end: int) -> tuple[str, int, int]:
        """The exact text at [start, end), cut to the schemas' quote length limit."""
        if end - start > _MAX_QUOTE:
            end = start + _MAX_QUOTE
            while end > start + 1 and self.text[end - 1].isspace():
                end -= 1
        return self.text[start:end], start, end


def locate_quote(text: str, quote: str, start: int | None, end: int | None) -> tuple[int, int, Status] | None:
    """Find `quote` in `text`; return its true `(start, end, how)`, or None.

    `how` is "verified" when `text[start:end] == quote` already, else "repaired": found
    elsewhere (the hit nearest to `start`), or after folding whitespace, quote marks and
    dashes, stripping wrapping quote marks and "...", and last ignoring case. A returned
    span always satisfies `0 <= start < end <= len(text)`.
    """
    return _Article(text).locate(quote, start, end)


def grounding_report(counts: dict[str, int], dropped: list[DroppedQuote], **rest: object) -> Grounding:
    return Grounding.model_validate(
        {"verified": counts["verified"], "repaired": counts["repaired"], "dropped": dropped}
        | {"abstained": False, "unsupported_answer": False, "unsupported_key_points": []}
        | rest
    )


def verify_answer(text: str, answer: Answer) -> tuple[Answer, Grounding]:
    """Check an answer's citations against the article; return a new Answer and a report.

    Kept citations carry the exact article span as their quote; citations resolving to
    the same span are collapsed and counted once. Unfindable quotes are dropped. An
    "answered" answer left with no citation becomes "not_in_article" with an empty answer
    (abstained=True). A "not_in_article" answer is an abstention: its text and citations
    are cleared (the citations are not counted as dropped), so nothing unsupported is shown.
    """
    counts = {"verified": 0, "repaired": 0}
    if answer.status == "not_in_article":
        return Answer(answer="", status="not_in_article", citations=[]), grounding_report(counts, [])
    article = _Article(text)
    citations: dict[Span, Citation] = {}
    dropped: list[DroppedQuote] = []
    for index, citation in enumerate(answer.citations):
        found = article.locate(citation.quote, citation.start, citation.end)
        if found is None:
            dropped.append(DroppedQuote(quote=citation.quote, where=f"citations[{index}]"))
            continue
        quote, start, end = article.quote_at(found[0], found[1])
        if (start, end) not in citations:
            counts[found[2]] += 1
            citations[start, end] = Citation(quote=quote, start=start, end=end)
    # Verified quotes that share nothing with the answer do not support it (e.g. an injected "PWNED").
    unsupported = bool(citations) and answer_supported(answer.answer, [c.quote for c in citations.values()]) is False
    abstained = not citations or unsupported
    result = Answer(
        answer="" if abstained else answer.answer,
        status="not_in_article" if abstained else "answered",
        citations=[] if abstained else list(citations.values()),
    )
    return result, grounding_report(counts, dropped, abstained=abstained, unsupported_answer=unsupported)


def _check_offsetless(article: _Article, quote: str, counts: dict[str, int]) -> str | None:
    """Locate a quote given without offsets; a verbatim find counts as verified."""
    found = article.locate(quote, None, None)
    if found is None:
        return None
    span = article.quote_at(found[0], found[1])[0]
    counts["verified" if span == quote else "repaired"] += 1
    return span


def verify_summary(text: str, summary: Summary) -> tuple[Summary, Grounding]:
    """Check a summary's quotes against the article; return a new Summary and a report.

    Summary quotes carry no offsets: one found verbatim counts as verified, any other find
    as repaired and is replaced by the exact article span. Key points always stay (a
    summary needs three): an unfindable quote is kept as given, its index listed in
    `unsupported_key_points` and the quote in `dropped`. Figures whose quote cannot be
    found are removed and reported in `dropped`.
    """
    article = _Article(text)
    counts = {"verified": 0, "repaired": 0}
    dropped: list[DroppedQuote] = []
    unsupported: list[int] = []
    key_points: list[KeyPoint] = []
    for index, point in enumerate(summary.key_points):
        quote = _check_offsetless(article, point.quote, counts)
        if quote is None:
            unsupported.append(index)
            dropped.append(DroppedQuote(quote=point.quote, where=f"key_points[{index}].quote"))
        key_points.append(KeyPoint(point=point.point, quote=quote or point.quote))
    figures: list[Figure] = []
    for index, figure in enumerate(summary.figures):
        quote = _check_offsetless(article, figure.quote, counts)
        if quote is None:
            dropped.append(DroppedQuote(quote=figure.quote, where=f"figures[{index}].quote"))
        else:
            figures.append(figure.model_copy(update={"quote": quote}))
    # The validating constructor, not model_copy(update=...) or model_construct: both skip
    # validation, and model_copy would share the input's lists. It cannot fail for a valid
    # input: key points are never removed (min_length=3 holds), figures only shrink, and
    # quotes are capped to the schemas' max length by `_Article.quote_at`.
    result = Summary(
        headline=summary.headline,
        summary=summary.summary,
        key_points=key_points,
        entities=[entity.model_copy() for entity in summary.entities],
        figures=figures,
    )
    return result, grounding_report(counts, dropped, unsupported_key_points=unsupported)

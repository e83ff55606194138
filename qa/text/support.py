"""Does an answer say something its quotes say? A cheap lexical check.

A verified quote proves the quote is in the article, not that it supports the answer: a
model can cite a real sentence next to an unrelated or injected answer ("PWNED"). The
check here asks only that some content word of the answer appear in its quotes. Answers
made only of numbers and units ("12 years", "14 months") pass: they are often computed
from the quotes rather than copied. It is a floor, not a judge: it catches answers with
nothing in common with their evidence, and nothing subtler.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["answer_supported", "content_stems", "content_terms", "is_stop_word", "stem"]

_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "him",
        "we",
        "our",
        "you",
        "your",
        "i",
        "me",
        "my",
        "not",
        "no",
        "yes",
        "so",
        "than",
        "then",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "did",
        "does",
        "do",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "should",
        "may",
        "might",
        "about",
        "into",
        "over",
        "after",
        "before",
        "also",
        "just",
        "only",
        "very",
        "more",
        "most",
        "some",
        "any",
        "all",
        "each",
        "other",
        "such",
        "said",
        "says",
        "article",
    ]
)
_UNITS = frozenset(
    [
        "year",
        "years",
        "month",
        "months",
        "week",
        "weeks",
        "day",
        "days",
        "hour",
        "hours",
        "percent",
        "per",
        "cent",
        "billion",
        "million",
        "thousand",
        "hundred",
        "trillion",
        "dollars",
        "dollar",
        "usd",
        "bn",
        "m",
        "k",
    ]
)


def stem(term: str) -> str:
    """A content term cut to its first five letters ("political" and "politics" meet); numbers whole."""
    return term[:5] if len(term) > 5 and not term[0].isdigit() else term


def is_stop_word(word: str) -> bool:
    """True for a lower-cased function word that says nothing on its own ("the", "of", "was")."""
    return word in _STOP


def content_stems(text: str) -> set[str]:
    """`content_terms` of `text`, each cut by `stem`."""
    return {stem(t) for t in content_terms(text)}


def content_terms(text: str) -> set[str]:
    """Lower-cased content words and numbers of `text`, with a plural/possessive 's' folded."""
    return set(_content_terms(text))


@lru_cache(maxsize=8192)
def _content_terms(text: str) -> frozenset[str]:
    """`content_terms`, remembered: every question about an article reads its sentences again."""
    terms = set()
    for word in _WORD.findall(text.lower().replace("’", "'")):
        if word in _STOP or (len(word) < 3 and not word[0].isdigit()):
            continue
        terms.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return frozenset(terms)


def answer_supported(answer: str, quotes: Sequence[str]) -> bool | None:
    """True if a content word of `answer` is in `quotes`; None if there is nothing to judge."""
    terms = content_terms(answer)
    if not terms or not quotes:
        return None
    if all(t[0].isdigit() or t in _UNITS or t.rstrip("s") in _UNITS for t in terms):
        return None  # a computed quantity: nothing lexical to compare
    return bool(terms & content_terms(" ".join(quotes)))

"""Fitting an article into a model's context window, never by silent truncation.

An article is cut into pieces along paragraph boundaries (a paragraph too large on its
own is cut at sentence boundaries, and a sentence too large at a character limit). Pieces
are then either packed into consecutive chunks (map-reduce summaries) or ranked by
relevance to a question and the best kept, in reading order (answers).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

from qa.article import Article
from qa.errors import ContextLengthError

__all__ = ["Span", "pack", "pieces", "select_relevant", "span_text"]

Span = tuple[int, int]
_WORD = re.compile(r"[\w$%.]+")
_STOP = frozenset("a an the of to in on and or for by with at from as is was are were be it its that this which who what when where how why did does do has have had".split())


def _sentence_spans(text: str, start: int, end: int) -> list[Span]:
    spans, cursor = [], start
    for match in re.finditer(r"[.!?][\"'”’]?\s+", text[start:end]):
        cut = start + match.end()
        spans.append((cursor, cut))
        cursor = cut
    if cursor < end:
        spans.append((cursor, end))
    return spans


def pieces(article: Article, count: Callable[[str], int], max_tokens: int) -> list[Span]:
    """Spans of `article.text`, each at most `max_tokens` long, in reading order."""
    out: list[Span] = []
    for para in article.paragraphs:
        if count(para.text) <= max_tokens:
            out.append((para.start, para.end))
            continue
        for s, e in _sentence_spans(article.text, para.start, para.end):
            if count(article.text[s:e]) <= max_tokens:
                out.append((s, e))
                continue
            step = max(1, max_tokens * 3)  # at least ~3 characters per token
            out.extend((i, min(i + step, e)) for i in range(s, e, step))
    return out


def span_text(article: Article, spans: list[Span]) -> str:
    """The text of `spans`, joined by blank lines."""
    return "\n\n".join(article.text[s:e].strip() for s, e in spans)


def pack(article: Article, spans: list[Span], count: Callable[[str], int], budget: int) -> list[list[Span]]:
    """Group consecutive spans into chunks of at most `budget` tokens each."""
    if budget <= 0:
        raise ContextLengthError("the model's context is too small for even one paragraph of the article")
    chunks: list[list[Span]] = [[]]
    used = 0
    for span in spans:
        size = count(article.text[span[0] : span[1]]) + 2
        if size > budget:
            raise ContextLengthError(f"a piece of {size} tokens does not fit a budget of {budget} tokens")
        if chunks[-1] and used + size > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(span)
        used += size
    return chunks


def _terms(text: str) -> list[str]:
    return [w.strip(".").lower() for w in _WORD.findall(text) if w.strip(".").lower() not in _STOP]


def select_relevant(
    article: Article, spans: list[Span], question: str, count: Callable[[str], int], budget: int
) -> list[Span]:
    """The spans most relevant to `question` (BM25) that fit in `budget` tokens, in reading order."""
    docs = [_terms(article.text[s:e]) for s, e in spans]
    query = set(_terms(question))
    avg = sum(map(len, docs)) / max(1, len(docs))
    df = Counter(term for doc in docs for term in set(doc))

    def bm25(doc: list[str]) -> float:
        tf = Counter(doc)
        score = 0.0
        for term in query & tf.keys():
            idf = math.log(1 + (len(docs) - df[term] + 0.5) / (df[term] + 0.5))
            score += idf * tf[term] * 2.2 / (tf[term] + 1.2 * (0.25 + 0.75 * len(doc) / max(avg, 1)))
        return score

    ranked = sorted(range(len(spans)), key=lambda i: (-bm25(docs[i]), i))
    chosen: list[int] = []
    used = 0
    for i in ranked:
        size = count(article.text[spans[i][0] : spans[i][1]]) + 2
        if used + size <= budget:
            chosen.append(i)
            used += size
    if not chosen:
        raise ContextLengthError("no part of the article fits the model's context next to the question")
    return [spans[i] for i in sorted(chosen)]

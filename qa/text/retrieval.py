"""Rank an article's sentences against a question (BM25 over content words).

Used three ways: to tell the model which sentences look most relevant (a hint after the
article block, so the block itself stays the same for every question), as one of the
abstention signals (how well the cited sentence matches the question, compared with the
best match in the article), and to choose what to keep of an article too long for the
context.

Terms are `qa.text.support.content_terms` (lower case, stop words removed, a plural "s"
folded). Each sentence is scored as a document of the article's sentences; a sentence
shares the score of its neighbours a little (`NEIGHBOUR`), because a pronoun often
carries the subject of the sentence before.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from qa.text.support import content_terms

__all__ = ["NEIGHBOUR", "SentenceScores", "rank_sentences"]

NEIGHBOUR = 0.25
_K1, _B = 1.2, 0.75


@dataclass(frozen=True)
class SentenceScores:
    """BM25 scores of every sentence (index i is sentence number i + 1) for one question."""

    scores: tuple[float, ...]
    query_terms: frozenset[str]

    def ranked(self) -> list[int]:
        """Sentence numbers, best first (ties in reading order)."""
        return [i + 1 for i in sorted(range(len(self.scores)), key=lambda i: (-self.scores[i], i))]

    def relative(self, number: int) -> float:
        """Sentence `number`'s score over the best score (0 when nothing matches)."""
        best = max(self.scores, default=0.0)
        if best <= 0 or not 1 <= number <= len(self.scores):
            return 0.0
        return self.scores[number - 1] / best

    def rank(self, number: int) -> int:
        """1 for the best-scoring sentence, 2 for the next, ...; len+1 for an unknown number."""
        order = self.ranked()
        return order.index(number) + 1 if number in order else len(order) + 1


def rank_sentences(sentences: Sequence[str], question: str) -> SentenceScores:
    """BM25 scores of `sentences` for `question`, smoothed over neighbouring sentences."""
    counts, df, avg = _index(tuple(sentences))
    query = content_terms(question)
    n = len(counts)
    raw = []
    for tf in counts:
        length = sum(tf.values())
        score = 0.0
        for term in query:
            if tf[term]:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf[term] * (_K1 + 1) / (tf[term] + _K1 * (1 - _B + _B * length / max(avg, 1)))
        raw.append(score)
    smoothed = [
        raw[i] + NEIGHBOUR * max(raw[i - 1] if i > 0 else 0.0, raw[i + 1] if i + 1 < n else 0.0) for i in range(n)
    ]
    return SentenceScores(scores=tuple(smoothed), query_terms=frozenset(query))


@lru_cache(maxsize=16)
def _index(sentences: tuple[str, ...]) -> tuple[list[Counter[str]], Counter[str], float]:
    """Each sentence's term counts, each term's document frequency and the mean length: the
    article's side of BM25, the same for every question about it (so computed once)."""
    counts = [Counter(_words(s)) for s in sentences]
    df = Counter(term for s in sentences for term in content_terms(s))
    avg = sum(sum(c.values()) for c in counts) / max(1, len(sentences))
    return counts, df, avg


def _words(text: str) -> list[str]:
    """Content terms with repeats (content_terms is a set)."""
    return [term for word in text.split() for term in content_terms(word)]

"""What an article states, for the faithfulness proxy of the summary scorers.

`ArticleIndex` holds an article's quantities (after normalize_numbers), its words and the
acronyms of its capitalised names. `unsupported_numbers` and `unsupported_names` list what
a sentence states that the article does not: a number or date, or a capitalised name with a
word the article lacks (a word counts as known if the article has it, or has a word of 4+
letters that, less at most its last letter, plus a demonym or inflection ending gives it:
'Chinese' from 'China'). Title Case text is reported but its names are not counted.
"""

from __future__ import annotations

import re
from functools import lru_cache

from qa.evals.normalize import extract_quantities, quantity_supported

__all__ = ["ArticleIndex", "article_index", "unsupported_names", "unsupported_numbers"]

_CALENDAR = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
)
_SUFFIXES = frozenset(
    [
        "s",
        "es",
        "n",
        "ns",
        "an",
        "ans",
        "ian",
        "ians",
        "nian",
        "nians",
        "ese",
        "i",
        "is",
        "ish",
        "ic",
        "ed",
        "d",
        "ing",
        "er",
        "ers",
    ]
)
_STARTERS = frozenset(
    [
        "a",
        "an",
        "the",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "and",
        "but",
        "or",
        "as",
        "after",
        "before",
        "during",
        "while",
        "meanwhile",
        "however",
        "also",
        "both",
        "he",
        "she",
        "they",
        "we",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "their",
        "his",
        "her",
        "according",
        "under",
        "over",
        "since",
        "when",
        "where",
        "which",
        "who",
        "what",
        "why",
        "how",
        "there",
        "here",
        "new",
        "key",
        "amid",
        "despite",
        "following",
        "earlier",
        "later",
        "last",
        "next",
        "first",
        "then",
        "now",
        "today",
        "yesterday",
        "further",
        "moreover",
        "overall",
        "together",
        "year",
        "years",
        "amount",
        "date",
    ]
)


def _undot(text: str) -> str:
    return re.sub(r"\b(?:[A-Za-z]\.){2,}", lambda m: m.group(0).replace(".", ""), text)


class ArticleIndex:
    """What the article states: its quantities, its words and the acronyms of its names."""

    def __init__(self, article: str) -> None:
        self.quantities = extract_quantities(article)
        words = re.findall(r"[A-Za-z]+", _undot(article))
        self.lower_words = {w for w in words if w.islower()}
        names = re.findall(r"[A-Z][a-z]+(?:\s+(?:and\s+|of\s+)?[A-Z][a-z]+)+", article)
        acronyms = {"".join(w[0] for w in name.split() if w[0].isupper()).lower() for name in names}
        self.words = {w.lower() for w in words} | acronyms | _CALENDAR

    def knows(self, word: str) -> bool:
        """True if the article has the word, or a form of it (China/Chinese, Panama/Panamanian)."""
        w = word.lower()
        if w in self.words:
            return True
        for known in self.words:
            if len(known) >= 4:
                for stem in (known, known[:-1]):
                    if w.startswith(stem) and w[len(stem) :] in _SUFFIXES:
                        return True
        return False


@lru_cache(maxsize=8)
def article_index(article: str) -> ArticleIndex:
    """One index per article: a suite scores many summaries of the same article."""
    return ArticleIndex(article)


def unsupported_numbers(sentence: str, index: ArticleIndex) -> list[str]:
    """Numbers and dates in `sentence` (canonical form) that the article does not state; bare 0 and 1 are ignored."""
    return [
        q.render()
        for q in extract_quantities(sentence)
        if not quantity_supported(q, index.quantities)
        and not (q.kind == "number" and q.unit is None and q.value in ("0", "1"))
    ]


def unsupported_names(sentence: str, index: ArticleIndex) -> tuple[list[str], bool]:
    """(capitalised word runs with a word the article lacks, whether the sentence is Title Case)."""
    text = _undot(sentence)
    tokens = list(re.finditer(r"[A-Za-z]+", text))
    groups: list[list[re.Match[str]]] = []
    for i, m in enumerate(tokens):
        if not m.group(0)[0].isupper() or (i == 0 and m.group(0).lower() in _STARTERS):
            continue
        if groups and text[groups[-1][-1].end() : m.start()].isspace():
            groups[-1].append(m)
        else:
            groups.append([m])
    flagged: list[str] = []
    for group in groups:
        run: list[re.Match[str]] = []
        for word in [*group, None]:
            if word is not None and not index.knows(word.group(0)):
                run.append(word)
                continue
            if run:
                flagged.append(text[run[0].start() : run[-1].end()])
            run = []
    common = [m.group(0) for m in tokens[1:] if len(m.group(0)) >= 3 and m.group(0).lower() in index.lower_words]
    title_case = len(common) >= 2 and sum(w[0].isupper() for w in common) >= 0.6 * len(common)
    return flagged, title_case

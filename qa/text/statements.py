"""Is a written statement supported by its evidence? Numbers, names and words, checked.

A summary statement (headline, summary sentence, key point) is checked against the
article sentences it was written from:

- every number and date it states must occur in the evidence (digits compared with
  separators removed: "9.2", "2013", "150");
- every proper name it uses (a capitalised word that does not start the statement) must
  occur in the evidence, or at least in the article;
- most of its content words must occur in the evidence (`MIN_SUPPORT`), so that a
  statement cannot add a claim made of ordinary words.

It is a deterministic floor, like `qa.text.support` for answers: it cannot see a wrong claim
made only of the evidence's own words in a new order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.text.support import content_terms

__all__ = ["MIN_SUPPORT", "debris", "statement_problems"]

MIN_SUPPORT = 0.6
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’-]+")
_DEBRIS = re.compile(
    r"[{}\[\]<>]|\\[nt\"]|```|\"\s*:\s*\"|\b(?:null|true|false)\b,|\b(?:key_points|headline|summary)\b\"?\s*:"
)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def _names(text: str) -> set[str]:
    names = set()
    for m in _NAME.finditer(text.strip()):
        word = re.sub(r"['’]s$", "", m.group(0))
        if m.start() > 0 and len(word) > 1:
            names.add(word.lower())
    return names


def debris(text: str) -> str | None:
    """The JSON or template debris in `text` ('{', '\\"', '"key":'), or None when clean."""
    m = _DEBRIS.search(text)
    return m.group(0) if m else None


def statement_problems(statement: str, evidence: Sequence[str], article: str, *, lexical: bool = True) -> list[str]:
    """Why `statement` is not supported by `evidence` (empty when it is).

    `lexical=False` skips the content-word share (a statement written in another language).
    """
    text = statement.strip()
    if not text:
        return ["it is empty"]
    problems = []
    junk = debris(text)
    if junk is not None:
        problems.append(f"it contains JSON or template debris {junk!r}")
    joined = " ".join(evidence)
    missing_numbers = sorted(_numbers(text) - _numbers(joined))
    if missing_numbers:
        problems.append(f"numbers not in its evidence: {', '.join(missing_numbers)}")
    known = {w.lower() for w in re.findall(r"[A-Za-z'’-]+", article)} | {
        re.sub(r"['’]s$", "", w.lower()) for w in re.findall(r"[A-Za-z'’-]+", article)
    }
    unknown_names = sorted(n for n in _names(text) if n not in known)
    if unknown_names:
        problems.append(f"names not in the article: {', '.join(unknown_names)}")
    if lexical:
        terms = {t for t in content_terms(text) if not t[0].isdigit()}
        if terms:
            have = content_terms(joined)
            share = len(terms & have) / len(terms)
            if share < MIN_SUPPORT:
                extra = ", ".join(sorted(terms - have)[:6])
                problems.append(f"only {share:.0%} of its words are in its evidence (not there: {extra})")
    return problems

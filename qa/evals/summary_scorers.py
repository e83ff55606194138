"""Summary scorers: FineSurE (ACL 2024) with hand-labelled key facts, made deterministic.

completeness = key facts recognised / key facts; conciseness = sentences carrying a key fact
/ sentences; faithfulness = 1 - sentences with an error / sentences, where the only errors
this module can see are a number or a capitalised name that the article does not contain.
See `score_summary` for what that proxy can and cannot tell. An optional `SentenceJudge`
(see `qa.evals.judge`) is asked only about the sentences the deterministic check cannot
decide, and every sentence says what decided it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from qa.errors import QAError
from qa.evals.article_index import ArticleIndex, article_index, unsupported_names, unsupported_numbers
from qa.evals.dataset import KeyFact
from qa.evals.normalize import Quantity, extract_quantities, loosen, normalize_text, quantity_supported
from qa.evals.scorers import Score, _contains
from qa.schemas import FrozenModel, Summary, SummaryResult

__all__ = [
    "SentenceCheck",
    "SentenceJudge",
    "SummaryScores",
    "match_fact",
    "score_summary",
    "split_sentences",
    "summary_sentences",
]

SentenceJudge = Callable[[str, str], "bool | tuple[bool | None, str] | None"]
"""Optional model judge: (sentence, article text) -> True if the article supports the
sentence, False if not, None if it cannot tell; or that verdict with its evidence, as
`(verdict, why)`. It should raise a QAError on failure (see `qa.evals.judge.ModelJudge`)."""

_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9$])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|No|Inc|Ltd|Corp|Gov|Gen|Sen|Rep"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|etc)\.)$"
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences: at . ! ? before a capital, digit or $; lines are separate.

    A full stop after a dotted acronym (U.S.), a title (Mr.) or a month abbreviation
    (Oct.) does not end a sentence.
    """
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        for m in _SENTENCE_END.finditer(line):
            cut = m.start() + len(m.group(1))
            if _ABBREVIATION.search(line[start:cut].rstrip("\"')]")):
                continue
            sentences.append(line[start:cut].strip())
            start = m.end()
        sentences.append(line[start:].strip())
    return [s for s in sentences if s]


def summary_sentences(summary: Summary | SummaryResult | str) -> list[tuple[str, str]]:
    """(where, sentence) pairs: headline, summary, key points and figures ('meaning: value').

    Entities and quotes are left out: entities are bare names, quotes are the article's words.
    """
    if isinstance(summary, SummaryResult):
        summary = summary.summary
    if isinstance(summary, str):
        return [("text", s) for s in split_sentences(summary)]
    parts = [("headline", summary.headline), ("summary", summary.summary)]
    parts += [(f"key_points[{i}]", kp.point) for i, kp in enumerate(summary.key_points)]
    parts += [(f"figures[{i}]", f"{fig.meaning}: {fig.value}") for i, fig in enumerate(summary.figures)]
    return [(where, sentence) for where, text in parts for sentence in split_sentences(text)]


@dataclass(frozen=True, slots=True)
class _Forms:
    """A text's normalised forms and quantities, computed once and matched against every fact."""

    strict: str
    loose: str
    quantities: list[Quantity]

    @classmethod
    def of(cls, text: str) -> _Forms:
        return cls(normalize_text(text), loosen(text), extract_quantities(text))


@lru_cache(maxsize=4096)
def _phrase(phrase: str) -> tuple[str, str]:
    """An alias (or number) in both normalised forms; key facts repeat, so it is cached."""
    return normalize_text(phrase), loosen(phrase)


@lru_cache(maxsize=4096)
def _wanted(number: str) -> tuple[Quantity, ...]:
    return tuple(extract_quantities(number))


def _states(forms: _Forms, numbers: Sequence[str]) -> bool:
    """Like `not missing_numbers(text, numbers)`, on precomputed forms."""
    for number in numbers:
        wanted = _wanted(number)
        if wanted:
            if not all(quantity_supported(q, forms.quantities) for q in wanted):
                return False
        elif not _contains(forms.strict, _phrase(number)[0]):
            return False
    return True


def _match(forms: _Forms, fact: KeyFact) -> str | None:
    if not _states(forms, fact.numbers):
        return None
    strict, loose = forms.strict, forms.loose
    evidence = next(
        (f"alias {a!r}" for a in fact.aliases if _contains(strict, _phrase(a)[0]) or _contains(loose, _phrase(a)[1])),
        None,
    )
    if evidence is None:
        evidence = next((f"pattern {p!r}" for p in fact.patterns if re.search(p, strict) or re.search(p, loose)), None)
    if evidence is not None and fact.numbers:
        evidence += f" with numbers {fact.numbers}"
    return evidence


def match_fact(text: str, fact: KeyFact) -> str | None:
    """Evidence that `text` states `fact`, or None.

    Recognised if an alias occurs as whole words (after normalize_text, or the looser form)
    or a pattern matches the normalised text, AND every number of the fact is stated.
    """
    return _match(_Forms.of(text), fact)


class SentenceCheck(FrozenModel):
    """Per-sentence evidence for the summary scores."""

    where: str
    """Where the sentence came from: 'headline', 'summary', 'key_points[2]', 'figures[0]', 'text'."""
    text: str
    """The sentence."""
    facts: list[str]
    """Ids of the key facts it carries."""
    fact_evidence: list[str]
    """How each fact was recognised, e.g. "f04: alias 'credit' with numbers ['9.2 billion']"."""
    unsupported_numbers: list[str]
    """Numbers and dates (canonical form) that the article does not state."""
    unsupported_names: list[str]
    """Capitalised word sequences with a word the article does not contain."""
    title_case: bool
    """True for Title Case text, where capitals carry no signal and names are not counted."""
    error: bool
    """Counted as an error for faithfulness."""
    decided_by: Literal["numbers", "names", "judge", "none"]
    """What decided `error`; 'none' means nothing was found and nothing else checked it."""
    reason: str
    """Why, in words."""


class SummaryScores(FrozenModel):
    """FineSurE-style scores for one summary, with per-sentence evidence."""

    completeness: Score
    """Key facts recognised / key facts; verdict 'correct' iff no core fact is missing."""
    conciseness: Score
    """Sentences carrying a key fact / sentences; verdict 'correct' iff >= 0.5."""
    faithfulness: Score
    """1 - sentences with an error / sentences; verdict 'correct' iff no error was found."""
    facts_found: list[str]
    """Ids of the key facts recognised, in key-fact order."""
    facts_missing: list[str]
    """Ids of the key facts not recognised."""
    sentences: list[SentenceCheck]
    """One entry per sentence, in order."""

    def metrics(self) -> dict[str, Score]:
        """The three scores by name."""
        return {"completeness": self.completeness, "conciseness": self.conciseness, "faithfulness": self.faithfulness}


def _ask_judge(judge: SentenceJudge, sentence: str, article: str) -> tuple[bool | None, str]:
    try:
        answer = judge(sentence, article)
    except QAError as exc:
        return None, f"the judge failed: {exc}"
    verdict, evidence = answer if isinstance(answer, tuple) else (answer, "")
    if verdict is None:
        return None, "the judge could not decide" + (f" ({evidence})" if evidence else "")
    why = "judge: supported by the article" if verdict else "judge: not supported by the article"
    return verdict, why + (f"; {evidence}" if evidence else "")


def _check_sentence(
    where: str,
    sentence: str,
    article: str,
    index: ArticleIndex,
    key_facts: Sequence[KeyFact],
    judge: SentenceJudge | None,
) -> SentenceCheck:
    forms = _Forms.of(sentence)
    matches = [(fact.id, evidence) for fact in key_facts if (evidence := _match(forms, fact)) is not None]
    numbers = unsupported_numbers(sentence, index)
    names, title_case = unsupported_names(sentence, index)
    decided_by: Literal["numbers", "names", "judge", "none"]
    if numbers:
        error, decided_by, reason = True, "numbers", f"numbers not in the article: {numbers}"
    elif names and not title_case:
        error, decided_by, reason = True, "names", f"names not in the article: {names}"
    else:
        error, decided_by, reason = False, "none", "no unsupported number or name found (not otherwise verified)"
        if names:
            reason += f"; Title Case, so unmatched capitalised words {names} were not counted"
        if judge is not None:
            verdict, why = _ask_judge(judge, sentence, article)
            if verdict is None:
                reason += f"; {why}"
            else:
                error, decided_by, reason = not verdict, "judge", why
    return SentenceCheck(
        where=where,
        text=sentence,
        facts=[fact_id for fact_id, _ in matches],
        fact_evidence=[f"{fact_id}: {evidence}" for fact_id, evidence in matches],
        unsupported_numbers=numbers,
        unsupported_names=names,
        title_case=title_case,
        error=error,
        decided_by=decided_by,
        reason=reason,
    )


def score_summary(
    summary: Summary | SummaryResult | str,
    article_text: str,
    key_facts: Sequence[KeyFact],
    judge: SentenceJudge | None = None,
) -> SummaryScores:
    """Completeness, conciseness and faithfulness of a summary against hand-labelled key facts.

    Faithfulness here is a deterministic proxy. It sees only two kinds of error: a number
    or date the article does not state (after normalize_numbers; bare 0 and 1 are ignored),
    and a capitalised name with a word the article lacks (a word counts as known if the
    article has it, or has a word of 4+ letters that, less at most its last letter, plus a
    demonym or inflection ending gives it: 'Chinese' from 'China'). Title Case lines are
    not checked for names. It cannot see a wrong claim made of the article's own words
    ('Panama joined the pact'), so the errors it finds are a lower bound on the real
    errors and the score an upper bound on real faithfulness; it may also flag a correct
    derived figure ('12 years'), which the per-sentence evidence shows. Sentences where it
    finds nothing are undecided: if `judge` is given it is asked about those sentences
    only, and each sentence reports `decided_by`.
    """
    index = article_index(article_text)
    checks = [_check_sentence(w, s, article_text, index, key_facts, judge) for w, s in summary_sentences(summary)]
    found = {fact_id for check in checks for fact_id in check.facts}
    facts_found = [f.id for f in key_facts if f.id in found]
    facts_missing = [f.id for f in key_facts if f.id not in found]
    n = len(checks)
    if n == 0:
        empty = Score.unscored("the summary has no sentences")
        return SummaryScores(
            completeness=empty,
            conciseness=empty,
            faithfulness=empty,
            facts_found=[],
            facts_missing=facts_missing,
            sentences=[],
        )
    errors = [c for c in checks if c.error]
    by_judge = any(c.decided_by == "judge" for c in checks)
    faithfulness = Score.graded(
        1 - len(errors) / n,
        not errors,
        f"{len(errors)} of {n} sentences with an error" + "".join(f"; {c.where}: {c.reason}" for c in errors),
        "judge" if by_judge else "numbers",
    )
    if not key_facts:
        no_facts = Score.unscored("the suite has no key facts")
        return SummaryScores(
            completeness=no_facts,
            conciseness=no_facts,
            faithfulness=faithfulness,
            facts_found=[],
            facts_missing=[],
            sentences=checks,
        )
    core_missing = [f.id for f in key_facts if f.importance == "core" and f.id not in found]
    carrying = sum(1 for c in checks if c.facts)
    completeness = Score.graded(
        len(facts_found) / len(key_facts),
        not core_missing,
        f"{len(facts_found)} of {len(key_facts)} key facts recognised; missing {facts_missing or 'none'}"
        + (f" (core: {core_missing})" if core_missing else ""),
        "alias",
    )
    conciseness = Score.graded(
        carrying / n, carrying / n >= 0.5, f"{carrying} of {n} sentences carry a key fact", "alias"
    )
    return SummaryScores(
        completeness=completeness,
        conciseness=conciseness,
        faithfulness=faithfulness,
        facts_found=facts_found,
        facts_missing=facts_missing,
        sentences=checks,
    )

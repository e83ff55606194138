"""Deterministic scorers: answers (SQuAD EM/F1, aliases, numbers, abstention), CIs, summaries.

Every score says why (`reason`) and what decided it (`decided_by`). A case that cannot be
scored gets verdict "unscored", value None and the reason: never NaN, never a silent skip.

Summary scorers follow FineSurE (ACL 2024) with hand-labelled key facts, made deterministic:
completeness = key facts recognised / key facts; conciseness = sentences carrying a key fact
/ sentences; faithfulness = 1 - sentences with an error / sentences, where the only errors
this module can see are a number or a capitalised name that the article does not contain.
See `score_summary` for what that proxy can and cannot tell.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from qa.errors import EvalError, OutputValidationError, QAError
from qa.evals.dataset import KeyFact, QuestionCase
from qa.evals.normalize import extract_quantities, loosen, normalize_text, quantity_supported
from qa.schemas import AnswerResult, Grounding, Summary, SummaryResult

__all__ = [
    "AbstentionMetrics",
    "CaseOutcome",
    "Score",
    "SentenceCheck",
    "SentenceJudge",
    "SummaryScores",
    "abstention_metrics",
    "alias_hit",
    "alias_match",
    "case_outcome",
    "exact_match",
    "f1",
    "match_fact",
    "mean_with_ci",
    "missing_numbers",
    "numbers_present",
    "score_answer",
    "score_summary",
    "split_sentences",
    "summary_sentences",
]

Verdict = Literal["correct", "incorrect", "unscored"]
DecidedBy = Literal["exact", "f1", "alias", "numbers", "abstention", "judge", "none"]
ANSWER_METRICS = ("correct", "em", "f1", "citation_valid", "schema_valid")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Score(_Strict):
    """One metric for one case, with the evidence behind it."""

    value: float | None
    """The score (0..1), or None when unscored."""
    verdict: Verdict
    """'correct', 'incorrect', or 'unscored' (the case could not be scored; see reason)."""
    reason: str
    """Why: the evidence a report shows next to the case."""
    decided_by: DecidedBy
    """Which check decided: a matcher, 'abstention', 'judge', or 'none' (structural or unscored)."""

    @model_validator(mode="after")
    def _value_fits_verdict(self) -> Score:
        if (self.verdict == "unscored") != (self.value is None):
            raise ValueError("value must be None exactly when the verdict is 'unscored'")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError("value must be finite")
        return self

    @classmethod
    def unscored(cls, reason: str) -> Score:
        """A score for a case that cannot be scored, saying why."""
        return cls(value=None, verdict="unscored", reason=reason, decided_by="none")

    @classmethod
    def graded(cls, value: float, ok: bool, reason: str, decided_by: DecidedBy) -> Score:
        """A scored result: `ok` picks the verdict."""
        return cls(value=value, verdict="correct" if ok else "incorrect", reason=reason, decided_by=decided_by)


def _golds(golds: Sequence[str]) -> list[str]:
    return list(golds) if golds else [""]


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD exact match after normalize_numbers + normalize_answer; max over golds ([] means [''])."""
    pred = normalize_text(prediction)
    return max(float(pred == normalize_text(gold)) for gold in _golds(golds))


def _f1_one(prediction: str, gold: str) -> float:
    pred_tokens = normalize_text(prediction).split()
    gold_tokens = normalize_text(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token-multiset F1 after normalisation; max over golds; both empty 1.0, one empty 0.0."""
    return max(_f1_one(prediction, gold) for gold in _golds(golds))


def _contains(haystack: str, needle: str) -> bool:
    return bool(needle) and f" {needle} " in f" {haystack} "


def alias_hit(prediction: str, golds_and_aliases: Sequence[str]) -> str | None:
    """The first gold or alias that `prediction` matches (see `alias_match`), or None."""
    variants = (normalize_text(prediction), loosen(prediction))
    for gold in golds_and_aliases:
        for pred, norm in zip(variants, (normalize_text(gold), loosen(gold)), strict=True):
            if not pred or not norm:
                continue
            if _contains(pred, norm):
                return gold
            if _contains(norm, pred) and 2 * len(pred.split()) >= len(norm.split()):
                return gold
    return None


def alias_match(prediction: str, golds_and_aliases: Sequence[str]) -> bool:
    """Whole-word containment, either way, after normalisation ('Xi' never matches 'Xinhua').

    Texts are compared in the SQuAD form and in a looser form (possessive 's dropped,
    hyphens as spaces). A gold inside the prediction always matches; a prediction inside a
    gold matches only if it covers at least half of the gold's words ('Xi' matches
    'Xi Jinping'; 'President' does not match 'President Xi Jinping').
    """
    return alias_hit(prediction, golds_and_aliases) is not None


def missing_numbers(text: str, numbers: Sequence[str]) -> list[str]:
    """The entries of `numbers` that `text` does not state (after normalize_numbers)."""
    have = extract_quantities(text)
    missing = []
    for number in numbers:
        wanted = extract_quantities(number)
        found = all(quantity_supported(q, have) for q in wanted) if wanted else _contains(normalize_text(text), normalize_text(number))
        if not found:
            missing.append(number)
    return missing


def numbers_present(text: str, numbers: Sequence[str]) -> bool:
    """True if every number or date in `numbers` is stated in `text` ('$9.2bn' states '9.2 billion')."""
    return not missing_numbers(text, numbers)


def _error_text(error: str | BaseException) -> str:
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _schema_score_on_error(error: str | BaseException) -> Score:
    text = _error_text(error)
    failed_validation = isinstance(error, OutputValidationError) or (
        isinstance(error, str) and re.search(r"OutputValidationError|fail\w* (schema )?validation|did not match the schema", error, re.I)
    )
    if failed_validation:
        return Score.graded(0.0, False, f"the output failed schema validation: {text}", "none")
    return Score.unscored(f"the call failed before its output could be validated: {text}")


def _citation_score(grounding: Grounding) -> Score:
    good = grounding.verified + grounding.repaired
    total = good + len(grounding.dropped)
    if total == 0:
        return Score.unscored("the result carried no citations to check")
    reason = f"{grounding.verified} verified, {grounding.repaired} repaired, {len(grounding.dropped)} dropped of {total}"
    if grounding.dropped:
        reason += "; dropped: " + "; ".join(f"{d.where}: {d.quote[:80]!r}" for d in grounding.dropped)
    return Score.graded(good / total, good == total, reason, "none")


def _score_answerable(case: QuestionCase, answer_text: str, answered: bool) -> dict[str, Score]:
    golds = case.golds
    em = exact_match(answer_text, golds)
    best = max(golds, key=lambda gold: _f1_one(answer_text, gold))
    f = f1(answer_text, golds)
    scores = {
        "em": Score.graded(em, em == 1.0, f"exact match {em:.0f} over {len(golds)} golds", "exact"),
        "f1": Score.graded(f, f >= 0.5, f"best token F1 {f:.2f} against {best!r}", "f1"),
    }
    hit = alias_hit(answer_text, golds)
    if not answered:
        correct = Score.graded(0.0, False, "abstained (not_in_article) but the article answers it", "abstention")
    elif case.numbers:
        missing = missing_numbers(answer_text, case.numbers)
        if missing:
            correct = Score.graded(0.0, False, f"required numbers missing: {missing}", "numbers")
        else:
            correct = Score.graded(1.0, True, f"states the required numbers {case.numbers}", "numbers")
    elif em == 1.0:
        correct = Score.graded(1.0, True, f"exact match with {best!r}", "exact")
    elif hit is not None:
        correct = Score.graded(1.0, True, f"matches {hit!r} as whole words", "alias")
    elif f >= 0.5:
        correct = Score.graded(1.0, True, f"token F1 {f:.2f} >= 0.5 against {best!r}", "f1")
    else:
        correct = Score.graded(0.0, False, f"no gold or alias matched; best token F1 {f:.2f} < 0.5", "f1")
    scores["correct"] = correct
    return scores


def _score_unanswerable(answer_text: str, abstained: bool) -> dict[str, Score]:
    if abstained:
        score = Score.graded(1.0, True, "abstained (not_in_article); the article does not say", "abstention")
    else:
        score = Score.graded(0.0, False, f"answered {answer_text[:120]!r} but the article does not say", "abstention")
    return {"correct": score, "em": score, "f1": score}


def score_answer(
    question_case: QuestionCase,
    answer_result: AnswerResult | None,
    error: str | BaseException | None = None,
) -> dict[str, Score]:
    """Score one answer: keys 'correct', 'em', 'f1', 'citation_valid', 'schema_valid'.

    Answerable: correct iff the status is 'answered' and, when the case lists numbers, all
    of them are stated; otherwise iff EM is 1, an alias matches, or F1 >= 0.5. Unanswerable
    (SQuAD 2.0 NoAns): correct, EM and F1 are 1 iff the status is 'not_in_article'.
    When `error` is given (the call failed) every metric is unscored with the error as the
    reason, except schema_valid, which is 0 when the error is a schema validation failure
    (an `OutputValidationError`, or a string naming one; pass `f"{type(e).__name__}: {e}"`).
    """
    if error is not None:
        failed = Score.unscored(f"the call failed: {_error_text(error)}")
        scores = {name: failed for name in ANSWER_METRICS}
        scores["schema_valid"] = _schema_score_on_error(error)
        return scores
    if answer_result is None:
        return {name: Score.unscored("no result and no error were given") for name in ANSWER_METRICS}
    answer = answer_result.answer
    answered = answer.status == "answered"
    if question_case.answerable:
        scores = _score_answerable(question_case, answer.answer, answered)
    else:
        scores = _score_unanswerable(answer.answer, not answered)
    scores["citation_valid"] = _citation_score(answer_result.grounding)
    scores["schema_valid"] = Score.graded(1.0, True, "a schema-valid Answer was returned", "none")
    return {name: scores[name] for name in ANSWER_METRICS}


class CaseOutcome(_Strict):
    """What abstention metrics need from one scored case."""

    id: str
    """The question case id."""
    answerable: bool
    """Whether the article answers the question."""
    abstained: bool | None
    """True if the status was not_in_article; None if there was no result."""
    correct: bool | None
    """The 'correct' verdict; None if unscored."""


def case_outcome(question_case: QuestionCase, answer_result: AnswerResult | None, scores: dict[str, Score]) -> CaseOutcome:
    """Reduce a scored case to what `abstention_metrics` needs."""
    verdict = scores["correct"].verdict
    return CaseOutcome(
        id=question_case.id,
        answerable=question_case.answerable,
        abstained=None if answer_result is None else answer_result.answer.status == "not_in_article",
        correct=None if verdict == "unscored" else verdict == "correct",
    )


class AbstentionMetrics(_Strict):
    """SQuAD 2.0-style split accuracy plus abstention precision/recall (positive class: abstained)."""

    answerable_accuracy: float | None
    """Share of scored answerable cases judged correct (None if there are none)."""
    answerable_n: int
    """Scored answerable cases."""
    unanswerable_accuracy: float | None
    """Share of scored unanswerable cases where the system abstained."""
    unanswerable_n: int
    """Scored unanswerable cases."""
    abstention_precision: float | None
    """Of the abstentions, the share on unanswerable questions (None if it never abstained)."""
    abstention_recall: float | None
    """Of the unanswerable questions, the share it abstained on (None if there are none)."""
    abstained: int
    """Scored cases where the system abstained."""
    unscored: int
    """Cases left out because they could not be scored (failed calls)."""


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def abstention_metrics(cases: Iterable[CaseOutcome]) -> AbstentionMetrics:
    """Accuracy on answerable and on unanswerable cases, separately, and abstention P/R."""
    items = list(cases)
    scored = [c for c in items if c.correct is not None and c.abstained is not None]
    answerable = [c for c in scored if c.answerable]
    unanswerable = [c for c in scored if not c.answerable]
    true_pos = sum(1 for c in unanswerable if c.abstained)
    abstained = sum(1 for c in scored if c.abstained)
    return AbstentionMetrics(
        answerable_accuracy=_ratio(sum(1 for c in answerable if c.correct), len(answerable)),
        answerable_n=len(answerable),
        unanswerable_accuracy=_ratio(sum(1 for c in unanswerable if c.correct), len(unanswerable)),
        unanswerable_n=len(unanswerable),
        abstention_precision=_ratio(true_pos, abstained),
        abstention_recall=_ratio(true_pos, len(unanswerable)),
        abstained=abstained,
        unscored=len(items) - len(scored),
    )


_Z95 = 1.959963984540054
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042)  # two-sided 95% Student t, df = 1..30


def mean_with_ci(values: Iterable[float | None]) -> tuple[float | None, float | None, float | None, int]:
    """(mean, low, high, n) with a 95% confidence interval; None values (unscored) are left out.

    0/1 values use the Wilson score interval. Other values use Student's t (normal beyond
    30 degrees of freedom), clipped to [0, 1] when every value lies in [0, 1]; with one
    continuous value the bounds are None. n = 0 gives (None, None, None, 0), never NaN.
    """
    xs = [float(v) for v in values if v is not None]
    if any(not math.isfinite(x) for x in xs):
        raise EvalError("mean_with_ci got a NaN or infinite value; score it as unscored instead")
    n = len(xs)
    if n == 0:
        return None, None, None, 0
    mean = sum(xs) / n
    if all(x in (0.0, 1.0) for x in xs):
        z2 = _Z95 * _Z95
        centre = (mean + z2 / (2 * n)) / (1 + z2 / n)
        half = _Z95 * math.sqrt(mean * (1 - mean) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return mean, max(0.0, centre - half), min(1.0, centre + half), n
    if n == 1:
        return mean, None, None, 1
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else _Z95
    low, high = mean - t * sd / math.sqrt(n), mean + t * sd / math.sqrt(n)
    if all(0.0 <= x <= 1.0 for x in xs):
        low, high = max(0.0, low), min(1.0, high)
    return mean, low, high, n


# --- summaries ----------------------------------------------------------------------

SentenceJudge = Callable[[str, str], bool | None]
"""Optional model judge: (sentence, article text) -> True if the article supports the
sentence, False if not, None if it cannot tell. It should raise a QAError on failure."""

_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9$])")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|No|Inc|Ltd|Corp|Gov|Gen|Sen|Rep"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|etc)\.)$"
)
_CALENDAR = frozenset(
    "january february march april may june july august september october november december jan feb mar apr "
    "jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday".split()
)
_SUFFIXES = frozenset("s es n ns an ans ian ians nian nians ese i is ish ic ed d ing er ers".split())
_STARTERS = frozenset(
    "a an the in on at by for from with and but or as after before during while meanwhile however "
    "also both he she they we it its this that these those their his her according under over since "
    "when where which who what why how there here new key amid despite following earlier later last "
    "next first then now today yesterday further moreover overall together year years amount date".split()
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


def match_fact(text: str, fact: KeyFact) -> str | None:
    """Evidence that `text` states `fact`, or None.

    Recognised if an alias occurs as whole words (after normalize_text, or the looser form)
    or a pattern matches the normalised text, AND every number of the fact is stated.
    """
    if missing_numbers(text, fact.numbers):
        return None
    strict, loose = normalize_text(text), loosen(text)
    evidence = next((f"alias {a!r}" for a in fact.aliases if _contains(strict, normalize_text(a)) or _contains(loose, loosen(a))), None)
    if evidence is None:
        evidence = next((f"pattern {p!r}" for p in fact.patterns if re.search(p, strict) or re.search(p, loose)), None)
    if evidence is not None and fact.numbers:
        evidence += f" with numbers {fact.numbers}"
    return evidence


def _undot(text: str) -> str:
    return re.sub(r"\b(?:[A-Za-z]\.){2,}", lambda m: m.group(0).replace(".", ""), text)


class _ArticleIndex:
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


def _unsupported_numbers(sentence: str, index: _ArticleIndex) -> list[str]:
    return [
        q.render()
        for q in extract_quantities(sentence)
        if not quantity_supported(q, index.quantities) and not (q.kind == "number" and q.unit is None and q.value in ("0", "1"))
    ]


def _unsupported_names(sentence: str, index: _ArticleIndex) -> tuple[list[str], bool]:
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
        for m in [*group, None]:
            if m is not None and not index.knows(m.group(0)):
                run.append(m)
                continue
            if run:
                flagged.append(text[run[0].start() : run[-1].end()])
            run = []
    common = [m.group(0) for m in tokens[1:] if len(m.group(0)) >= 3 and m.group(0).lower() in index.lower_words]
    title_case = len(common) >= 2 and sum(w[0].isupper() for w in common) >= 0.6 * len(common)
    return flagged, title_case


class SentenceCheck(_Strict):
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


class SummaryScores(_Strict):
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
        verdict = judge(sentence, article)
    except QAError as exc:
        return None, f"the judge failed: {exc}"
    if verdict is None:
        return None, "the judge could not decide"
    return verdict, "judge: supported by the article" if verdict else "judge: not supported by the article"


def _check_sentence(
    where: str, sentence: str, article: str, index: _ArticleIndex, key_facts: Sequence[KeyFact], judge: SentenceJudge | None
) -> SentenceCheck:
    matches = [(fact.id, evidence) for fact in key_facts if (evidence := match_fact(sentence, fact)) is not None]
    numbers = _unsupported_numbers(sentence, index)
    names, title_case = _unsupported_names(sentence, index)
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
    index = _ArticleIndex(article_text)
    checks = [_check_sentence(w, s, article_text, index, key_facts, judge) for w, s in summary_sentences(summary)]
    found = {fact_id for check in checks for fact_id in check.facts}
    facts_found = [f.id for f in key_facts if f.id in found]
    facts_missing = [f.id for f in key_facts if f.id not in found]
    n = len(checks)
    if n == 0:
        empty = Score.unscored("the summary has no sentences")
        return SummaryScores(completeness=empty, conciseness=empty, faithfulness=empty, facts_found=[], facts_missing=facts_missing, sentences=[])
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
        return SummaryScores(completeness=no_facts, conciseness=no_facts, faithfulness=faithfulness, facts_found=[], facts_missing=[], sentences=checks)
    core_missing = [f.id for f in key_facts if f.importance == "core" and f.id not in found]
    carrying = sum(1 for c in checks if c.facts)
    completeness = Score.graded(
        len(facts_found) / len(key_facts),
        not core_missing,
        f"{len(facts_found)} of {len(key_facts)} key facts recognised; missing {facts_missing or 'none'}"
        + (f" (core: {core_missing})" if core_missing else ""),
        "alias",
    )
    conciseness = Score.graded(carrying / n, carrying / n >= 0.5, f"{carrying} of {n} sentences carry a key fact", "alias")
    return SummaryScores(
        completeness=completeness,
        conciseness=conciseness,
        faithfulness=faithfulness,
        facts_found=facts_found,
        facts_missing=facts_missing,
        sentences=checks,
    )

"""Deterministic answer scorers: SQuAD EM/F1, aliases, numbers and abstention, per case.

Every score says why (`reason`) and what decided it (`decided_by`). A case that cannot be
scored gets verdict "unscored", value None and the reason: never NaN, never a silent skip.

The summary scorers live in `qa.evals.summary_scorers`, and what aggregates cases
(`mean_with_ci`, `abstention_metrics`) in `qa.evals.metrics`; their names are still
importable from here (resolved on first use, PEP 562) for older imports.
"""

from __future__ import annotations

import importlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import model_validator

from qa.errors import OutputValidationError
from qa.evals.dataset import QuestionCase
from qa.evals.normalize import extract_quantities, loosen, normalize_answer, normalize_text, quantity_supported
from qa.schemas import AnswerResult, FrozenModel, Grounding

__all__ = [
    "ANSWER_METRICS",
    "Score",
    "alias_hit",
    "alias_match",
    "candidate_score",
    "exact_match",
    "f1",
    "missing_numbers",
    "numbers_present",
    "score_answer",
]

Verdict = Literal["correct", "incorrect", "unscored"]
DecidedBy = Literal["exact", "f1", "alias", "numbers", "abstention", "judge", "none"]
ANSWER_METRICS = ("correct", "em", "f1", "citation_valid", "schema_valid")


class Score(FrozenModel):
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
    return _f1_tokens(normalize_text(prediction).split(), normalize_text(gold).split())


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
        found = (
            all(quantity_supported(q, have) for q in wanted)
            if wanted
            else _contains(normalize_text(text), normalize_text(number))
        )
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
        isinstance(error, str)
        and re.search(r"OutputValidationError|fail\w* (schema )?validation|did not match the schema", error, re.I)
    )
    if failed_validation:
        return Score.graded(0.0, False, f"the output failed schema validation: {text}", "none")
    return Score.unscored(f"the call failed before its output could be validated: {text}")


def _citation_score(grounding: Grounding) -> Score:
    good = grounding.verified + grounding.repaired
    total = good + len(grounding.dropped)
    if total == 0:
        return Score.unscored("the result carried no citations to check")
    reason = (
        f"{grounding.verified} verified, {grounding.repaired} repaired, {len(grounding.dropped)} dropped of {total}"
    )
    if grounding.dropped:
        reason += "; dropped: " + "; ".join(f"{d.where}: {d.quote[:80]!r}" for d in grounding.dropped)
    return Score.graded(good / total, good == total, reason, "none")


def _score_official(case: QuestionCase, answer_text: str, answered: bool) -> dict[str, Score]:
    """The official SQuAD 2.0 rules: normalize_answer only, no aliases or numbers; correct iff F1 >= 0.5."""
    golds = case.golds
    em = max(float(normalize_answer(answer_text) == normalize_answer(g)) for g in golds) if answered else 0.0
    f = (
        max(_f1_tokens(normalize_answer(answer_text).split(), normalize_answer(g).split()) for g in golds)
        if answered
        else 0.0
    )
    best = max(golds, key=lambda g: _f1_tokens(normalize_answer(answer_text).split(), normalize_answer(g).split()))
    why = (
        "abstained (not_in_article) but the article answers it"
        if not answered
        else f"best token F1 {f:.2f} against {best!r}"
    )
    return {
        "em": Score.graded(em, em == 1.0, f"official exact match {em:.0f} over {len(golds)} golds", "exact"),
        "f1": Score.graded(f, f >= 0.5, why, "f1" if answered else "abstention"),
        "correct": Score.graded(1.0 if f >= 0.5 else 0.0, f >= 0.5, why, "f1" if answered else "abstention"),
    }


def _f1_tokens(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


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
    *,
    official: bool = False,
) -> dict[str, Score]:
    """Score one answer: keys 'correct', 'em', 'f1', 'citation_valid', 'schema_valid'.

    Answerable: correct iff the status is 'answered' and, when the case lists numbers, all
    of them are stated; otherwise iff EM is 1, an alias matches, or F1 >= 0.5. Unanswerable
    (SQuAD 2.0 NoAns): correct, EM and F1 are 1 iff the status is 'not_in_article'.
    With `official`, answerable questions follow the official SQuAD 2.0 script exactly
    (`normalize_answer`, no aliases or number forms); correct means F1 >= 0.5.
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
    if question_case.answerable and official:
        scores = _score_official(question_case, answer.answer, answered)
    elif question_case.answerable:
        scores = _score_answerable(question_case, answer.answer, answered)
    else:
        scores = _score_unanswerable(answer.answer, not answered)
    scores["citation_valid"] = _citation_score(answer_result.grounding)
    scores["schema_valid"] = Score.graded(1.0, True, "a schema-valid Answer was returned", "none")
    return {name: scores[name] for name in ANSWER_METRICS}


def candidate_score(
    question_case: QuestionCase, answer_result: AnswerResult, *, official: bool = False
) -> Score | None:
    """Would the model's own answer, before the abstention decision, have been right?

    None when the result carries no candidate (no signals). For an unanswerable question
    no candidate is right. This is what a risk-coverage curve ranks: see `qa.evals.tasks.questions.risk_coverage`.
    """
    signals = answer_result.signals
    if signals is None:
        return None
    if not question_case.answerable or signals.sentence == 0 or not signals.candidate:
        why = "the article does not say" if not question_case.answerable else "the model cited no sentence"
        return Score.graded(0.0, False, f"no right candidate: {why}", "abstention")
    shown = answer_result.model_copy(
        update={"answer": answer_result.answer.model_copy(update={"answer": signals.candidate, "status": "answered"})}
    )
    return score_answer(question_case, shown, official=official)["correct"]


_MOVED = {
    **dict.fromkeys(
        (
            "SentenceCheck",
            "SentenceJudge",
            "SummaryScores",
            "match_fact",
            "score_summary",
            "split_sentences",
            "summary_sentences",
        ),
        "qa.evals.summary_scorers",
    ),
    **dict.fromkeys(
        ("AbstentionMetrics", "CaseOutcome", "abstention_metrics", "case_outcome", "mean_with_ci"), "qa.evals.metrics"
    ),
}


def __getattr__(name: str) -> Any:
    """Names moved to `qa.evals.summary_scorers` and `qa.evals.metrics`, under their old address."""
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""Decide when to abstain: measured signals of an answer, and a calibrated rule over them.

A small model's own "the article does not say" is not a usable abstention signal (it
almost never says it), so every answer carries `AnswerSignals`, measured after the call:

- `p_none`: the model's probability of "no sentence answers", read from its token
  log-probabilities where it chose the sentence number (`qa.tasks.evidence`); None where the
  backend gives no logprobs; `p_sentence`, its probability of the number it wrote there,
  and `answer_logprob` and `answer_logprob_sum`, the mean and total log-probability of its
  answer's tokens (how sure it was of its evidence and of its words; the total keeps a long
  unsure answer low);
- `retrieval`: BM25 score of the cited sentence over the article's best, and `rank`;
- `question_overlap`: share of the question's content words found in the cited sentence
  and its neighbours;
- `answer_support`: share of the answer's content words found in the cited sentence;
- `type_fit`: does the answer have the shape the question asks for (a year or date for
  "when", a number for "how many/much", ...): 1 fits, -1 does not, 0 cannot tell.
- `p_verified`: the model's probability of "yes" when asked, in one more turn of the
  answer's conversation, whether the cited sentence answers the question with that answer
  (`QA_VERIFY=on`; off by default). Fitted with it, `evals/calibrate.py --checked` writes
  a second calibration per model, `<model>.verify.json`, which a checked answer is judged by.

`Calibrator` turns them into `confidence`, the estimated probability that the answer is
right (a logistic model fitted on development data only: `evals/calibrate.py` fits it
from eval run logs of `evals/squad-tune`, questions that are in no gated suite). An answer is kept when
its confidence reaches the threshold: the calibration file's own (chosen on the
development data for the best accuracy over answerable and unanswerable questions), or
`QA_ABSTAIN_THRESHOLD`. The eval report's risk-coverage table shows what each threshold
costs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from qa.schemas import AnswerSignals
from qa.text.support import content_stems, content_terms

__all__ = ["AnswerSignals", "Calibrator", "answer_type_fit", "calibrator_for", "echoes_question", "feature_vector"]

FEATURES = (
    "log_p_none", "has_p_none", "retrieval", "inverse_rank", "question_overlap", "question_unseen", "answer_support",
    "question_echo", "p_sentence", "answer_logprob", "answer_logprob_sum", "p_verified",
)  # fmt: skip
"""Every input a calibrator may use; a calibration file names the ones it was fitted on.
Answer-type fit and answer length are measured and reported but not used: on development
data they pointed one way for SQuAD and the other for news."""


def feature_vector(
    s: AnswerSignals, means: Mapping[str, float] | None = None, names: Sequence[str] = FEATURES
) -> list[float]:
    """The calibrator's inputs `names`, in that order (p_none on a log scale: 1e-6 -> 0, 1 -> 1;
    the answer's mean log-probability from -5 or less -> 0 to 0 -> 1, its total from -10 or
    less -> 0 to 0 -> 1; p_verified as it is).

    A signal the reply lacks (no logprobs, or no check made) is set to its average on the
    development data the calibrator was fitted on (`means`) when given, else 0, so a backend
    that gives no logprobs is judged on the other signals, not as if the model were unsure.
    """

    def scaled(value: float | None, name: str, scale: Callable[[float], float]) -> float:
        return scale(value) if value is not None else (means or {}).get(name, 0.0)

    values = {
        "log_p_none": scaled(s.p_none, "log_p_none", lambda p: 1.0 + math.log10(max(p, 1e-6)) / 6.0),
        "has_p_none": 1.0 if s.p_none is not None else 0.0,
        "retrieval": s.retrieval,
        "inverse_rank": 1.0 / max(1, s.rank),
        "question_overlap": s.question_overlap,
        "question_unseen": s.question_unseen,
        "answer_support": s.answer_support,
        "question_echo": 1.0 if s.question_echo else 0.0,
        "p_sentence": scaled(s.p_sentence, "p_sentence", float),
        "answer_logprob": scaled(s.answer_logprob, "answer_logprob", lambda v: 1.0 + max(-5.0, v) / 5.0),
        "answer_logprob_sum": scaled(s.answer_logprob_sum, "answer_logprob_sum", lambda v: 1.0 + max(-10.0, v) / 10.0),
        "p_verified": scaled(s.p_verified, "p_verified", float),
    }
    return [values[name] for name in names]


_YEAR = re.compile(r"\b(1\d{3}|20\d{2})s?\b")
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|million|billion|dozen|several|half)\b",
    re.I,
)
_MONTH = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(century|decade|today|yesterday|monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|month|year)s?\b",
    re.I,
)


def answer_type_fit(question: str, answer: str) -> int:
    """1 when `answer` has the shape `question` asks for, -1 when it lacks it, 0 when unclear."""
    q = question.lower()
    if re.search(r"\bhow (many|much|long|old|far|large|big)\b|\bwhat (percentage|percent|number|amount)\b", q):
        return 1 if _NUMBER.search(answer) else -1
    if re.search(
        r"\bwhen\b|\bwhat (year|date|month|day|century|decade)\b|\bwhich (year|date|month|century|decade)\b", q
    ):
        return 1 if (_YEAR.search(answer) or _MONTH.search(answer) or _NUMBER.search(answer)) else -1
    if re.search(r"^\s*who\b|\bwhich (person|man|woman|leader|king|president)\b", q):
        return 1 if re.search(r"\b[A-Z][a-z]+", answer) else -1
    return 0


def echoes_question(question: str, answer: str) -> bool:
    """True when every content word of `answer` (stemmed) is a word of `question`.

    An answer is the part of the evidence the question does not already say: in the seed and
    squad-dev runs of Qwen2.5-Coder-0.5B an answer made only of the question's own words was
    wrong 40 times in 41.
    """
    a_terms = content_stems(answer)
    return bool(a_terms) and a_terms <= content_stems(question)


def _neighbourhood_terms(sentences: list[str], number: int) -> set[str]:
    terms: set[str] = set()
    for n in (number - 1, number, number + 1):
        if 1 <= n <= len(sentences):
            terms |= content_terms(sentences[n - 1])
    return terms


def unseen_share(question: str, sentences: list[str]) -> float:
    """Share of the question's content words (stemmed to 5 letters) that no sentence uses."""
    q_terms = content_stems(question)
    if not q_terms:
        return 0.0
    return round(len(q_terms - _article_stems(tuple(sentences))) / len(q_terms), 4)


@lru_cache(maxsize=16)
def _article_stems(sentences: tuple[str, ...]) -> frozenset[str]:
    """Every stemmed content word of an article: the same for each question about it."""
    return frozenset(t for s in sentences for t in content_stems(s))


def measure(
    question: str,
    answer: str,
    number: int,
    sentences: list[str],
    p_none: float | None,
    retrieval: Any,
    *,
    p_sentence: float | None = None,
    answer_logprob: float | None = None,
    answer_logprob_sum: float | None = None,
    p_verified: float | None = None,
    cited: int | None = None,
) -> AnswerSignals:
    """`AnswerSignals` for an answer citing sentence `number` (1-based) of `sentences`."""
    unseen = unseen_share(question, sentences)
    if not 1 <= number <= len(sentences):
        return AnswerSignals(
            sentence=number, candidate=answer, p_none=p_none, retrieval=0.0, rank=len(sentences) + 1,
            question_overlap=0.0, question_unseen=unseen, answer_support=0.0, type_fit=answer_type_fit(question, answer),
            question_echo=echoes_question(question, answer), p_sentence=p_sentence, answer_logprob=answer_logprob,
            answer_logprob_sum=answer_logprob_sum, p_verified=p_verified, cited=cited,
        )  # fmt: skip
    q_terms = content_terms(question)
    a_terms = content_terms(answer)
    in_sentence = content_terms(sentences[number - 1])
    near = _neighbourhood_terms(sentences, number)
    return AnswerSignals(
        sentence=number,
        candidate=answer,
        p_none=p_none,
        retrieval=round(retrieval.relative(number), 4),
        rank=retrieval.rank(number),
        question_overlap=round(len(q_terms & near) / len(q_terms), 4) if q_terms else 0.0,
        question_unseen=unseen,
        answer_support=round(len(a_terms & in_sentence) / len(a_terms), 4) if a_terms else 1.0,
        type_fit=answer_type_fit(question, answer),
        question_echo=echoes_question(question, answer),
        p_sentence=None if p_sentence is None else round(p_sentence, 4),
        answer_logprob=None if answer_logprob is None else round(answer_logprob, 4),
        answer_logprob_sum=None if answer_logprob_sum is None else round(answer_logprob_sum, 4),
        p_verified=None if p_verified is None else round(p_verified, 4),
        cited=cited,
    )


@dataclass(frozen=True)
class Calibrator:
    """A logistic model from `AnswerSignals` to the probability that the answer is right."""

    model: str
    weights: tuple[float, ...]
    bias: float
    threshold: float
    """Keep an answer when its confidence is at least this."""
    source: str
    """Where the weights came from (the fitting run), for provenance."""
    means: tuple[float, ...] | None = None
    """Each feature's mean on the development data, used for signals a reply lacks."""
    features: tuple[str, ...] = FEATURES
    """The inputs the weights are for, in their order (a subset of `FEATURES`)."""

    def confidence(self, signals: AnswerSignals) -> float:
        means = dict(zip(self.features, self.means, strict=True)) if self.means is not None else None
        x = feature_vector(signals, means, self.features)
        z = self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "features": list(self.features), "weights": list(self.weights), "bias": self.bias,
            "threshold": self.threshold, "source": self.source,
        } | ({"means": list(self.means)} if self.means is not None else {})  # fmt: skip


# Used for a model with no fitted calibration: trust the model's own "no sentence" when it
# gives logprobs, the retrieval match and support otherwise. Deliberately lenient.
_GENERIC = Calibrator(
    model="*",
    weights=(-3.0, 1.5, 0.5, 0.5, 1.0, -1.0, 1.0, -1.5),
    bias=-0.5,
    threshold=0.35,
    source="hand-set prior (no calibration fitted for this model)",
    features=FEATURES[:8],
)


def _slug(model: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


@cache
def calibrator_for(model: str, checked: bool = False) -> Calibrator:
    """The fitted calibration for `model` (package data `qa/calibration/<slug>.json`), else a
    generic prior. `checked`: answers carry the answer check (`QA_VERIFY=on`), so the
    calibration fitted with it (`<slug>.verify.json`) is used where there is one."""
    names = [f"{_slug(model)}.verify.json", f"{_slug(model)}.json"] if checked else [f"{_slug(model)}.json"]
    for name in names:
        try:
            raw = resources.files("qa.calibration").joinpath(name).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError, OSError):
            continue
        data = json.loads(raw)
        features = data.get("features")
        if not isinstance(features, list) or not features or not set(features) <= set(FEATURES):
            return _GENERIC  # fitted on inputs this version does not measure
        return Calibrator(
            model=data["model"], weights=tuple(float(w) for w in data["weights"]), bias=float(data["bias"]),
            threshold=float(data["threshold"]), source=str(data.get("source", "")),
            means=tuple(float(m) for m in data["means"]) if data.get("means") else None, features=tuple(features),
        )  # fmt: skip
    return _GENERIC

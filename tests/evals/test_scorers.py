"""Tests for qa.evals.scorers: literal cases, values computed by hand."""

from __future__ import annotations

import math

import pydantic
import pytest

from qa.errors import APICallError, EvalError, OutputValidationError
from qa.evals.dataset import KeyFact, QuestionCase
from qa.evals.scorers import (
    CaseOutcome,
    Score,
    abstention_metrics,
    alias_match,
    exact_match,
    f1,
    match_fact,
    mean_with_ci,
    numbers_present,
    score_answer,
    score_summary,
    split_sentences,
    summary_sentences,
)
from qa.schemas import (
    Answer,
    AnswerResult,
    DroppedQuote,
    Entity,
    Figure,
    Grounding,
    KeyPoint,
    Provenance,
    Summary,
    Usage,
)

Z2 = 1.959963984540054**2


def make_result(
    text: str, status: str = "answered", verified: int = 1, repaired: int = 0, dropped: int = 0
) -> AnswerResult:
    return AnswerResult(
        question="q",
        answer=Answer(answer=text, status=status, citations=[]),
        grounding=Grounding(
            verified=verified,
            repaired=repaired,
            dropped=[DroppedQuote(quote=f"lost {i}", where=f"citations[{i}]") for i in range(dropped)],
            abstained=False,
            unsupported_answer=False,
            unsupported_key_points=[],
        ),
        usage=Usage.zero(),
        provenance=Provenance(prompt="ask", prompt_version="1+00000000", backend="test", model="m"),
    )


MONEY = QuestionCase(
    id="q1", question="How much credit?", answerable=True, answers=["$9.2 billion"], numbers=["$9.2 billion"]
)
WHO = QuestionCase(
    id="q2", question="Who is Colombia's president?", answerable=True, answers=["Gustavo Petro"], aliases=["Petro"]
)
NONE = QuestionCase(id="q3", question="What interest rate?", answerable=False, answers=[])


# --- EM / F1 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("The Beijing!", ["beijing"], 1.0),
        ("in Beijing", ["Beijing"], 0.0),
        ("$9.2bn", ["9.2 billion dollars"], 1.0),
        ("Petro", ["Gustavo Petro", "Petro"], 1.0),
        ("", [], 1.0),  # no golds means the empty answer (SQuAD 2.0)
        ("Beijing", [], 0.0),
    ],
)
def test_exact_match(prediction: str, golds: list[str], expected: float) -> None:
    assert exact_match(prediction, golds) == expected


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("in Beijing", ["Beijing"], 2 / 3),  # P 1/2, R 1
        ("Xi Jinping told Petro", ["Xi Jinping", "Gustavo Petro"], 2 / 3),  # max over golds: 2/3 vs 1/3
        ("pledged $9.2bn", ["$9.2 billion"], 0.8),  # [pledged 9200000000 usd] vs [9200000000 usd]
        ("road road", ["road"], 2 / 3),  # multiset: one 'road' in common
        ("belt and road", ["road and belt"], 1.0),
        ("", [""], 1.0),
        ("the", ["a"], 1.0),  # both normalise to nothing
        ("", ["Beijing"], 0.0),
        ("Beijing", [""], 0.0),
        ("Panama", ["Beijing"], 0.0),
    ],
)
def test_f1(prediction: str, golds: list[str], expected: float) -> None:
    assert f1(prediction, golds) == pytest.approx(expected)


# --- alias / numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("Xinhua said so", ["Xi"], False),
        ("Xi said so", ["Xi"], True),
        ("Xi", ["Xi Jinping"], True),  # prediction covers half the gold
        ("President", ["President Xi Jinping"], False),  # covers a third: not enough
        ("Xi's government", ["Xi"], True),  # possessive, via the loose form
        ("China is second largest", ["second-largest"], True),
        ("the U.S.", ["US"], True),
        ("", ["Xi"], False),
        ("the", ["a"], False),  # both empty after normalisation
        ("Colombia", ["Latin American leaders"], False),
    ],
)
def test_alias_match(prediction: str, golds: list[str], expected: bool) -> None:
    assert alias_match(prediction, golds) is expected


@pytest.mark.parametrize(
    ("text", "numbers", "expected"),
    [
        ("Xi pledged $9.2bn", ["9.2 billion"], True),
        ("Xi pledged $9.2 million", ["9.2 billion"], False),
        ("more than twenty nations", ["20"], True),
        ("took over in Aug 2022", ["August 2022"], True),
        ("took over in 2022", ["August 2022"], False),
        ("anything", [], True),
        ("14 months and 2013", ["14", "2013"], True),
        ("14 months", ["14", "2013"], False),
    ],
)
def test_numbers_present(text: str, numbers: list[str], expected: bool) -> None:
    assert numbers_present(text, numbers) is expected


# --- Score -----------------------------------------------------------------------------


def test_score_rejects_value_verdict_mismatch_and_nan() -> None:
    with pytest.raises(pydantic.ValidationError):
        Score(value=None, verdict="correct", reason="r", decided_by="exact")
    with pytest.raises(pydantic.ValidationError):
        Score(value=0.5, verdict="unscored", reason="r", decided_by="none")
    with pytest.raises(pydantic.ValidationError):
        Score(value=math.nan, verdict="incorrect", reason="r", decided_by="f1")


# --- score_answer ----------------------------------------------------------------------


def test_answer_with_required_number_is_correct() -> None:
    scores = score_answer(MONEY, make_result("Xi pledged 9.2 billion dollars"), None)
    assert set(scores) == {"correct", "em", "f1", "citation_valid", "schema_valid"}
    assert (scores["correct"].verdict, scores["correct"].decided_by) == ("correct", "numbers")
    assert scores["em"].value == 0.0
    assert scores["f1"].value == pytest.approx(2 / 3)  # [xi pledged 9200000000 usd] vs [9200000000 usd]
    assert scores["schema_valid"].value == 1.0


def test_wrong_scale_fails_the_number_gate_even_with_f1_half() -> None:
    scores = score_answer(MONEY, make_result("$9.2 million"), None)
    assert scores["f1"].value == pytest.approx(0.5)  # 'usd' in common
    assert (scores["correct"].verdict, scores["correct"].decided_by) == ("incorrect", "numbers")
    assert "9.2 billion" in scores["correct"].reason


@pytest.mark.parametrize(
    ("text", "verdict", "decided_by"),
    [
        ("Petro", "correct", "exact"),
        ("It was Petro, Colombia's leader", "correct", "alias"),
        ("president Gustavo", "correct", "f1"),  # F1 exactly 0.5 against 'Gustavo Petro'
        ("Xi Jinping", "incorrect", "f1"),
    ],
)
def test_answerable_routes(text: str, verdict: str, decided_by: str) -> None:
    correct = score_answer(WHO, make_result(text), None)["correct"]
    assert (correct.verdict, correct.decided_by) == (verdict, decided_by)


def test_abstaining_on_answerable_is_incorrect() -> None:
    correct = score_answer(WHO, make_result("", status="not_in_article", verified=0), None)["correct"]
    assert (correct.value, correct.decided_by) == (0.0, "abstention")


@pytest.mark.parametrize(("status", "value"), [("not_in_article", 1.0), ("answered", 0.0)])
def test_unanswerable_is_right_only_when_abstaining(status: str, value: float) -> None:
    scores = score_answer(NONE, make_result("" if value else "5 percent", status=status, verified=0), None)
    for name in ("correct", "em", "f1"):
        assert (scores[name].value, scores[name].decided_by) == (value, "abstention")


def test_failed_call_is_unscored_with_the_error_as_reason() -> None:
    scores = score_answer(WHO, None, "APICallError: server said 500")
    for name in ("correct", "em", "f1", "citation_valid", "schema_valid"):
        assert scores[name].verdict == "unscored"
        assert scores[name].value is None
        assert "server said 500" in scores[name].reason


@pytest.mark.parametrize(
    "error",
    [
        OutputValidationError("never valid", attempts=3, last_output="{}", errors=["answer: missing"]),
        "OutputValidationError: the output did not match the schema after 3 attempts",
    ],
)
def test_schema_failure_scores_schema_valid_zero(error: object) -> None:
    scores = score_answer(WHO, None, error)
    assert (scores["schema_valid"].value, scores["schema_valid"].verdict) == (0.0, "incorrect")
    assert scores["correct"].verdict == "unscored"


def test_other_exception_leaves_schema_unscored() -> None:
    scores = score_answer(WHO, None, APICallError("bad gateway", status_code=502))
    assert scores["schema_valid"].verdict == "unscored"
    assert "APICallError: bad gateway" in scores["schema_valid"].reason


def test_no_result_and_no_error_is_unscored() -> None:
    assert {s.verdict for s in score_answer(WHO, None, None).values()} == {"unscored"}


@pytest.mark.parametrize(
    ("verified", "repaired", "dropped", "value", "verdict"),
    [
        (2, 0, 0, 1.0, "correct"),
        (1, 1, 1, 2 / 3, "incorrect"),
        (0, 0, 2, 0.0, "incorrect"),
        (0, 0, 0, None, "unscored"),
    ],
)
def test_citation_valid(verified: int, repaired: int, dropped: int, value: float | None, verdict: str) -> None:
    score = score_answer(WHO, make_result("Petro", verified=verified, repaired=repaired, dropped=dropped), None)[
        "citation_valid"
    ]
    assert score.verdict == verdict
    assert score.value == (None if value is None else pytest.approx(value))


# --- aggregates ------------------------------------------------------------------------


def test_abstention_metrics_on_a_literal_list() -> None:
    cases = [
        CaseOutcome(id="a1", answerable=True, abstained=False, correct=True),
        CaseOutcome(id="a2", answerable=True, abstained=False, correct=False),
        CaseOutcome(id="a3", answerable=True, abstained=True, correct=False),
        CaseOutcome(id="u1", answerable=False, abstained=True, correct=True),
        CaseOutcome(id="u2", answerable=False, abstained=False, correct=False),
        CaseOutcome(id="x1", answerable=False, abstained=None, correct=None),
    ]
    m = abstention_metrics(cases)
    assert (m.answerable_accuracy, m.answerable_n) == (pytest.approx(1 / 3), 3)
    assert (m.unanswerable_accuracy, m.unanswerable_n) == (0.5, 2)
    assert (m.abstention_precision, m.abstention_recall) == (0.5, 0.5)  # TP 1 of 2 abstentions; 1 of 2 unanswerable
    assert (m.abstained, m.unscored) == (2, 1)


def test_abstention_metrics_empty_is_none_not_nan() -> None:
    m = abstention_metrics([])
    assert (m.answerable_accuracy, m.unanswerable_accuracy, m.abstention_precision, m.abstention_recall) == (None,) * 4


def test_mean_with_ci_empty() -> None:
    assert mean_with_ci([]) == (None, None, None, 0)
    assert mean_with_ci([None, None]) == (None, None, None, 0)


def test_mean_with_ci_all_correct_is_wilson() -> None:
    mean, low, high, n = mean_with_ci([1.0] * 10)
    assert (mean, n) == (1.0, 10)
    assert low == pytest.approx(10 / (10 + Z2))  # Wilson lower bound when every case is right
    assert high == pytest.approx(1.0)


def test_mean_with_ci_half_right() -> None:
    mean, low, high, n = mean_with_ci([0, 1, 1, 0, None])
    assert (mean, n) == (0.5, 4)
    assert (low, high) == (pytest.approx(0.1500, abs=1e-3), pytest.approx(0.8500, abs=1e-3))


def test_mean_with_ci_continuous_uses_t_and_clips() -> None:
    mean, low, high, n = mean_with_ci([0.5, 0.7, 0.9])
    assert (mean, n) == (pytest.approx(0.7), 3)
    assert low == pytest.approx(0.7 - 4.303 * 0.2 / math.sqrt(3))
    assert high == 1.0  # 0.7 + 0.497 clipped: every value is in [0, 1]
    assert mean_with_ci([2.0, 4.0])[1:3] == (pytest.approx(3 - 12.706), pytest.approx(3 + 12.706))
    assert mean_with_ci([0.5]) == (0.5, None, None, 1)


def test_mean_with_ci_rejects_nan() -> None:
    with pytest.raises(EvalError):
        mean_with_ci([0.5, math.nan])


# --- summaries -------------------------------------------------------------------------

ARTICLE = "China's President Xi Jinping pledged $9.2 billion in credit in Beijing. Panama left the pact in February."
FACTS = [
    KeyFact(
        id="f1",
        fact="Xi pledged $9.2 billion in credit.",
        aliases=["in credit"],
        numbers=["9.2 billion"],
        importance="core",
    ),
    KeyFact(id="f2", fact="Panama left the pact.", aliases=["Panama left"], importance="core"),
    KeyFact(id="f3", fact="It happened in Beijing.", patterns=[r"\bbeijing\b"], importance="supporting"),
]
TEXT = "Xi pledged $9.2bn in credit. Panama left in March 2024 after talks with Marco Rubio. The weather was fine."


def test_split_sentences() -> None:
    text = (
        "Xi met Petro. He wrote on X. From now on, ties date to Oct. 2023 visits by U.S. officials! Really?\nNext line"
    )
    assert split_sentences(text) == [
        "Xi met Petro.",
        "He wrote on X.",
        "From now on, ties date to Oct. 2023 visits by U.S. officials!",
        "Really?",
        "Next line",
    ]


def test_match_fact_needs_alias_and_numbers() -> None:
    assert match_fact("Xi pledged $9.2bn in credit", FACTS[0]) is not None
    assert match_fact("Xi pledged $9.2 million in credit", FACTS[0]) is None
    assert match_fact("Xi pledged $9.2bn", FACTS[0]) is None  # number without the alias


def test_score_summary_literal() -> None:
    result = score_summary(TEXT, ARTICLE, FACTS)
    assert [c.facts for c in result.sentences] == [["f1"], ["f2"], []]
    assert (result.facts_found, result.facts_missing) == (["f1", "f2"], ["f3"])
    assert result.completeness.value == pytest.approx(2 / 3)
    assert result.completeness.verdict == "correct"  # the missing fact is only supporting
    assert result.conciseness.value == pytest.approx(2 / 3)
    assert result.faithfulness.value == pytest.approx(2 / 3)
    second = result.sentences[1]
    assert (second.error, second.decided_by, second.unsupported_numbers) == (True, "numbers", ["2024-03"])
    assert [c.decided_by for c in result.sentences] == ["none", "numbers", "none"]


def test_judge_is_asked_only_about_undecided_sentences() -> None:
    asked: list[str] = []

    def judge(sentence: str, article: str) -> bool | None:
        asked.append(sentence)
        return "weather" not in sentence

    result = score_summary(TEXT, ARTICLE, FACTS, judge=judge)
    assert asked == ["Xi pledged $9.2bn in credit.", "The weather was fine."]
    assert [c.decided_by for c in result.sentences] == ["judge", "numbers", "judge"]
    assert result.faithfulness.value == pytest.approx(1 / 3)
    assert result.faithfulness.decided_by == "judge"


def test_judge_that_cannot_decide_or_fails_leaves_sentence_undecided() -> None:
    undecided = score_summary("The weather was fine.", ARTICLE, FACTS, judge=lambda s, a: None).sentences[0]
    assert (undecided.error, undecided.decided_by) == (False, "none")
    assert "could not decide" in undecided.reason

    def failing(sentence: str, article: str) -> bool | None:
        raise APICallError("judge backend down")

    failed = score_summary("The weather was fine.", ARTICLE, FACTS, judge=failing).sentences[0]
    assert failed.decided_by == "none" and "judge backend down" in failed.reason


@pytest.mark.parametrize(
    ("sentence", "error", "names"),
    [
        ("Xi met Marco Rubio in Beijing.", True, ["Marco Rubio"]),
        ("Chinese President Xiang Li went to Beijing.", True, ["Xiang Li"]),  # only the unknown words
        ("Chinese officials pledged credit.", False, []),  # 'Chin' + 'ese'
        ("Meanwhile Panama left.", False, []),  # a sentence starter is not a name
        ("Xi went in Oct. 2025.", True, []),  # the month is known; 2025-10 is not in the article
    ],
)
def test_name_check(sentence: str, error: bool, names: list[str]) -> None:
    check = score_summary(sentence, ARTICLE, FACTS).sentences[0]
    assert (check.error, check.unsupported_names) == (error, names)


def test_title_case_names_are_reported_but_not_counted() -> None:
    check = score_summary("Xi Pledges Credit In Beijing After Panama Left The Pact", ARTICLE, FACTS).sentences[0]
    assert check.title_case is True
    assert check.unsupported_names == ["After"]
    assert check.error is False


def test_empty_summary_and_missing_facts_are_unscored() -> None:
    empty = score_summary("", ARTICLE, FACTS)
    assert {s.verdict for s in empty.metrics().values()} == {"unscored"}
    no_facts = score_summary(TEXT, ARTICLE, [])
    assert no_facts.completeness.verdict == "unscored"
    assert no_facts.conciseness.verdict == "unscored"
    assert no_facts.faithfulness.value == pytest.approx(2 / 3)


def test_summary_model_parts_become_sentences() -> None:
    summary = Summary(
        headline="Xi pledges credit",
        summary="Xi pledged $9.2bn in credit. Panama left.",
        key_points=[KeyPoint(point=p, quote="q") for p in ("One.", "Two.", "Three.")],
        entities=[Entity(name="Xi Jinping", type="person", role="pledged credit")],
        figures=[Figure(value="$9.2 billion", kind="amount", meaning="credit pledged", quote="q")],
    )
    pairs = summary_sentences(summary)
    assert [w for w, _ in pairs] == [
        "headline",
        "summary",
        "summary",
        "key_points[0]",
        "key_points[1]",
        "key_points[2]",
        "figures[0]",
    ]
    assert pairs[-1][1] == "credit pledged: $9.2 billion"

"""Short answers: a span of the cited sentence, without the words that restate the question."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.text.spans import ShortAnswer, asks_for_fact, short_answer

CREDIT = (
    "The agreement came on the sidelines of a gathering of Latin American leaders in Beijing "
    'during which Xi also pledged $9.2 billion in credit towards "development".'
)
SNP = (
    "Cameron congratulated the SNP on their victory but vowed to campaign for the Union in the independence referendum."
)
HENRY = "Henry of Navarre, a Huguenot, took the throne as Henry IV in 1589."
TRADE = "China is Colombia's second-largest trading partner after the United States."


@pytest.mark.parametrize(
    ("question", "answer", "sentence", "expected"),
    [
        # The question's words cut from the end; the number stays.
        ("How much credit did Xi pledge?", "$9.2 billion in credit", CREDIT, ShortAnswer("$9.2 billion", "verified", True)),
        # Found in the sentence: shown with the sentence's own characters.
        ("Who is Colombia's largest partner?", "The United States.", TRADE, ShortAnswer("the United States", "verified", False)),
        # A restatement of the question, in the model's own words (not in the sentence): still cut.
        (
            "Who congratulated the SNP while vowing to campaign against their referendum?",
            "Cameron congratulated the SNP while vowing to campaign against their referendum",
            SNP,
            ShortAnswer("Cameron", "free", True),
        ),
        # Never inside a name, although "Henry" is a word of the question.
        ("What was Henry IV known as before taking the throne?", "Henry of Navarre", HENRY, ShortAnswer("Henry of Navarre", "verified", False)),
        # Words of the sentence, out of order or with one missing: the shortest part holding them.
        (
            "Where does China rank among trading partners?",
            "second-largest partner",
            TRADE,
            ShortAnswer("second-largest", "repaired", True),  # then the question's "trading partner" cut
        ),
    ],
)  # fmt: skip
def test_short_answers(question: str, answer: str, sentence: str, expected: ShortAnswer) -> None:
    assert short_answer(question, answer, sentence) == expected


def test_repair_shortens_to_the_words_holding_the_answer() -> None:
    result = short_answer("Where did the agreement come?", "a gathering in Beijing", CREDIT)
    assert result == ShortAnswer("gathering of Latin American leaders in Beijing", "repaired", False)


def test_words_the_sentence_lacks_keep_the_models_text() -> None:
    result = short_answer("When did Petro visit?", "about three months before the deal", CREDIT)
    assert result == ShortAnswer("about three months before the deal", "free", False)


def test_why_and_how_answers_are_kept_as_written() -> None:
    answer = "Because the credit goes towards development in Colombia."
    assert short_answer("Why did Xi pledge credit?", answer, CREDIT) == ShortAnswer(answer, "free", False)
    assert short_answer("How did Xi help?", "He pledged credit", CREDIT).text == "He pledged credit"


def test_how_many_asks_for_a_fact() -> None:
    assert asks_for_fact("How many countries take part?") and asks_for_fact("How much credit?")
    assert not asks_for_fact("How did it start?") and not asks_for_fact("Why did it start?")
    assert short_answer("How many beds does the hospital have?", "700 beds", "It has 700 beds.").text == "700"


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Did China pledge credit?", "not pledged"),  # a negation is never cut
        ("What did Xi pledge?", "pledged"),  # nothing but the question's words: nothing is cut
        ("In which year?", "1589"),
    ],
)
def test_something_the_question_does_not_say_always_remains(question: str, answer: str) -> None:
    result = short_answer(question, answer, "Xi not pledged credit in 1589, and pledged again.")
    assert result.text == answer


def test_a_number_at_the_end_is_never_cut() -> None:
    result = short_answer("When did Henry take the throne in 1589?", "took the throne in 1589", HENRY)
    assert result.text.endswith("1589")


def test_a_bracket_or_quote_opened_inside_the_answer_is_closed() -> None:
    council = "Power is vested in a unicameral Warsaw City Council (Rada Miasta), which has 60 members."
    result = short_answer("Which body governs Warsaw?", "Warsaw City Council (Rada Miasta)", council)
    assert result == ShortAnswer("Warsaw City Council (Rada Miasta)", "verified", False)


def test_a_possessive_does_not_stop_a_name_from_being_found() -> None:
    result = short_answer("Who was fired?", "Kissinger", "The President fired Kissinger's deputy.")
    assert result == ShortAnswer("Kissinger", "verified", False)


_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,.;:'\"()[]-$%’“”«»éß\n\t", max_size=80)


@settings(max_examples=300, deadline=None)
@given(question=_TEXT, answer=_TEXT, sentence=_TEXT, cut=st.tuples(st.integers(0, 80), st.integers(0, 30)))
def test_a_short_answer_is_always_text_of_the_sentence_or_of_the_answer(
    question: str, answer: str, sentence: str, cut: tuple[int, int]
) -> None:
    answer = answer if cut[1] % 2 else sentence[cut[0] : cut[0] + cut[1]]  # half the time, a piece of the sentence
    result = short_answer(question, answer, sentence)
    assert result.text in (sentence if result.form != "free" else answer)

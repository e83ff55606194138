"""Property tests for the answer normaliser and the SQuAD scorers (`qa.evals`), with hypothesis.

What holds everywhere: `normalize_answer` is idempotent and its output is SQuAD-clean;
money forms normalise equal; `exact_match(x, [x]) == 1`; `f1` is symmetric and in [0, 1].

What does not: `normalize_numbers` is NOT idempotent on arbitrary text, although its
docstring says it is. It is idempotent on text made of the quantity forms it documents
(money, percentages, number words, dates) between ordinary words, which is what the
property below generates. The gaps are pinned, one literal case per kind, in
`NOT_IDEMPOTENT`: fixing one makes its case fail, and the case should then be deleted.
"""

from __future__ import annotations

import string
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qa.evals.normalize import normalize_answer, normalize_numbers, normalize_text
from qa.evals.scorers import exact_match, f1

SETTINGS = settings(max_examples=200, deadline=None)

# -- strategies ----------------------------------------------------------------------

WORDS = [
    "China",
    "pledged",
    "credit",
    "in",
    "of",
    "more",
    "than",
    "about",
    "Petro",
    "Xi's",
    "two-way",
    "second-largest",
    "G20",
    "1980s",
    "banana",
    "theory",
    "another",
    "Bogotá",
    "北京",
    "straße",
]
ARTICLES = ["a", "an", "the", "A", "An", "The", "THE", "aN"]
SEPARATORS = [" ", "  ", "\t", "\n", ", ", ". ", "! ", "? ", " - ", "'", '"', "(", ")", ":", "\u00a0", "\u2019", ""]

tokens = st.one_of(st.sampled_from(WORDS), st.sampled_from(ARTICLES), st.text(max_size=6))
# Mostly word-like text with articles, punctuation and odd whitespace; sometimes any text.
texts = st.one_of(
    st.lists(st.tuples(tokens, st.sampled_from(SEPARATORS)), max_size=12).map(lambda ps: "".join(a + b for a, b in ps)),
    st.text(max_size=60),
)


def amounts() -> st.SearchStrategy[str]:
    """An amount as a person writes it: an integer (maybe with separators) or 1-2 decimals."""
    integers = st.integers(0, 999_999).flatmap(lambda n: st.sampled_from([str(n), f"{n:,}"]))
    decimals = st.tuples(st.integers(0, 9999), st.sampled_from([1, 2]), st.integers(0, 99)).map(
        lambda t: f"{t[0]}.{t[2] % 10 ** t[1]:0{t[1]}d}"
    )
    return st.one_of(integers, decimals)


MONTHS = ["January", "May", "October", "Oct.", "Sept", "December", "dec"]
NUMBER_WORDS = [
    "twenty-one",
    "one hundred and fifty",
    "a million",
    "three thousand",
    "nineteen",
    "ninety nine",
    "two thousand and five",
    "twenty billion",
]
PLAIN = [
    "China",
    "pledged",
    "credit",
    "in",
    "towards",
    "more than",
    "about",
    "people",
    "nations",
    "and",
    "of",
    "the",
    "G20",
    "1980s",
    "two-way",
    "20th",
]


@st.composite
def quantity_phrase(draw: st.DrawFn) -> str:
    """One of the quantity forms `normalize_numbers` documents."""
    amount = draw(amounts())
    month = draw(st.sampled_from(MONTHS))
    day, year = draw(st.integers(1, 28)), draw(st.integers(1900, 2099))
    forms = [
        f"${amount} billion",
        f"{amount} billion dollars",
        f"US${amount} bn",
        f"€{amount}m",
        f"£{amount}",
        f"{amount} yuan",
        f"{amount}%",
        f"{amount} per cent",
        amount,
        f"{month} {day}, {year}",
        f"{day} {month} {year}",
        f"{month} {year}",
        f"{year}-{day % 12 + 1:02d}-{day:02d}",
        draw(st.sampled_from(NUMBER_WORDS)),
    ]
    return draw(st.sampled_from(forms))


documented_text = st.lists(st.one_of(quantity_phrase(), st.sampled_from(PLAIN)), min_size=1, max_size=8).map(" ".join)

# -- normalize_answer ----------------------------------------------------------------


@SETTINGS
@given(texts)
def test_normalize_answer_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once


@SETTINGS
@given(texts)
def test_normalize_answer_output_is_squad_clean(text: str) -> None:
    out = normalize_answer(text)
    assert not any(c in string.ascii_uppercase for c in out)
    assert not any(c in string.punctuation for c in out)
    assert "  " not in out and out == out.strip()
    assert all(c == " " or not c.isspace() for c in out)  # the only whitespace left is single spaces
    assert not {"a", "an", "the"} & set(out.split(" "))


# -- normalize_numbers ---------------------------------------------------------------


@SETTINGS
@given(documented_text)
def test_normalize_numbers_is_idempotent_on_the_documented_forms(text: str) -> None:
    once = normalize_numbers(text)
    assert normalize_numbers(once) == once


NOT_IDEMPOTENT = [  # (input, first pass, second pass)
    # Dates are read before number words, so a number word next to a month becomes a date only later.
    pytest.param("May fourteen", "May 14", "--05-14", id="number-word-after-month"),
    pytest.param("October two thousand twenty-three", "October 2023", "2023-10", id="number-word-year"),
    # Digit groups joined by "-" turn into an ISO date once leading or decimal zeros are dropped.
    pytest.param("2025-005-14", "2025-5-14", "2025-05-14", id="zero-padded-digit-groups"),
    pytest.param("2025.0-05-14", "2025-5-14", "2025-05-14", id="decimal-zero-digit-groups"),
    # "1.0" is read first; the ".0" after it is left, then read on the next pass.
    pytest.param("version 1.0.0", "version 1.0", "version 1", id="dotted-version"),
    # A repeated currency mark or scale word is consumed one per pass.
    pytest.param("$ $5", "$ 5 usd", "5 usd", id="repeated-currency-mark"),
    pytest.param("one bn bn", "1000000000 bn", "1000000000000000000", id="repeated-scale"),
]


@pytest.mark.parametrize(("text", "first", "second"), NOT_IDEMPOTENT)
def test_where_normalize_numbers_is_not_idempotent(text: str, first: str, second: str) -> None:
    """Pins the known gaps: each input changes again on a second pass. Delete a case once it is fixed."""
    assert normalize_numbers(text) == first
    assert normalize_numbers(first) == second


@SETTINGS
@given(amounts())
def test_money_forms_normalise_equal(amount: str) -> None:
    forms = [f"${amount} billion", f"{amount} billion dollars", f"US${amount} bn"]
    value = Decimal(amount.replace(",", "")) * 10**9  # whole dollars: amounts have at most 2 decimals
    expected = f"{int(value)} usd"
    assert [normalize_numbers(form) for form in forms] == [expected] * 3
    assert len({normalize_text(form) for form in forms}) == 1


# -- exact_match and f1 --------------------------------------------------------------


@SETTINGS
@given(texts)
def test_exact_match_of_a_text_with_itself_is_one(text: str) -> None:
    assume(normalize_text(text))
    assert exact_match(text, [text]) == 1.0
    assert f1(text, [text]) == 1.0


@SETTINGS
@given(texts, texts)
def test_f1_is_symmetric_and_bounded(prediction: str, gold: str) -> None:
    forward, backward = f1(prediction, [gold]), f1(gold, [prediction])
    assert forward == backward
    assert 0.0 <= forward <= 1.0
    if exact_match(prediction, [gold]) == 1.0:
        assert forward == 1.0

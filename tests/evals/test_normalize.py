"""Tests for qa.evals.normalize: SQuAD normalisation and the number/date canonicaliser."""

from __future__ import annotations

import pytest

from qa.evals.normalize import (
    Quantity,
    extract_quantities,
    loosen,
    normalize_answer,
    normalize_numbers,
    normalize_text,
    quantity_supported,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Theory of a Thing", "theory of thing"),  # articles as words only; 'theory' keeps 'the'
        ("an anthem, a banana", "anthem banana"),
        ("Hello,   world!\n\tAgain?", "hello world again"),
        ("Xi's plan: (2013)", "xis plan 2013"),  # SQuAD glues the possessive
        ("second-largest", "secondlargest"),  # hyphen is punctuation, dropped without a space
        ("A", ""),
        ("  ", ""),
        ("\u2018quoted\u2019", "\u2018quoted\u2019"),  # typographic quotes are not string.punctuation
        ("THE END", "end"),
    ],
)
def test_normalize_answer_is_squad(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize(
    "variant",
    [
        "$9.2bn",
        "$9.2 billion",
        "9.2 billion dollars",
        "US$9.2 billion",
        "9,200,000,000 dollars",
        "USD 9.2 billion",
        "9.2 billion US dollars",
        "$9.2 bn",
        "$9,200 million",
        "$9.2-billion",
    ],
)
def test_money_forms_are_equal(variant: str) -> None:
    assert normalize_numbers(variant) == "9200000000 usd"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("9.2 billion", "9.2 million"),
        ("$9.2 billion", "9.2 billion euros"),
        ("150", "15"),
        ("20", "twelve"),
        ("May 14, 2025", "May 12, 2025"),
        ("October 2023", "October 2022"),
        ("$9.2bn", "$92bn"),
    ],
)
def test_different_numbers_stay_different(left: str, right: str) -> None:
    assert normalize_text(left) != normalize_text(right)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("more than 150", "more than 150"),
        ("twenty", "20"),
        ("Twenty-one", "21"),
        ("twenty one", "21"),
        ("ninety nine", "99"),
        ("one hundred and fifty", "150"),
        ("a hundred", "100"),
        ("two thousand and five", "2005"),
        ("a million dollars", "1000000 usd"),
        ("twenty billion dollars", "20000000000 usd"),
        ("one two three", "1 2 3"),
        ("two-way ties", "two-way ties"),  # a number word glued to a non-number is left alone
        ("hundreds of firms", "hundreds of firms"),
        ("5m people", "5000000 people"),
        ("10k", "10000"),
        ("5 m", "5 m"),  # a spaced one-letter scale could be metres
        ("2 hundred", "200"),
        ("9.20", "9.2"),
        ("20%", "20 percent"),
        ("20 per cent", "20 percent"),
        ("G20 and COVID-19", "G20 and COVID-19"),
        ("the 1980s", "the 1980s"),
        ("20th", "20th"),
        ("\u2018$9.2 billion in credit\u2019", "'9200000000 usd in credit'"),
    ],
)
def test_normalize_numbers_literal(raw: str, expected: str) -> None:
    assert normalize_numbers(raw) == expected


def test_twenty_equals_20() -> None:
    assert normalize_text("more than twenty nations") == normalize_text("more than 20 nations")


@pytest.mark.parametrize(
    ("variants", "canonical"),
    [
        (
            ["May 14, 2025", "14 May 2025", "2025-05-14", "May 14th, 2025", "14th of May 2025", "may 14 2025"],
            "2025-05-14",
        ),
        (["October 2023", "Oct 2023", "Oct. 2023", "October, 2023", "2023-10"], "2023-10"),
        (["May 12", "12 May", "--05-12"], "--05-12"),
    ],
)
def test_dates_are_equal(variants: list[str], canonical: str) -> None:
    assert {normalize_numbers(v) for v in variants} == {canonical}


@pytest.mark.parametrize("raw", ["February 30, 2025", "2025-13-01", "it may 20 be", "more than 20 may join"])
def test_impossible_or_lowercase_dates_are_left_alone(raw: str) -> None:
    assert not any(q.kind in ("date", "month", "monthday") for q in extract_quantities(raw))


@pytest.mark.parametrize("raw", ["$9.2bn on May 14, 2025", "twenty-one", "Oct. 2023, 20%", "9,200 million dollars"])
def test_normalize_numbers_is_idempotent(raw: str) -> None:
    once = normalize_numbers(raw)
    assert normalize_numbers(once) == once


def test_extract_quantities_in_order() -> None:
    found = extract_quantities("In October 2023 Xi pledged $9.2bn to more than twenty nations (2013).")
    assert found == [
        Quantity("month", "2023-10"),
        Quantity("number", "9200000000", "usd"),
        Quantity("number", "20"),
        Quantity("number", "2013"),
    ]


@pytest.mark.parametrize(
    ("required", "text", "expected"),
    [
        ("9.2 billion", "Xi pledged $9.2bn", True),
        ("$9.2 billion", "Xi pledged 9.2 billion", True),  # unit absent on one side
        ("$9.2 billion", "9.2 billion euros", False),
        ("9.2 billion", "9.2 million", False),
        ("May 2025", "on May 14, 2025", True),
        ("May 14, 2025", "in May 2025", False),
        ("2023", "in October 2023", True),  # a bare year is satisfied by a date in that year
        ("12", "on May 12, 2025", False),  # a day is not a number
        ("May 12", "Monday, May 12, 2025", True),
    ],
)
def test_quantity_supported(required: str, text: str, expected: bool) -> None:
    wanted = extract_quantities(required)
    assert wanted
    assert all(quantity_supported(q, extract_quantities(text)) for q in wanted) is expected


def test_loosen_splits_hyphens_and_drops_possessives() -> None:
    assert loosen("Xi's second-largest partner") == "xi second largest partner"
    assert loosen("the U.S. and China") == "us and china"

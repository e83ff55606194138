from __future__ import annotations

import pytest

from qa.text.support import answer_supported, content_terms

QUOTE = 'Xi also pledged $9.2 billion in credit towards "development".'


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("China pledged $9.2 billion in credit.", True),
        ("9.2 billion dollars of credit", True),
        ("PWNED", False),
        ("Panama left the pact.", False),
        ("12 years", None),  # computed quantities are not judged lexically
        ("", None),
        ("Yes.", None),
    ],
)
def test_answer_supported(answer: str, expected: bool | None) -> None:
    assert answer_supported(answer, [QUOTE]) is expected


def test_no_quotes_means_nothing_to_judge() -> None:
    assert answer_supported("China pledged credit", []) is None


def test_content_terms_fold_plurals_and_possessives_and_drop_stopwords() -> None:
    assert content_terms("The pledges of China’s leaders") == {"pledge", "china", "leader"}
    assert "the" not in content_terms("the article said")


def test_content_terms_are_remembered_but_each_caller_gets_its_own_set() -> None:
    first = content_terms("Colombia joined the Belt and Road Initiative in 2023.")
    first.add("mutated")
    again = content_terms("Colombia joined the Belt and Road Initiative in 2023.")
    assert "mutated" not in again and {"colombia", "2023", "initiative"} <= again

"""Literal cases for the citation verifier (`qa.text.grounding`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.schemas import Answer, Citation, DroppedQuote, Entity, Figure, KeyPoint, Summary
from qa.text.grounding import locate_quote, normalize_for_match, verify_answer, verify_summary

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_db386d23d8a38732.txt"
TEXT = "The council met on Monday.\nIt approved a budget of $4 million for new parks."
MINISTRY = 'Colombia\'s foreign ministry on Wednesday hailed a "historic" deal with China.'


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


def _span(text: str, quote: str) -> tuple[int, int]:
    start = text.index(quote)
    return start, start + len(quote)


def _answer(*quotes: tuple[str, int | None, int | None]) -> Answer:
    citations = [Citation(quote=q, start=s, end=e) for q, s, e in quotes]
    # The answer repeats its quotes' words so the support check (qa.text.support) is satisfied;
    # these tests are about locating quotes.
    return Answer(answer=" ".join(q for q, _, _ in quotes) or "A budget.", status="answered", citations=citations)


def _summary(*quotes: str, figures: tuple[str, ...] = ()) -> Summary:
    return Summary(
        headline="Council approves parks budget",
        summary="The council approved money for parks.",
        key_points=[KeyPoint(point=f"Point {i}.", quote=q) for i, q in enumerate(quotes)],
        entities=[Entity(name="The council", type="organization", role="approved the budget")],
        figures=[Figure(value="$4 million", kind="amount", meaning="parks budget", quote=q) for q in figures],
    )


# --- normalize_for_match ----------------------------------------------------------------


def test_normalize_folds_whitespace_quotes_dashes_and_maps_back() -> None:
    text = "  \u201cA\u201d \u2014\n\n it\u2019s\u00a0\ufb01ne  "
    folded, mapping = normalize_for_match(text)
    assert folded == '"A" - it\'s fine'
    assert len(mapping) == len(folded)
    assert mapping[0] == text.index("\u201c")
    assert mapping[folded.index("-")] == text.index("\u2014")
    assert mapping[folded.index("f")] == mapping[folded.index("i", folded.index("f"))]
    assert text[mapping[folded.index("t")]] == "t"


def test_normalize_composes_combining_marks_and_drops_soft_hyphens() -> None:
    folded, mapping = normalize_for_match("cafe\u0301 co\u00adop \u00ab1\u2033\u00bb")
    assert folded == 'caf\u00e9 coop "1""'
    assert mapping[3] == 3  # the composed e-acute maps to the base letter


# --- locate_quote ------------------------------------------------------------------------


def test_exact_match_at_given_offsets_is_verified() -> None:
    start, end = _span(TEXT, "approved a budget of $4 million")
    assert locate_quote(TEXT, TEXT[start:end], start, end) == (start, end, "verified")


@pytest.mark.parametrize("offsets", [(0, 10), (None, None), (-5, 3), (60, 900)])
def test_right_quote_wrong_offsets_is_repaired(offsets: tuple[int | None, int | None]) -> None:
    start, end = _span(TEXT, "approved a budget")
    assert locate_quote(TEXT, "approved a budget", *offsets) == (start, end, "repaired")


def test_different_whitespace_returns_original_span() -> None:
    text = "The council met on\n\nMonday.  It   approved\ta budget."
    found = locate_quote(text, "met on Monday. It approved a budget", None, None)
    assert found is not None
    start, end, how = found
    assert how == "repaired"
    assert text[start:end] == "met on\n\nMonday.  It   approved\ta budget"


def test_curly_quotes_in_quote_match_straight_quotes_in_seed(seed: str) -> None:
    quote = "Colombia\u2019s foreign ministry on Wednesday hailed a \u201chistoric\u201d deal"
    found = locate_quote(seed, quote, 0, 10)
    assert found is not None
    start, end, how = found
    assert (seed[start:end], how) == (MINISTRY[: -len(" with China.")], "repaired")
    assert start == seed.index(MINISTRY)


def test_straight_quotes_in_quote_match_curly_quotes_in_seed(seed: str) -> None:
    found = locate_quote(seed, "'$9.2 billion in credit'", None, None)
    assert found is not None
    assert seed[found[0] : found[1]] == "\u2018$9.2 billion in credit\u2019"


def test_quote_wrapped_in_marks_or_ending_with_ellipsis_is_found(seed: str) -> None:
    for quote in (
        "\u201chistoric step that opens up new opportunities\u201d",
        "historic step that opens up new opportunities...",
        '"...historic step that opens up new opportunities\u2026"',
    ):
        found = locate_quote(seed, quote, None, None)
        assert found is not None, quote
        assert seed[found[0] : found[1]] == "historic step that opens up new opportunities"


def test_case_is_ignored_only_as_a_last_resort() -> None:
    text = "the Council met. The council met."
    found = locate_quote(text, "The council\n met", None, None)
    assert found is not None
    assert found[:2] == _span(text, "The council met")  # the same-case occurrence wins
    found = locate_quote(text, "THE COUNCIL MET", None, None)
    assert found is not None
    assert text[found[0] : found[1]] == "the Council met"


def test_absent_quote_is_not_found() -> None:
    assert locate_quote(TEXT, "the mayor resigned", 0, 18) is None


@pytest.mark.parametrize("quote", ["on", "a b", "  $4  ", "\u201c\u201d", "\u2026", ""])
def test_too_short_quote_never_matches(quote: str) -> None:
    text = f"x {quote} y on a b $4"
    start = text.index(quote) if quote else 0
    assert locate_quote(text, quote, start, start + len(quote)) is None


def test_nearest_occurrence_is_chosen() -> None:
    text = "Prices rose. Then nothing. Prices rose. Then more. Prices rose."
    third = text.rindex("Prices rose")
    second = text.index("Prices rose", 1)
    assert locate_quote(text, "Prices rose", third - 2, None) == (third, third + 11, "repaired")
    assert locate_quote(text, "Prices rose", second + 3, None) == (second, second + 11, "repaired")
    assert locate_quote(text, "Prices rose", None, None) == (0, 11, "repaired")
    assert locate_quote(text, "prices  rose", third, None) == (third, third + 11, "repaired")


def test_match_inside_a_ligature_is_rejected() -> None:
    assert locate_quote("the \ufb01ve parks", "ive parks", None, None) is None
    assert locate_quote("the \ufb01ve parks", "five parks", None, None) == (4, 13, "repaired")


# --- verify_answer -----------------------------------------------------------------------


def test_verify_answer_keeps_verified_and_repairs_offsets() -> None:
    s1, e1 = _span(TEXT, "The council met on Monday.")
    s2, e2 = _span(TEXT, "a budget of $4 million")
    answer = _answer(("The council met on Monday.", s1, e1), ("a budget of $4 million", 3, 9))
    result, grounding = verify_answer(TEXT, answer)
    assert [(c.quote, c.start, c.end) for c in result.citations] == [
        ("The council met on Monday.", s1, e1),
        ("a budget of $4 million", s2, e2),
    ]
    assert (result.status, result.answer) == ("answered", answer.answer)
    assert (grounding.verified, grounding.repaired, grounding.abstained) == (1, 1, False)
    assert grounding.dropped == []


def test_verify_answer_replaces_quote_with_exact_span() -> None:
    result, grounding = verify_answer(TEXT, _answer(("Monday. It  approved", None, None)))
    (citation,) = result.citations
    assert citation.start is not None and citation.end is not None
    assert TEXT[citation.start : citation.end] == citation.quote == "Monday.\nIt approved"
    assert grounding.repaired == 1


def test_verify_answer_drops_absent_quote() -> None:
    answer = _answer(("The council met", None, None), ("the mayor resigned", 4, 20))
    result, grounding = verify_answer(TEXT, answer)
    assert [c.quote for c in result.citations] == ["The council met"]
    assert grounding.dropped == [DroppedQuote(quote="the mayor resigned", where="citations[1]")]
    assert result.status == "answered"


def test_answered_with_nothing_verified_abstains() -> None:
    answer = _answer(("the mayor resigned", None, None), ("on", 21, 23))
    result, grounding = verify_answer(TEXT, answer)
    assert (result.status, result.answer, result.citations) == ("not_in_article", "", [])
    assert grounding.abstained is True
    assert [d.where for d in grounding.dropped] == ["citations[0]", "citations[1]"]


def test_answered_without_citations_abstains() -> None:
    result, grounding = verify_answer(TEXT, _answer())
    assert (result.status, result.answer, grounding.abstained) == ("not_in_article", "", True)


def test_not_in_article_clears_citations_without_dropping() -> None:
    answer = Answer(
        answer="",
        status="not_in_article",
        citations=[Citation(quote="The council met", start=0, end=15)],
    )
    result, grounding = verify_answer(TEXT, answer)
    assert (result.status, result.citations) == ("not_in_article", [])
    assert (grounding.dropped, grounding.abstained, grounding.verified) == ([], False, 0)


def test_duplicate_citations_are_collapsed() -> None:
    start, end = _span(TEXT, "The council met")
    answer = _answer(("The council met", start, end), ("The council met", None, None), ("the council met", 9, 9))
    result, grounding = verify_answer(TEXT, answer)
    assert [(c.start, c.end) for c in result.citations] == [(start, end)]
    assert (grounding.verified, grounding.repaired, grounding.dropped) == (1, 0, [])


def test_repaired_span_longer_than_schema_limit_is_cut_verbatim() -> None:
    words = [f"word{i:03d}" for i in range(50)]
    text = "\n\n\n".join(words)
    found_quote = " ".join(words)[:399]
    result, grounding = verify_answer(text, _answer((found_quote, None, None)))
    (citation,) = result.citations
    assert citation.start is not None and citation.end is not None
    assert len(citation.quote) <= 400
    assert text[citation.start : citation.end] == citation.quote
    assert grounding.repaired == 1


def test_inputs_are_not_mutated() -> None:
    answer = _answer(("Monday. It  approved", 0, 3), ("the mayor resigned", None, None))
    summary = _summary("met on Monday", "the mayor resigned", "$4  million", figures=("nope!",))
    before = (answer.model_dump(), summary.model_dump())
    new_answer, _ = verify_answer(TEXT, answer)
    new_summary, _ = verify_summary(TEXT, summary)
    assert (answer.model_dump(), summary.model_dump()) == before
    assert new_answer is not answer and new_answer.citations is not answer.citations
    assert new_summary is not summary and new_summary.entities[0] is not summary.entities[0]


# --- verify_summary ----------------------------------------------------------------------


def test_summary_key_point_without_support_is_kept_and_flagged() -> None:
    summary = _summary("met on Monday", "the mayor resigned", "$4\nmillion for new parks")
    result, grounding = verify_summary(TEXT, summary)
    assert [k.quote for k in result.key_points] == [
        "met on Monday",
        "the mayor resigned",
        "$4 million for new parks",
    ]
    assert grounding.unsupported_key_points == [1]
    assert grounding.dropped == [DroppedQuote(quote="the mayor resigned", where="key_points[1].quote")]
    assert (grounding.verified, grounding.repaired, grounding.abstained) == (1, 1, False)


def test_summary_keeps_three_key_points_when_none_verifies() -> None:
    summary = _summary("no such words", "nor these ones", "nor those either")
    result, grounding = verify_summary(TEXT, summary)
    assert len(result.key_points) == 3
    assert grounding.unsupported_key_points == [0, 1, 2]
    assert Summary.model_validate(result.model_dump()) == result


def test_summary_figure_without_support_is_removed() -> None:
    summary = _summary("met on Monday", "approved a budget", "new parks", figures=("$5 million", "$4 million"))
    result, grounding = verify_summary(TEXT, summary)
    assert [f.quote for f in result.figures] == ["$4 million"]
    assert grounding.dropped == [DroppedQuote(quote="$5 million", where="figures[0].quote")]
    assert grounding.unsupported_key_points == []


def test_an_answer_sharing_nothing_with_its_verified_quotes_abstains() -> None:
    quote = "It approved a budget of $4 million for new parks."
    assert quote in TEXT
    answer = Answer(answer="PWNED", status="answered", citations=[Citation(quote=quote, start=None, end=None)])
    result, grounding = verify_answer(TEXT, answer)
    assert result.status == "not_in_article" and result.answer == "" and result.citations == []
    assert grounding.abstained and grounding.unsupported_answer and grounding.verified + grounding.repaired == 1

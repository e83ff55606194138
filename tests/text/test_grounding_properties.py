"""Property tests for the citation verifier (`qa.text.grounding`), with hypothesis."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.text.grounding import locate_quote, normalize_for_match

SETTINGS = settings(max_examples=200, deadline=None)

# Characters a news article really contains, including the ones the verifier folds:
# whitespace variants, curly and straight quote marks, dashes, an ellipsis, a ligature,
# a soft hyphen and accented letters. Combining marks are left out: a substring that
# splits a letter from its mark has no folded form inside the article's folded form.
WHITESPACE = " \n\t\u00a0\u2009"
QUOTE_CLASSES = [
    "'\u2018\u2019\u201a\u2032",
    '"\u201c\u201d\u201e\u2033\u00ab\u00bb',
    "-\u2013\u2014",
]
ALPHABET = "abcXYZ019.,$%" + WHITESPACE + "".join(QUOTE_CLASSES) + "\u2026\ufb01\u00ad\u00e9\u00df"


def _non_space(text: str) -> int:
    return sum(not c.isspace() for c in text)


@st.composite
def text_and_span(draw: st.DrawFn) -> tuple[str, int, int]:
    """An article and a span of it holding at least three non-space characters."""
    text = draw(st.text(alphabet=ALPHABET, min_size=3, max_size=200))
    starts = [i for i in range(len(text)) if _non_space(text[i:]) >= 3]
    if not starts:
        text += "abc"
        starts = [len(text) - 3]
    start = draw(st.sampled_from(starts))
    ends = [j for j in range(start + 1, len(text) + 1) if _non_space(text[start:j]) >= 3]
    return text, start, draw(st.sampled_from(ends))


@st.composite
def reflowed(draw: st.DrawFn, quote: str) -> str:
    """`quote` with each whitespace run re-flowed and each quote mark or dash swapped."""
    out: list[str] = []
    for char in quote:
        if char.isspace():
            if not (out and out[-1][-1:].isspace()):
                out.append(draw(st.text(alphabet=WHITESPACE, min_size=1, max_size=3)))
            continue
        same = next((cls for cls in QUOTE_CLASSES if char in cls), char)
        out.append(draw(st.sampled_from(same)))
    return "".join(out)


@SETTINGS
@given(text_and_span(), st.one_of(st.none(), st.integers(-5, 250)))
def test_substring_is_found_exactly(case: tuple[str, int, int], near: int | None) -> None:
    text, start, end = case
    quote = text[start:end]
    assert locate_quote(text, quote, start, end) == (start, end, "verified")
    found = locate_quote(text, quote, near, None)
    assert found is not None
    assert text[found[0] : found[1]] == quote


@SETTINGS
@given(text_and_span(), st.data())
def test_reflowed_substring_is_found_with_equal_folded_text(case: tuple[str, int, int], data: st.DataObject) -> None:
    text, start, end = case
    quote = data.draw(reflowed(text[start:end]))
    found = locate_quote(text, quote, None, None)
    assert found is not None
    assert normalize_for_match(text[found[0] : found[1]])[0] == normalize_for_match(quote)[0]


@SETTINGS
@given(
    st.text(max_size=120),
    st.text(max_size=30),
    st.one_of(st.none(), st.integers(-200, 200)),
    st.one_of(st.none(), st.integers(-200, 200)),
)
def test_any_returned_span_is_inside_the_text(text: str, quote: str, start: int | None, end: int | None) -> None:
    for candidate in (quote, text[len(text) // 3 : len(text) // 3 + len(quote)]):
        found = locate_quote(text, candidate, start, end)
        if found is not None:
            assert 0 <= found[0] < found[1] <= len(text)


@SETTINGS
@given(st.text(max_size=200))
def test_normalize_map_points_into_the_text_in_order(text: str) -> None:
    folded, mapping = normalize_for_match(text)
    assert len(mapping) == len(folded)
    assert all(0 <= index < len(text) for index in mapping)
    assert mapping == sorted(mapping)
    assert folded == folded.strip()
    assert "  " not in folded

"""Numbered sentences, citations from sentence numbers, and the model's 'no sentence' probability."""

from __future__ import annotations

import math

import qa
from qa.evidence import citation_for, evidence_sentences, no_evidence_probability, numbered_block
from qa.structured import TokenLogprob

ARTICLE = qa.parse_article(
    "Markets rally\n\nShares rose on Monday. The index gained 2%.\n\nAnalysts were surprised. Oil fell.",
    source="<test>",
)


def test_sentences_are_numbered_in_reading_order_with_paragraph_breaks():
    block = numbered_block(ARTICLE)
    lines = block.splitlines()
    assert lines[1] == "[1] Markets rally"
    assert "[2] Shares rose on Monday." in lines and "[3] The index gained 2%." in lines
    assert lines[lines.index("[3] The index gained 2%.") + 1] == ""  # a new paragraph
    assert lines[-2] == "[5] Oil fell."
    assert block == numbered_block(ARTICLE)  # byte-identical for every question


def test_a_subset_keeps_the_global_numbers():
    block = numbered_block(ARTICLE, [2, 5])
    assert "[2] Shares rose on Monday." in block and "[5] Oil fell." in block
    assert "[3]" not in block and "[1]" not in block


def test_a_citation_is_the_sentence_itself_at_its_offsets():
    for n in range(1, len(evidence_sentences(ARTICLE)) + 1):
        citation = citation_for(ARTICLE, n)
        assert ARTICLE.text[citation.start : citation.end] == citation.quote
    assert citation_for(ARTICLE, 3).quote == "The index gained 2%."


def _lp(token: str, top: dict[str, float]) -> TokenLogprob:
    return TokenLogprob(token=token, logprob=top.get(token, -20.0), top=tuple(top.items()))


def test_no_evidence_probability_is_the_share_of_zero_among_digits():
    logprobs = [
        _lp('{"', {'{"': -0.1}),
        _lp("sentence", {"sentence": -0.1}),
        _lp('":', {'":': -0.1}),
        _lp(" ", {" ": -0.1}),
        _lp("3", {"3": math.log(0.6), "0": math.log(0.3), "1": math.log(0.1), '"': math.log(0.5)}),
        _lp(",", {",": -0.1}),
    ]
    assert abs(no_evidence_probability(logprobs) - 0.3) < 1e-9
    assert no_evidence_probability(None) is None
    assert no_evidence_probability(logprobs[:3]) is None  # the number never came


def test_no_evidence_probability_of_the_nth_answer_in_a_batch():
    def answer(digit_top: dict[str, float], chosen: str) -> list[TokenLogprob]:
        return [_lp('"sentence', {'"sentence': -0.1}), _lp('":', {'":': -0.1}), _lp(chosen, digit_top)]

    first = answer({"2": math.log(0.9), "0": math.log(0.1)}, "2")
    second = answer({"0": math.log(0.8), "4": math.log(0.2)}, "0")
    logprobs = [*first, _lp(",", {",": 0.0}), *second]
    assert abs(no_evidence_probability(logprobs, nth=0) - 0.1) < 1e-9
    assert abs(no_evidence_probability(logprobs, nth=1) - 0.8) < 1e-9
    assert no_evidence_probability(logprobs, nth=2) is None

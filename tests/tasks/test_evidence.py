"""Numbered sentences, citations from sentence numbers, and the model's 'no sentence' probability."""

from __future__ import annotations

import math

import pytest

import qa
from qa.core.structured import TokenLogprob
from qa.tasks.evidence import (
    answer_logprob,
    answer_logprob_sum,
    answer_sentence,
    chosen_number_probability,
    citation_for,
    evidence_sentences,
    no_evidence_probability,
    numbered_block,
    yes_probability,
)

ARTICLE = qa.parse_article(
    "Markets rally\n\nShares rose on Monday. The index gained 2%.\n\nAnalysts were surprised. Oil fell.",
    source="<test>",
)


def test_body_sentences_are_numbered_in_reading_order_with_paragraph_breaks():
    block = numbered_block(ARTICLE)
    lines = block.splitlines()
    assert "Markets rally" not in block  # the headline summarises; the body says it
    assert lines[1] == "[1] Shares rose on Monday."
    assert lines[2] == "[2] The index gained 2%."
    assert lines[3] == ""  # a new paragraph
    assert lines[-2] == "[4] Oil fell."
    assert block == numbered_block(ARTICLE)  # byte-identical for every question


def test_a_subset_keeps_the_global_numbers():
    block = numbered_block(ARTICLE, [1, 4])
    assert "[1] Shares rose on Monday." in block and "[4] Oil fell." in block
    assert "[2]" not in block and "[3]" not in block


def test_a_citation_is_the_sentence_itself_at_its_offsets():
    for n in range(1, len(evidence_sentences(ARTICLE)) + 1):
        citation = citation_for(ARTICLE, n)
        assert ARTICLE.text[citation.start : citation.end] == citation.quote
    assert citation_for(ARTICLE, 2).quote == "The index gained 2%."


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


def test_a_very_long_sentence_is_quoted_from_its_start_within_the_bound():
    long = qa.parse_article("Title\n\n" + "word " * 150 + "end.", source="<test>")
    citation = citation_for(long, 1)
    assert len(citation.quote) <= 400
    assert long.text[citation.start : citation.end] == citation.quote
    assert citation.quote.startswith("word word")


SENTENCES = [
    "The plan was signed in Beijing.",
    "Xi pledged $9.2 billion in credit.",
    "He wrote on X.",
    "Petro said Colombia would join the initiative launched in 2013.",
    "Gustavo Petro took office in August 2022.",
]


def test_a_citation_moves_to_the_nearby_sentence_that_holds_the_answer():
    assert answer_sentence(SENTENCES, 3, "2013") == 4  # miscounted by one: the next sentence says it
    assert answer_sentence(SENTENCES, 3, "$9.2 billion") == 2  # and the one before
    assert answer_sentence(SENTENCES, 2, "$9.2 billion") == 2  # right already: kept


def test_a_citation_stays_when_it_shares_a_word_or_nothing_nearby_holds_the_answer():
    assert answer_sentence(SENTENCES, 4, "Gustavo Petro") == 4  # 'Petro' is there: a partial match is the model's call
    assert answer_sentence(SENTENCES, 1, "August 2022") == 1  # only four places away: not a miscount
    assert answer_sentence(SENTENCES, 3, "12 years") == 3  # computed: no sentence holds it
    assert answer_sentence(SENTENCES, 0, "2013") == 0 and answer_sentence(SENTENCES, 3, "") == 3


def test_the_chosen_numbers_probability_and_the_answers_mean_logprob_are_read_from_the_reply():
    logprobs = [
        _lp('{"', {'{"': -0.1}),
        _lp("sentence", {"sentence": -0.1}),
        _lp('":', {'":': -0.1}),
        _lp(" ", {" ": -0.1}),
        _lp("3", {"3": math.log(0.6), "0": math.log(0.3), "1": math.log(0.1)}),
        _lp(',"', {',"': -0.1}),
        _lp("answer", {"answer": -0.1}),
        _lp('":"', {'":"': -0.2}),
        _lp("Be", {"Be": -1.0}),
        _lp("ijing", {"ijing": -0.5}),
        _lp('"}', {'"}': -0.3}),
    ]
    assert abs(chosen_number_probability(logprobs) - 0.6) < 1e-9
    assert abs(answer_logprob(logprobs) - (-0.75)) < 1e-9  # the two tokens inside the quotes only
    assert chosen_number_probability(None) is None and answer_logprob(None) is None
    assert answer_logprob(logprobs[:6]) is None  # the answer never came
    empty = [*logprobs[:8], _lp('"}', {'"}': -0.3})]
    assert answer_logprob(empty) is None  # an empty answer has no tokens to average
    assert abs(answer_logprob_sum(logprobs) - (-1.5)) < 1e-9  # the whole answer's log-probability
    assert answer_logprob_sum(None) is None and answer_logprob_sum(empty) is None


def test_the_total_answer_logprob_tells_a_long_unsure_answer_from_a_short_sure_one():
    def reply(*answer: tuple[str, float]) -> list:
        head = [_lp('{"sentence": 2, "answer":"', {'{"sentence": 2, "answer":"': -0.1})]
        return [*head, *(_lp(tok, {tok: lp}) for tok, lp in answer), _lp('"}', {'"}': -0.1})]

    short = reply(("2013", -0.2))
    long = reply(*[("word ", -0.2)] * 12)
    assert math.isclose(answer_logprob(short), answer_logprob(long))  # the same mean: it cannot tell them apart
    assert answer_logprob_sum(short) > answer_logprob_sum(long)


def test_the_checks_yes_probability_is_the_share_of_yes_among_yes_and_no():
    def verdict(chosen: str, top: dict[str, float]) -> list[TokenLogprob]:
        return [_lp('{"', {'{"': -0.1}), _lp("verdict", {"verdict": -0.1}), _lp('":"', {'":"': -0.1}), _lp(chosen, top)]

    leaning_yes = verdict("yes", {"yes": math.log(0.6), "no": math.log(0.2), "```": math.log(0.2)})
    assert yes_probability(leaning_yes) == pytest.approx(0.75)  # other tokens do not count
    capitals = verdict("No", {"No": math.log(0.5), "Yes": math.log(0.1), "y": math.log(0.1)})
    assert yes_probability(capitals) == pytest.approx(0.1 / 0.6)  # "Yes" and "y" both say yes: the larger counts
    only_no = verdict("no", {"no": math.log(0.9), "```": math.log(0.1)})
    assert yes_probability(only_no) == 0.0
    assert yes_probability(None) is None
    assert yes_probability(leaning_yes[:3]) is None  # the verdict never came
    assert yes_probability(verdict("maybe", {"maybe": -0.1})) is None  # neither word was considered

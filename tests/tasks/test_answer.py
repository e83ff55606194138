"""The tasks end to end on a fake HTTP layer: evidence numbers, abstention, long articles, batches."""

from __future__ import annotations

import asyncio
import json
import math
import re

import httpx2
import pytest

from qa.api import Conversation, aask_many, ask, ask_many
from qa.backends.driver import arun, run
from qa.core.prompts import RenderedPrompt
from qa.errors import ConfigError, ContextLengthError, OutputValidationError, QuestionError
from qa.schemas import Answer, EvidenceAnswer, Usage
from qa.tasks.answer import Turn, answer_steps, check_steps
from qa.tasks.answer_many import batch_steps, split_usage
from qa.tasks.evidence import citation_for, evidence_sentences
from qa.tasks.summarize import _key_numbers, summary_steps
from qa.text.article import parse_article
from qa.text.extract import compress
from tests.fakes import FakeChatServer, Reply

TRADE = "China is Colombia's second-largest trading partner after the United States, which it recently displaced as Colombia's largest source of imports."
TRADE_N = 3  # its number among the seed's evidence sentences (body sentences and subheadings, from 1)
SEED_SENTENCES = 13
KEEP = {
    "abstain_threshold": 0.0
}  # every cited answer is kept: the tests below are about the pipeline, not the calibrator


def answer(text: str, sentence: int) -> dict:
    """A reply in the model's format: the evidence sentence's number first, then the answer."""
    return {"sentence": sentence, "answer": text}


def numbered(number: int, text: str, sentence: int) -> dict:
    return {"number": number, **answer(text, sentence)}


def test_the_seed_is_numbered_as_these_tests_assume(seed) -> None:
    sentences = evidence_sentences(seed)
    assert len(sentences) == SEED_SENTENCES and sentences[TRADE_N - 1].text == TRADE


def test_answer_cites_the_numbered_sentence_verbatim(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    backend = server.backend(**KEEP)
    result = run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend)
    # The answer's words are the sentence's: shown as the sentence writes them.
    assert result.answer.status == "answered" and result.answer.answer == "the United States"
    assert result.grounding.answer_span == "verified"
    (citation,) = result.answer.citations
    assert seed.text[citation.start : citation.end] == citation.quote == TRADE
    assert (result.grounding.verified, result.grounding.repaired, result.grounding.abstained) == (1, 0, False)
    assert result.provenance.prompt == "answer" and result.provenance.backend == "openai"
    assert result.usage.attempts == 1
    assert result.signals is not None and (result.signals.sentence, result.signals.candidate) == (
        TRADE_N,
        "The United States.",
    )
    assert result.signals.p_none is None  # the fake server returns no logprobs
    assert result.confidence is not None and 0.0 <= result.confidence <= 1.0
    sent = server.requests[0]
    assert f"[{TRADE_N}] {TRADE}" in sent["messages"][1]["content"]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 10  # openai gives logprobs: abstention reads them
    schema = sent["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["sentence"]["enum"] == list(range(SEED_SENTENCES + 1))


def test_backends_without_logprobs_are_not_asked_for_them(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    backend = server.backend(kind="llamacpp", base_url="http://localhost:8080/v1")
    run(answer_steps(seed, "Who?", backend), backend)
    assert "logprobs" not in server.requests[0] and "top_logprobs" not in server.requests[0]


def test_the_citation_is_the_article_text_whatever_the_answer_says(seed) -> None:
    # The quote is no longer the model's to copy (and repair): it is the cited sentence itself.
    server = FakeChatServer().enqueue(answer("A “historic”  deal.", 6))
    backend = server.backend(**KEEP, short_answers="off")
    result = run(answer_steps(seed, "What did the ministry call the deal?", backend), backend)
    (citation,) = result.answer.citations
    assert citation.quote == """Colombia's foreign ministry on Wednesday hailed a "historic" deal with China."""
    assert seed.text[citation.start : citation.end] == citation.quote
    assert result.answer.answer == "A “historic” deal."  # whitespace collapsed, nothing else touched
    assert (result.grounding.verified, result.grounding.repaired, result.grounding.dropped) == (1, 0, [])


@pytest.mark.parametrize(
    ("short", "shown", "span"), [("on", "$9.2 billion", "verified"), ("off", "$9.2 billion in credit", None)]
)
def test_a_fact_is_shown_as_the_words_of_its_sentence_without_the_questions(seed, short, shown, span) -> None:
    server = FakeChatServer().enqueue(answer("$9.2 billion in credit", 8))
    backend = server.backend(**KEEP, short_answers=short)
    result = run(answer_steps(seed, "How much credit did Xi pledge?", backend), backend)
    assert (result.answer.answer, result.grounding.answer_span) == (shown, span)
    assert result.signals is not None and result.signals.candidate == "$9.2 billion in credit"  # what was measured
    assert shown in result.answer.citations[0].quote


def test_constrained_short_answers_send_a_span_grammar_where_the_backend_decodes_with_one(seed) -> None:
    pytest.importorskip("llama_cpp")  # a llama.cpp server's grammars are parsed here before they are sent
    server = FakeChatServer().enqueue(answer("the United States", TRADE_N), answer("x", TRADE_N), answer("y", TRADE_N))
    llamacpp = server.backend("llamacpp", base_url="http://localhost:8080/v1", short_answers="constrained", **KEEP)
    result = run(answer_steps(seed, "Who is Colombia's largest partner?", llamacpp), llamacpp)
    assert result.answer.answer == "the United States" and result.grounding.answer_span == "verified"
    sent = server.requests[0]
    assert "response_format" not in sent
    assert (
        f's{TRADE_N}-w0 ::= [Cc] "hina" (" " [Ii] "s" (" " [Cc] "olombia\'s"' in sent["grammar"]
    )  # its words, in order
    # A why question's answer is the model's phrase: the schema's own grammar, no span rules.
    run(answer_steps(seed, "Why does China trade with Colombia?", llamacpp), llamacpp)
    assert "grammar" in server.requests[1] and "-w0 ::=" not in server.requests[1]["grammar"]
    # A backend without grammars gets the schema, and the answer is shortened after the fact.
    openai_backend = server.backend(short_answers="constrained", **KEEP)
    run(answer_steps(seed, "Who is Colombia's largest partner?", openai_backend), openai_backend)
    assert "grammar" not in server.requests[2] and "response_format" in server.requests[2]


def test_a_sentence_number_not_shown_is_reasked_once_then_the_answer_abstains(seed) -> None:
    invented = answer("Brazil.", 99)
    server = FakeChatServer().enqueue(invented, invented, invented)
    backend = server.backend(max_attempts=3, **KEEP)
    result = run(answer_steps(seed, "Who is the partner?", backend), backend)
    assert len(server.requests) == 2  # the meaning check drove one re-ask, not more
    assert "sentence 99 does not exist" in server.requests[1]["messages"][-1]["content"]
    assert server.requests[1]["messages"][-2] == {"role": "assistant", "content": json.dumps(invented)}
    assert result.answer.model_dump() == {"answer": "", "status": "not_in_article", "citations": []}
    assert result.grounding.abstained is True and result.grounding.verified == 0
    assert (
        result.signals is not None and result.signals.candidate == "Brazil."
    )  # what the model said is kept for the record
    assert result.usage.attempts == 2


def test_a_cited_sentence_with_an_empty_answer_is_reasked(seed) -> None:
    server = FakeChatServer().enqueue(answer("", TRADE_N), answer("The United States.", TRADE_N))
    backend = server.backend(**KEEP)
    result = run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend)
    assert "'answer' is empty although a sentence is cited" in server.requests[1]["messages"][-1]["content"]
    assert result.answer.status == "answered" and result.answer.citations[0].quote == TRADE
    assert result.usage.attempts == 2


def test_an_answer_that_only_repeats_the_question_is_reasked_once(seed) -> None:
    server = FakeChatServer().enqueue(answer("Colombia's", TRADE_N), answer("the United States", TRADE_N))
    backend = server.backend(**KEEP)
    result = run(answer_steps(seed, "Which country is Colombia's largest trading partner?", backend), backend)
    assert "only repeats words of the question" in server.requests[1]["messages"][-1]["content"]
    assert result.answer.answer == "the United States" and result.usage.attempts == 2
    assert result.signals is not None and not result.signals.question_echo


def test_an_echo_the_model_repeats_is_kept_as_a_signal_not_reasked_again(seed) -> None:
    server = FakeChatServer().enqueue(answer("Colombia", TRADE_N), answer("Colombia", TRADE_N))
    backend = server.backend()
    result = run(answer_steps(seed, "Which country is Colombia's largest trading partner?", backend), backend)
    assert result.usage.attempts == 2 and len(server.requests) == 2
    assert result.signals is not None and result.signals.question_echo
    server = FakeChatServer().enqueue(answer("the United States", TRADE_N))
    backend = server.backend()
    other = run(answer_steps(seed, "Which country is Colombia's largest trading partner?", backend), backend)
    assert result.confidence is not None and other.confidence is not None
    assert result.confidence < other.confidence  # the same evidence, less trust in an echo


def test_a_miscounted_citation_moves_to_the_sentence_that_holds_the_answer(seed) -> None:
    sentences = [s.text for s in evidence_sentences(seed)]
    holder = next(n for n, text in enumerate(sentences, 1) if "2013" in text)
    server = FakeChatServer().enqueue(answer("2013", holder - 1))
    backend = server.backend(**KEEP)
    result = run(answer_steps(seed, "In what year was the initiative launched?", backend), backend)
    (citation,) = result.answer.citations
    assert citation.quote == sentences[holder - 1] and seed.text[citation.start : citation.end] == citation.quote
    assert (result.grounding.verified, result.grounding.repaired) == (0, 1)
    assert result.signals is not None and (result.signals.sentence, result.signals.cited) == (holder, holder - 1)
    assert result.signals.answer_support == 1.0


def test_a_model_abstention_clears_its_text(seed) -> None:
    server = FakeChatServer().enqueue(answer("Probably about 8 million people.", 0))
    backend = server.backend(**KEEP)
    result = run(answer_steps(seed, "What is the population of Bogota?", backend), backend)
    assert len(server.requests) == 1  # sentence 0 is a valid reply, not re-asked
    assert result.answer.model_dump() == {"answer": "", "status": "not_in_article", "citations": []}
    assert result.grounding.abstained is False  # the model itself abstained
    assert result.confidence is None and result.signals is not None and result.signals.sentence == 0


def logprob_entries(content: str, zero_shares: list[float]) -> list[dict]:
    """OpenAI-style logprobs for `content`, one token per JSON piece; at the i-th sentence number, '0' has share i."""
    pieces = [p for p in re.split(r'("sentence"|\d+)', content) if p]
    shares = iter(zero_shares)
    entries = []
    after_key = False
    for piece in pieces:
        top = []
        if after_key and piece.isdigit():
            zero = next(shares)
            other = piece if piece != "0" else "7"  # the runner-up digit when the model wrote 0
            top = [
                {"token": "0", "logprob": math.log(zero), "bytes": None},
                {"token": other, "logprob": math.log(1 - zero), "bytes": None},
            ]
            after_key = False
        after_key = after_key or piece == '"sentence"'
        chosen = next((t["logprob"] for t in top if t["token"] == piece), 0.0)
        entries.append({"token": piece, "logprob": chosen, "bytes": None, "top_logprobs": top})
    return entries


class LogprobServer(FakeChatServer):
    """The fake server, also returning token logprobs as OpenAI does (`zero_shares`: p('0') at each sentence number)."""

    def __init__(self, zero_shares: list[float]) -> None:
        super().__init__()
        self.zero_shares = zero_shares

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(super().handle(request).content)
        choice = body["choices"][0]
        choice["logprobs"] = {
            "content": logprob_entries(choice["message"]["content"], self.zero_shares),
            "refusal": None,
        }
        return httpx2.Response(200, json=body)


def test_the_models_probability_of_no_sentence_reaches_the_signals_and_lowers_confidence(seed) -> None:
    results = []
    for zero in (0.05, 0.6):
        server = LogprobServer([zero]).enqueue(answer("The United States.", TRADE_N))
        backend = server.backend(**KEEP)
        results.append(run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend))
    sure, doubtful = results
    assert sure.signals is not None and sure.signals.p_none == pytest.approx(0.05)
    assert doubtful.signals is not None and doubtful.signals.p_none == pytest.approx(0.6)
    assert sure.confidence is not None and doubtful.confidence is not None and doubtful.confidence < sure.confidence


def test_each_batched_answer_reads_its_own_probability_of_no_sentence(seed) -> None:
    reply = {"answers": [numbered(1, "The United States.", TRADE_N), numbered(2, "", 0)]}
    server = LogprobServer([0.1, 0.9]).enqueue(reply)
    backend = server.backend(**KEEP)
    results = run(batch_steps(seed, ["Largest partner?", "Population of Bogota?"], backend), backend)
    assert [r.signals.p_none for r in results if r.signals] == [pytest.approx(0.1), pytest.approx(0.9)]


def test_a_low_confidence_answer_is_withdrawn(seed) -> None:
    question = "Who is Colombia's largest trading partner?"
    kept = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    withdrawn = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    keep_backend, strict_backend = kept.backend(abstain_threshold=0.0), withdrawn.backend(abstain_threshold=1.0)
    one = run(answer_steps(seed, question, keep_backend), keep_backend)
    two = run(answer_steps(seed, question, strict_backend), strict_backend)
    assert one.answer.status == "answered" and one.grounding.abstained is False
    assert two.answer.model_dump() == {"answer": "", "status": "not_in_article", "citations": []}
    assert (
        two.grounding.abstained is True and two.grounding.verified == 1
    )  # the evidence was real; confidence was not enough
    assert two.confidence == one.confidence and two.confidence is not None and two.confidence < 1.0
    assert two.signals == one.signals and two.signals is not None and two.signals.candidate == "The United States."


def test_a_checked_answer_asks_once_more_in_the_same_conversation_and_keeps_the_verdict(seed) -> None:
    question = "Who is Colombia's largest trading partner?"
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N), {"verdict": "no"})
    backend = server.backend(verify="on", **KEEP)
    result = run(answer_steps(seed, question, backend), backend)
    first, check = server.requests
    assert check["messages"][: len(first["messages"])] == first["messages"]  # the article is not sent anew
    assert json.loads(check["messages"][-2]["content"]) == answer("The United States.", TRADE_N)
    asked = check["messages"][-1]["content"]
    assert f"[{TRADE_N}] says: {TRADE}" in asked and question in asked and '"The United States."' in asked
    assert check["response_format"]["json_schema"]["schema"]["properties"]["verdict"]["enum"] == ["yes", "no"]
    assert server.headers[1]["x-qa-prompt"] == "verify"
    assert result.signals is not None and result.signals.p_verified == 0.0  # no logprobs: the verdict itself
    assert result.usage.attempts == 2 and result.usage.prompt_tokens == 200  # both calls are charged
    assert result.answer.status == "answered"  # threshold 0 here: the verdict is a signal, not a veto


def test_the_check_is_made_only_where_asked_and_only_for_an_answer(seed) -> None:
    question = "Who is Colombia's largest trading partner?"
    off = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    backend = off.backend(verify="off", **KEEP)
    assert run(answer_steps(seed, question, backend), backend).signals.p_verified is None
    default = FakeChatServer().enqueue(answer("The United States.", TRADE_N))  # off unless asked for
    backend = default.backend(**KEEP)
    run(answer_steps(seed, question, backend), backend)
    none = FakeChatServer().enqueue(answer("", 0))
    backend = none.backend(verify="on", **KEEP)
    run(answer_steps(seed, question, backend), backend)
    assert len(off.requests) == len(default.requests) == len(none.requests) == 1


def test_each_batched_answer_is_checked_on_its_own_after_the_batch(seed) -> None:
    reply = {"answers": [numbered(1, "The United States.", TRADE_N), numbered(2, "", 0)]}
    server = FakeChatServer().enqueue(reply, {"verdict": "yes"})
    backend = server.backend(verify="on", **KEEP)
    questions = ["Largest partner?", "Population of Bogota?"]
    first, second = run(batch_steps(seed, questions, backend), backend)
    batch, check = server.requests  # no check for the answer the model did not give
    assert check["messages"][: len(batch["messages"])] == batch["messages"]
    assert json.loads(check["messages"][-2]["content"]) == reply
    assert "Largest partner?" in check["messages"][-1]["content"]
    assert first.signals is not None and first.signals.p_verified == 1.0
    assert second.signals is not None and second.signals.p_verified is None
    assert first.usage.prompt_tokens == 50 + 100 and second.usage.prompt_tokens == 50  # the check is the first's


def test_a_check_that_would_not_fit_the_context_is_not_sent(seed) -> None:
    server = FakeChatServer()
    backend = server.backend(verify="on", context_tokens=60)
    reply = EvidenceAnswer(sentence=TRADE_N, answer="The United States.")
    prompt = RenderedPrompt(name="answer", version="2", messages=[{"role": "user", "content": "x " * 40}])
    assert run(check_steps(seed, "Largest partner?", reply, prompt, "{}", backend), backend) == (None, Usage.zero())
    assert server.requests == []


def test_a_refused_check_leaves_the_answer_and_charges_the_call(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N), Reply(content=None, refusal="no"))
    backend = server.backend(verify="on", **KEEP)
    result = run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend)
    assert result.answer.status == "answered" and result.signals is not None and result.signals.p_verified is None
    assert result.usage.attempts == 2


def test_a_check_without_a_usable_verdict_leaves_the_answer_to_the_other_signals(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N), "maybe", "perhaps", "dunno")
    backend = server.backend(verify="on", **KEEP)
    result = run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend)
    assert result.answer.status == "answered" and result.signals is not None and result.signals.p_verified is None
    assert result.usage.attempts == 4  # the answer and three tries at a verdict, all charged


@pytest.mark.parametrize("question", ["", "   \n ", "x" * 10_000])
def test_bad_questions_raise_before_any_call(seed, question: str) -> None:
    server = FakeChatServer()
    backend = server.backend()
    with pytest.raises(QuestionError) as info:
        run(answer_steps(seed, question, backend), backend)
    assert "question" in str(info.value)
    assert server.requests == []


def test_constrained_backends_limit_citations_to_article_sentences(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    backend = server.backend(kind="llamacpp", base_url="http://localhost:8080/v1", structured_mode="json_object_schema")
    run(answer_steps(seed, "Who?", backend), backend)
    sent = server.requests[0]["response_format"]
    assert (
        sent["type"] == "json_object"
    )  # llama-cpp-python's spelling (llamacpp itself now sends a grammar: test_servers_negotiation.py)
    sentence = sent["schema"]["properties"]["sentence"]
    assert sentence["type"] == "integer" and sentence["enum"] == [0, *range(1, SEED_SENTENCES + 1)]
    assert list(sent["schema"]["properties"]) == ["sentence", "answer"]  # the evidence is written before the answer


def test_plain_json_mode_shows_the_schema_in_the_prompt(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    backend = server.backend(kind="server", base_url="http://localhost:1/v1", structured_mode="json_object")
    run(answer_steps(seed, "Who?", backend), backend)
    assert server.requests[0]["response_format"] == {"type": "json_object"}
    system = server.requests[0]["messages"][0]["content"]
    assert '"sentence"' in system and '"enum":[0,1,2,' in system


def test_the_article_prefix_is_byte_identical_across_questions(seed) -> None:
    server = FakeChatServer().enqueue(answer("x", TRADE_N), answer("y", TRADE_N))
    backend = server.backend()
    run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend)
    run(answer_steps(seed, "How much credit did Xi pledge?", backend), backend)
    one, two = (r["messages"] for r in server.requests)
    assert one[0] == two[0]
    end = one[1]["content"].index("<<<END ARTICLE")
    prefix = one[1]["content"][: one[1]["content"].index("\n", end) + 1]
    assert two[1]["content"].startswith(prefix)
    assert all(f"[{n}] {s.text}" in prefix for n, s in enumerate(evidence_sentences(seed), 1))
    assert one[1]["content"] != two[1]["content"]  # the question (and its hint) come after the article


def test_follow_ups_carry_history_and_drop_the_oldest_when_it_does_not_fit(seed) -> None:
    server = FakeChatServer().enqueue(answer("y", TRADE_N))
    backend = server.backend(context_tokens=1250)
    earlier = Answer(answer="a " * 50, status="answered", citations=[citation_for(seed, TRADE_N)])
    history = [Turn(question=f"Earlier question {i} " + "pad " * 60, answer=earlier) for i in range(6)]
    run(answer_steps(seed, "Now?", backend, history), backend)
    messages = server.requests[0]["messages"]
    assert messages[-1]["content"].rstrip().endswith("Question: Now?")
    assert 2 < len(messages) < 2 + 2 * len(history)  # some turns kept, the oldest dropped
    assert "Earlier question 5" in json.dumps(messages) and "Earlier question 0" not in json.dumps(messages)
    # An earlier answer is replayed as the model would have written it: its evidence number, then its answer.
    assert json.loads(messages[2]["content"]) == {"sentence": TRADE_N, "answer": earlier.answer}


def long_article():
    paragraphs = [
        f"In district {i}, officials reported {i * 3} new schools and a budget of {i} million dollars."
        for i in range(120)
    ]
    return parse_article("Schools report\n\n" + "\n\n".join(paragraphs))


PLACES = [
    "Arden",
    "Belmont",
    "Calder",
    "Dunmore",
    "Elgin",
    "Fairview",
    "Glenrock",
    "Hartwell",
    "Ivybridge",
    "Jasper",
    "Kelso",
]
WORKS = [
    "schools",
    "clinics",
    "bridges",
    "libraries",
    "parks",
    "wells",
    "markets",
    "roads",
    "ferries",
    "farms",
    "depots",
    "harbours",
    "stadiums",
]


def varied_long_article():
    """140 short, distinct sentences: enough for five key sentences that are not near-duplicates."""
    paragraphs = [f"{PLACES[i % 11]} gained {i + 2} {WORKS[i % 13]}." for i in range(140)]
    return parse_article("Towns report new public works\n\n" + "\n\n".join(paragraphs))


def draft(article, style: str = "standard") -> dict:
    """A faithful SummaryDraft: one point per key sentence (its compressed text), in order."""
    sentences = evidence_sentences(article)
    numbers = _key_numbers(article, sentences, style)
    return {
        "key_points": [
            {"sentence": n, "point": " ".join(compress(sentences[n - 1].text).split()[:12])} for n in numbers
        ],
        "summary": " ".join(compress(sentences[numbers[0] - 1].text).split()[:20]),
        "headline": article.title[:90],
    }


def test_a_long_article_shows_the_model_only_its_key_sentences_and_still_gets_a_summary() -> None:
    article = varied_long_article()
    sentences = evidence_sentences(article)
    numbers = _key_numbers(article, sentences, "standard")
    reply = draft(article)
    server = FakeChatServer().enqueue(reply)
    backend = server.backend(context_tokens=1500)
    result = run(summary_steps(article, backend), backend)
    assert len(server.requests) == 1  # one call, no map-reduce
    sent = server.requests[0]["messages"][1]["content"]
    shown = {n for n in range(1, len(sentences) + 1) if f"[{n}] {sentences[n - 1].text}\n" in sent + "\n"}
    assert set(numbers) <= shown and len(shown) < len(sentences)  # the key sentences (and neighbours), not all
    assert shown <= {m for n in numbers for m in (n - 1, n, n + 1)}
    assert "Key sentences: " + ", ".join(f"[{n}]" for n in numbers) in sent
    # A key point that only repeats the summary is not shown twice.
    kept = [n for n, p in zip(numbers, reply["key_points"], strict=True) if p["point"] != reply["summary"]]
    assert len(kept) == len(numbers) - 1
    assert [p.quote for p in result.summary.key_points] == [sentences[n - 1].text for n in kept]
    assert result.mode == "write" and result.dropped_statements == []
    assert result.provenance.prompt == "summarize" and result.usage.attempts == 1


def test_the_whole_article_is_shown_when_it_fits() -> None:
    article = varied_long_article()
    server = FakeChatServer().enqueue(draft(article))
    backend = server.backend(context_tokens=8000)
    run(summary_steps(article, backend), backend)
    sent = server.requests[0]["messages"][1]["content"]
    assert all(f"[{n}] {s.text}" in sent for n, s in enumerate(evidence_sentences(article), 1))


def test_a_context_too_small_for_even_the_key_sentences_is_a_context_error() -> None:
    server = FakeChatServer()
    backend = server.backend(context_tokens=400)
    with pytest.raises(ContextLengthError):
        run(summary_steps(varied_long_article(), backend), backend)
    assert server.requests == []


def test_a_long_article_is_answered_from_its_best_ranked_sentences_numbers_kept() -> None:
    article = long_article()
    target = 78  # district i is sentence i + 1 (the headline is not numbered)
    assert evidence_sentences(article)[target - 1].text.startswith("In district 77,")
    server = FakeChatServer().enqueue(answer("231", target))
    backend = server.backend(context_tokens=2500, **KEEP)
    result = run(answer_steps(article, "How many new schools did district 77 report?", backend), backend)
    sent = server.requests[0]["messages"][1]["content"]
    assert f"[{target}] In district 77," in sent and len(sent) < len(article.text)  # shown under its own number
    enum = server.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["sentence"]["enum"]
    assert enum[0] == 0 and target in enum and len(enum) - 1 < len(evidence_sentences(article))  # only shown numbers
    assert all(f"[{n}] " in sent for n in enum[1:])
    assert result.answer.status == "answered" and result.answer.answer == "231"
    assert result.answer.citations[0].quote == article.paragraphs[78].text


def test_a_long_article_reasks_a_number_it_did_not_show() -> None:
    article = long_article()
    question = "How many new schools did district 77 report?"
    probe = FakeChatServer().backend(context_tokens=2500)
    steps = answer_steps(article, question, probe)
    shown = next(steps).body["response_format"]["json_schema"]["schema"]["properties"]["sentence"]["enum"][1:]
    steps.close()
    hidden = next(n for n in range(1, len(evidence_sentences(article)) + 1) if n not in shown)  # exists, not shown
    server = FakeChatServer().enqueue(answer("3", hidden), answer("231", 79))
    backend = server.backend(context_tokens=2500, **KEEP)
    result = run(answer_steps(article, question, backend), backend)
    assert f"[{hidden}] " not in server.requests[0]["messages"][1]["content"]
    assert f"sentence {hidden} does not exist" in server.requests[1]["messages"][-1]["content"]
    assert result.answer.answer == "231" and result.usage.attempts == 2


def test_ask_many_answers_in_one_call_and_verifies_each(seed) -> None:
    reply = {"answers": [numbered(1, "The United States.", TRADE_N), numbered(2, "", 0)]}
    server = FakeChatServer().enqueue(reply)
    backend = server.backend(**KEEP)
    results = run(batch_steps(seed, ["Largest partner?", "Population of Bogota?"], backend), backend)
    assert len(server.requests) == 1
    assert [r.answer.status for r in results] == ["answered", "not_in_article"]
    assert results[0].answer.citations[0].quote == TRADE and results[0].answer.answer == "the United States"
    assert [r.grounding.answer_span for r in results] == ["verified", None]
    assert results[1].grounding.abstained is False  # sentence 0: the model's own abstention
    assert [r.provenance.prompt for r in results] == ["answer_many"] * 2
    body = server.requests[0]
    assert body["logprobs"] is True
    schema = body["response_format"]["json_schema"]["schema"]
    items = schema["properties"]["answers"]
    assert items["minItems"] == items["maxItems"] == 2
    entry = schema["$defs"]["NumberedAnswer"]
    assert list(entry["properties"]) == ["number", "sentence", "answer"]
    assert entry["properties"]["sentence"]["enum"] == list(range(SEED_SENTENCES + 1))
    assert sum(r.usage.total_tokens for r in results) == 120


def test_a_batch_answer_citing_a_sentence_not_shown_is_reasked(seed) -> None:
    bad = {"answers": [numbered(1, "The United States.", 99), numbered(2, "", 0)]}
    good = {"answers": [numbered(1, "The United States.", TRADE_N), numbered(2, "", 0)]}
    server = FakeChatServer().enqueue(bad, good)
    backend = server.backend(**KEEP)
    results = run(batch_steps(seed, ["Largest partner?", "Population of Bogota?"], backend), backend)
    assert "answer 1: sentence 99 does not exist" in server.requests[1]["messages"][-1]["content"]
    assert results[0].answer.citations[0].quote == TRADE
    assert sum(r.usage.attempts for r in results) == 2


def test_a_batch_that_stays_misnumbered_fails_with_its_usage(seed) -> None:
    wrong = {"answers": [numbered(1, "x", TRADE_N), numbered(1, "y", TRADE_N)]}
    server = FakeChatServer().enqueue(wrong, wrong, wrong)
    backend = server.backend(max_attempts=3)
    with pytest.raises(OutputValidationError, match="did not number") as failure:
        run(batch_steps(seed, ["One?", "Two?"], backend), backend)
    assert "exactly one entry" in server.requests[1]["messages"][-1]["content"]
    assert failure.value.usage.attempts == len(server.requests) == 2  # one meaning re-ask, as for any answer


def test_ask_many_answers_one_by_one_after_a_failed_batch_and_charges_it(seed) -> None:
    wrong = {"answers": [numbered(1, "x", TRADE_N)]}
    server = FakeChatServer().enqueue(wrong, wrong, wrong, answer("a", TRADE_N), answer("b", TRADE_N))
    backend = server.backend(max_attempts=3, **KEEP)
    results = ask_many(seed, ["One?", "Two?"], concurrency=1, backend=backend)
    assert [r.answer.answer for r in results] == ["a", "b"]
    assert len(server.requests) == 5 and server.requests[3]["messages"][1]["content"].rstrip().endswith("One?")
    # The three failed batch attempts are paid for: the results' usage adds up to every request sent.
    assert sum(r.usage.attempts for r in results) == len(server.requests)
    assert sum(r.usage.total_tokens for r in results) == 120 * len(server.requests)  # the fake bills 120 a call


def test_async_ask_many_charges_a_failed_batch_too(seed) -> None:
    wrong = {"answers": [numbered(1, "x", TRADE_N)]}
    server = FakeChatServer().enqueue(wrong, wrong, wrong, answer("a", TRADE_N), answer("b", TRADE_N))
    backend = server.backend(max_attempts=3, **KEEP)
    results = asyncio.run(aask_many(seed, ["One?", "Two?"], concurrency=1, backend=backend))
    assert [r.answer.answer for r in results] == ["a", "b"]
    assert sum(r.usage.attempts for r in results) == len(server.requests) == 5


def test_a_grammar_backend_gets_the_numbers_pinned_in_the_schema(seed) -> None:
    reply = {"answers": [numbered(1, "The United States.", TRADE_N), numbered(2, "", 0)]}
    server = FakeChatServer().enqueue(reply)
    backend = server.backend("vllm", **KEEP)
    results = run(batch_steps(seed, ["Largest partner?", "Population of Bogota?"], backend), backend)
    assert [r.answer.status for r in results] == ["answered", "not_in_article"]
    answers = server.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["answers"]
    assert "items" not in answers
    assert [item["properties"]["number"] for item in answers["prefixItems"]] == [
        {"type": "integer", "const": 1},
        {"type": "integer", "const": 2},
    ]
    assert all(
        item["properties"]["sentence"]["enum"] == list(range(SEED_SENTENCES + 1)) for item in answers["prefixItems"]
    )


def test_pinned_numbers_make_a_grammar_that_only_accepts_them_in_order(seed) -> None:
    pytest.importorskip("llama_cpp")
    from qa.backends.embedded.grammar import grammar_for

    server = FakeChatServer()
    backend = server.backend("vllm")
    steps = batch_steps(seed, ["One?", "Two?", "Three?"], backend)
    request = next(steps)
    steps.close()
    grammar, _ = grammar_for(request.body["response_format"])
    rules = dict(line.split(" ::= ", 1) for line in grammar._grammar.splitlines() if " ::= " in line)
    assert rules["answers"] == '"[" space answers-tuple-0 "," space answers-tuple-1 "," space answers-tuple-2 "]" space'
    assert [rules[f"answers-tuple-{i}-number"] for i in range(3)] == ['"1"', '"2"', '"3"']


def test_async_ask_many_keeps_question_order(seed) -> None:
    server = FakeChatServer().enqueue(answer("a", TRADE_N), answer("b", TRADE_N))
    backend = server.backend(**KEEP)
    results = asyncio.run(aask_many(seed, ["One?", "Two?"], batch=False, concurrency=1, backend=backend))
    assert [r.question for r in results] == ["One?", "Two?"]
    assert [r.answer.answer for r in results] == ["a", "b"]


def test_a_backend_passed_in_is_used_by_every_entry_point(seed) -> None:
    """`backend=` takes a Backend you built: ask, ask_many and Conversation all send through it."""
    server = FakeChatServer().enqueue(answer("a", TRADE_N), answer("b", TRADE_N), answer("c", TRADE_N))
    backend = server.backend(**KEEP)
    assert ask(seed, "One?", backend=backend).answer.answer == "a"
    assert [r.answer.answer for r in ask_many(seed, ["Two?"], backend=backend)] == ["b"]
    chat = Conversation(seed, backend=backend)
    assert chat.ask("Three?").answer.answer == "c" and chat.backend is backend
    assert len(server.requests) == 3


def test_a_backend_and_settings_together_are_refused(seed) -> None:
    backend = FakeChatServer().backend()
    with pytest.raises(ConfigError, match="either a Backend or settings"):
        ask(seed, "One?", backend=backend, settings=backend.settings)
    with pytest.raises(ConfigError, match="either a Backend or settings"):
        ask(seed, "One?", backend=backend, model="other")


def test_sync_and_async_steps_give_the_same_result(seed) -> None:
    sync_server = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    async_server = FakeChatServer().enqueue(answer("The United States.", TRADE_N))
    sync_backend, async_backend = sync_server.backend(), async_server.backend()
    one = run(answer_steps(seed, "Who?", sync_backend), sync_backend)
    two = asyncio.run(arun(answer_steps(seed, "Who?", async_backend), async_backend))
    assert one == two
    assert sync_server.requests == async_server.requests


def test_split_usage_adds_up() -> None:
    usage = Usage(prompt_tokens=101, completion_tokens=7, total_tokens=108, attempts=2, cost_usd=0.3)
    shares = split_usage(usage, 3)
    assert sum(s.prompt_tokens for s in shares) == 101 and sum(s.completion_tokens for s in shares) == 7
    assert sum(s.attempts for s in shares) == 2 and sum(s.cost_usd for s in shares) == pytest.approx(0.3)


def test_a_failing_summary_call_reports_the_usage_of_every_attempt_before_it(seed) -> None:
    from qa.errors import RefusalError
    from tests.fakes import Reply

    unsupported = draft(seed) | {"summary": "The agreement is part of China's expansion into Europe."}
    server = FakeChatServer().enqueue(unsupported, Reply(None, refusal="No."))
    backend = server.backend()
    with pytest.raises(RefusalError) as info:
        run(summary_steps(seed, backend), backend)
    assert "summary:" in server.requests[1]["messages"][-1]["content"]  # the unsupported statement drove a re-ask
    assert info.value.usage is not None and info.value.usage.attempts == 2 == len(server.requests)

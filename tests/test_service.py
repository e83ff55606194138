"""The tasks end to end on a fake HTTP layer: grounding, abstention, long articles, batches."""

from __future__ import annotations

import asyncio
import json

import pytest

from qa.api import aask_many, ask_many
from qa.article import parse_article
from qa.batch import batch_steps, split_usage
from qa.driver import arun, run
from qa.errors import OutputValidationError, QuestionError
from qa.schemas import Answer, Usage
from qa.service import Turn, answer_steps, summary_steps
from tests.fakes import FakeChatServer

TRADE = "China is Colombia's second-largest trading partner after the United States"


def answer(text: str, *quotes: str, status: str = "answered") -> dict:
    return {"answer": text, "status": status, "citations": [{"quote": q, "start": None, "end": None} for q in quotes]}


def summary(*quotes: str) -> dict:
    return {
        "headline": "China and Colombia sign Belt and Road plan",
        "summary": "Colombia joined China's Belt and Road Initiative.",
        "key_points": [{"point": f"Point {i}", "quote": q} for i, q in enumerate(quotes)],
        "entities": [{"name": "Gustavo Petro", "type": "person", "role": "Colombia's president"}],
        "figures": [{"value": "$9.2 billion", "kind": "amount", "meaning": "credit", "quote": "Xi also pledged $9.2 billion in credit"}],
    }


def test_answer_with_a_verified_quote(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE))
    backend = server.backend()
    result = run(answer_steps(seed, "Who is Colombia's largest trading partner?", backend), backend)
    assert result.answer.status == "answered"
    (citation,) = result.answer.citations
    assert seed.text[citation.start : citation.end] == citation.quote == TRADE
    assert result.grounding.verified + result.grounding.repaired == 1
    assert result.provenance.prompt == "answer" and result.provenance.backend == "openai"
    assert result.usage.attempts == 1


def test_answer_with_curly_quote_variant_is_repaired(seed) -> None:
    server = FakeChatServer().enqueue(answer("A deal.", 'Colombia\'s foreign ministry on Wednesday hailed a “historic”  deal with China.'))
    backend = server.backend()
    result = run(answer_steps(seed, "What did the ministry call it?", backend), backend)
    (citation,) = result.answer.citations
    assert seed.text[citation.start : citation.end] == citation.quote
    assert '"historic"' in citation.quote and result.grounding.repaired == 1


def test_invented_quotes_are_reasked_then_the_answer_abstains(seed) -> None:
    invented = answer("Brazil.", "Brazil is Colombia's biggest partner")
    server = FakeChatServer().enqueue(invented, invented, invented)
    backend = server.backend(max_attempts=3)
    result = run(answer_steps(seed, "Who is the partner?", backend), backend)
    assert len(server.requests) == 2  # the meaning check drove one re-ask, not more
    assert "quote not found in the article" in server.requests[1]["messages"][-1]["content"]
    assert result.answer.status == "not_in_article" and result.answer.answer == "" and result.answer.citations == []
    assert result.grounding.abstained is True
    assert [d.quote for d in result.grounding.dropped] == ["Brazil is Colombia's biggest partner"]
    assert result.usage.attempts == 2


def test_a_model_abstention_clears_its_text(seed) -> None:
    server = FakeChatServer().enqueue(answer("Probably about 8 million people.", status="not_in_article"))
    backend = server.backend()
    result = run(answer_steps(seed, "What is the population of Bogota?", backend), backend)
    assert result.answer.model_dump() == {"answer": "", "status": "not_in_article", "citations": []}
    assert result.grounding.abstained is False  # the model itself abstained


@pytest.mark.parametrize("question", ["", "   \n ", "x" * 10_000])
def test_bad_questions_raise_before_any_call(seed, question: str) -> None:
    server = FakeChatServer()
    backend = server.backend()
    with pytest.raises(QuestionError) as info:
        run(answer_steps(seed, question, backend), backend)
    assert "question" in str(info.value)
    assert server.requests == []


def test_constrained_backends_limit_quotes_to_article_sentences(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE + ", which it recently displaced as Colombia's largest source of imports."))
    backend = server.backend(kind="llamacpp", base_url="http://localhost:8080/v1", structured_mode="json_object_schema")
    run(answer_steps(seed, "Who?", backend), backend)
    sent = server.requests[0]["response_format"]
    assert sent["type"] == "json_object"  # llama-cpp-python's spelling (llamacpp itself now sends a grammar: test_servers_negotiation.py)
    quote = sent["schema"]["$defs"]["Citation"]["properties"]["quote"]
    assert TRADE + ", which it recently displaced as Colombia's largest source of imports." in quote["enum"]
    assert all(s in seed.text for s in quote["enum"])


def test_plain_json_mode_shows_the_schema_in_the_prompt(seed) -> None:
    server = FakeChatServer().enqueue(answer("The United States.", TRADE))
    backend = server.backend(kind="server", base_url="http://localhost:1/v1", structured_mode="json_object")
    run(answer_steps(seed, "Who?", backend), backend)
    assert server.requests[0]["response_format"] == {"type": "json_object"}
    assert '"citations"' in server.requests[0]["messages"][0]["content"]


def test_the_article_prefix_is_byte_identical_across_questions(seed) -> None:
    server = FakeChatServer().enqueue(answer("x", TRADE), answer("y", TRADE))
    backend = server.backend()
    run(answer_steps(seed, "First question?", backend), backend)
    run(answer_steps(seed, "A different second question?", backend), backend)
    one, two = (r["messages"] for r in server.requests)
    assert one[0] == two[0]
    prefix = one[1]["content"].split("Question:")[0]
    assert prefix and two[1]["content"].startswith(prefix) and seed.text in prefix


def test_follow_ups_carry_history_and_drop_the_oldest_when_it_does_not_fit(seed) -> None:
    server = FakeChatServer().enqueue(answer("y", TRADE))
    backend = server.backend(context_tokens=1900)
    history = [Turn(question=f"Earlier question {i} " + "pad " * 60, answer=Answer(answer="a " * 100, status="answered", citations=[])) for i in range(6)]
    run(answer_steps(seed, "Now?", backend, history), backend)
    messages = server.requests[0]["messages"]
    assert messages[-1]["content"].strip() == "Question: Now?"
    assert 2 < len(messages) < 2 + 2 * len(history)  # some turns kept, the oldest dropped
    assert "Earlier question 5" in json.dumps(messages) and "Earlier question 0" not in json.dumps(messages)


def long_article():
    paragraphs = [f"In district {i}, officials reported {i * 3} new schools and a budget of {i} million dollars." for i in range(120)]
    return parse_article("Schools report\n\n" + "\n\n".join(paragraphs))


def test_a_long_article_is_summarized_by_map_reduce(tmp_path) -> None:
    article = long_article()
    quotes = [article.paragraphs[i].text for i in (1, 2, 3)]
    server = FakeChatServer()
    for _ in range(20):
        server.enqueue(summary(*quotes))
    backend = server.backend(context_tokens=6500)
    result = run(summary_steps(article, backend), backend)
    prompts = [r["messages"][0]["content"] for r in server.requests]
    assert len(server.requests) >= 3  # at least two chunks and the combine step
    assert "partial summaries" in prompts[-1]
    covered = "".join(r["messages"][1]["content"] for r in server.requests[:-1])
    assert all(p.text in covered for p in article.paragraphs)  # every paragraph was read, none dropped
    assert result.usage.attempts == len(server.requests)
    assert result.provenance.prompt == "combine"
    assert result.grounding.unsupported_key_points == []


def test_a_long_article_is_answered_from_its_most_relevant_paragraphs() -> None:
    article = long_article()
    target = article.paragraphs[78].text
    server = FakeChatServer().enqueue(answer("234 schools.", target))
    backend = server.backend(context_tokens=2500)
    result = run(answer_steps(article, "How many new schools did district 77 report?", backend), backend)
    sent = server.requests[0]["messages"][1]["content"]
    assert "district 77," in sent and len(sent) < len(article.text)
    assert result.answer.status == "answered"


def test_ask_many_answers_in_one_call_and_verifies_each(seed) -> None:
    reply = {"answers": [dict(answer("The United States.", TRADE), number=1), dict(answer("", status="not_in_article"), number=2)]}
    server = FakeChatServer().enqueue(reply)
    backend = server.backend()
    results = run(batch_steps(seed, ["Largest partner?", "Population of Bogota?"], backend), backend)
    assert len(server.requests) == 1
    assert [r.answer.status for r in results] == ["answered", "not_in_article"]
    assert results[0].answer.citations[0].quote == TRADE
    items = server.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["answers"]
    assert items["minItems"] == items["maxItems"] == 2
    assert sum(r.usage.total_tokens for r in results) == 120


def test_a_batch_that_stays_misnumbered_fails_with_its_usage(seed) -> None:
    wrong = {"answers": [dict(answer("x", TRADE), number=1), dict(answer("y", TRADE), number=1)]}
    server = FakeChatServer().enqueue(wrong, wrong, wrong)
    backend = server.backend(max_attempts=3)
    with pytest.raises(OutputValidationError, match="did not number") as failure:
        run(batch_steps(seed, ["One?", "Two?"], backend), backend)
    assert "exactly one entry" in server.requests[1]["messages"][-1]["content"]
    assert failure.value.usage.attempts == len(server.requests) == 2  # one meaning re-ask, as for any answer


def test_ask_many_answers_one_by_one_after_a_failed_batch_and_charges_it(seed, monkeypatch) -> None:
    wrong = {"answers": [dict(answer("x", TRADE), number=1)]}
    server = FakeChatServer().enqueue(wrong, wrong, wrong, answer("a", TRADE), answer("b", TRADE))
    backend = server.backend(max_attempts=3)
    monkeypatch.setattr("qa.api.backend_for", lambda settings=None, **_: backend)
    results = ask_many(seed, ["One?", "Two?"], concurrency=1)
    assert [r.answer.answer for r in results] == ["a", "b"]
    assert len(server.requests) == 5 and server.requests[3]["messages"][1]["content"].rstrip().endswith("One?")
    # The three failed batch attempts are paid for: the results' usage adds up to every request sent.
    assert sum(r.usage.attempts for r in results) == len(server.requests)
    assert sum(r.usage.total_tokens for r in results) == 120 * len(server.requests)  # the fake bills 120 a call


def test_async_ask_many_charges_a_failed_batch_too(seed, monkeypatch) -> None:
    wrong = {"answers": [dict(answer("x", TRADE), number=1)]}
    server = FakeChatServer().enqueue(wrong, wrong, wrong, answer("a", TRADE), answer("b", TRADE))
    backend = server.backend(max_attempts=3)
    monkeypatch.setattr("qa.api.backend_for", lambda settings=None, **_: backend)
    results = asyncio.run(aask_many(seed, ["One?", "Two?"], concurrency=1))
    assert [r.answer.answer for r in results] == ["a", "b"]
    assert sum(r.usage.attempts for r in results) == len(server.requests) == 5


def test_a_grammar_backend_gets_the_numbers_pinned_in_the_schema(seed) -> None:
    reply = {"answers": [dict(answer("The United States.", TRADE), number=1), dict(answer("", status="not_in_article"), number=2)]}
    server = FakeChatServer().enqueue(reply)
    backend = server.backend("vllm")
    results = run(batch_steps(seed, ["Largest partner?", "Population of Bogota?"], backend), backend)
    assert [r.answer.status for r in results] == ["answered", "not_in_article"]
    answers = server.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["answers"]
    assert "items" not in answers
    assert [item["properties"]["number"] for item in answers["prefixItems"]] == [
        {"type": "integer", "const": 1},
        {"type": "integer", "const": 2},
    ]


def test_pinned_numbers_make_a_grammar_that_only_accepts_them_in_order(seed) -> None:
    pytest.importorskip("llama_cpp")
    from qa.local.grammar import grammar_for

    server = FakeChatServer()
    backend = server.backend("vllm")
    steps = batch_steps(seed, ["One?", "Two?", "Three?"], backend)
    request = next(steps)
    steps.close()
    grammar, _ = grammar_for(request.body["response_format"])
    rules = dict(line.split(" ::= ", 1) for line in grammar._grammar.splitlines() if " ::= " in line)
    assert rules["answers"] == '"[" space answers-tuple-0 "," space answers-tuple-1 "," space answers-tuple-2 "]" space'
    assert [rules[f"answers-tuple-{i}-number"] for i in range(3)] == ['"1"', '"2"', '"3"']


def test_async_ask_many_keeps_question_order(seed, monkeypatch) -> None:
    server = FakeChatServer().enqueue(answer("a", TRADE), answer("b", TRADE))
    backend = server.backend()
    monkeypatch.setattr("qa.api.backend_for", lambda settings=None, **_: backend)
    results = asyncio.run(aask_many(seed, ["One?", "Two?"], batch=False, concurrency=1))
    assert [r.question for r in results] == ["One?", "Two?"]
    assert [r.answer.answer for r in results] == ["a", "b"]


def test_sync_and_async_steps_give_the_same_result(seed) -> None:
    sync_server = FakeChatServer().enqueue(answer("The United States.", TRADE))
    async_server = FakeChatServer().enqueue(answer("The United States.", TRADE))
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


def test_a_failing_map_reduce_step_reports_the_usage_of_every_step_before_it() -> None:
    from qa.errors import RefusalError
    from tests.fakes import Reply

    article = long_article()
    quotes = [article.paragraphs[i].text for i in (1, 2, 3)]
    server = FakeChatServer().enqueue(summary(*quotes), summary(*quotes), Reply(None, refusal="No."))
    backend = server.backend(context_tokens=6500)
    with pytest.raises(RefusalError) as info:
        run(summary_steps(article, backend), backend)
    assert info.value.usage is not None and info.value.usage.attempts == 3 == len(server.requests)

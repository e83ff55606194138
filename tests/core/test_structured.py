"""The call / validate / re-ask loop, on a fake HTTP layer."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest

from qa.backends.driver import arun, run
from qa.core.prompts import RenderedPrompt
from qa.core.structured import StructuredSpec, structured_call
from qa.errors import APICallError, BrokenReplyError, OutputValidationError, RefusalError, TruncatedOutputError
from qa.schemas import Answer
from tests.fakes import FakeChatServer, Reply

VALID = {
    "answer": "Gustavo Petro.",
    "status": "answered",
    "citations": [{"quote": "Petro", "start": None, "end": None}],
}
MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "question"}]


def spec(check=None) -> StructuredSpec[Answer]:
    prompt = RenderedPrompt(name="answer", version="1+abcd", messages=MESSAGES)
    return StructuredSpec(prompt=prompt, response_model=Answer, schema={"type": "object"}, max_tokens=50, check=check)


def test_invalid_json_then_valid_reasks_once_and_sums_usage() -> None:
    server = FakeChatServer().enqueue(
        Reply("{not json", prompt_tokens=100, completion_tokens=7),
        Reply(json.dumps(VALID), prompt_tokens=130, completion_tokens=11),
    )
    backend = server.backend()
    caller_messages = copy.deepcopy(MESSAGES)
    answer, usage = run(structured_call(spec(), backend), backend)
    assert answer.answer == "Gustavo Petro."
    assert usage.attempts == 2
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (230, 18, 248)
    # The re-ask carried the bad output and the error text, on a copy of the messages.
    second = server.requests[1]["messages"]
    assert second[:2] == MESSAGES
    assert second[2] == {"role": "assistant", "content": "{not json"}
    assert "could not be used" in second[3]["content"] and "JSON" in second[3]["content"]
    assert caller_messages == MESSAGES
    assert len(server.requests[0]["messages"]) == 2


def test_metadata_headers_and_response_format_are_sent() -> None:
    server = FakeChatServer().enqueue(VALID)
    backend = server.backend()
    run(structured_call(spec(), backend), backend)
    assert server.headers[0]["x-qa-prompt"] == "answer"
    assert server.headers[0]["x-qa-prompt-version"] == "1+abcd"
    assert server.requests[0]["response_format"]["type"] == "json_schema"
    assert server.requests[0]["response_format"]["json_schema"]["strict"] is True
    assert server.requests[0]["max_tokens"] == 50


def test_schema_mismatch_every_time_raises_with_usage_of_all_attempts() -> None:
    server = FakeChatServer().enqueue(*[Reply('{"answer": 1}', completion_tokens=5)] * 3)
    backend = server.backend(max_attempts=3)
    with pytest.raises(OutputValidationError) as info:
        run(structured_call(spec(), backend), backend)
    assert info.value.attempts == 3
    assert info.value.usage is not None and info.value.usage.completion_tokens == 15
    assert info.value.last_output == '{"answer": 1}'
    assert len(server.requests) == 3


def test_truncation_asks_for_shorter_output_once_then_raises() -> None:
    server = FakeChatServer().enqueue(
        Reply('{"answer": "aaa', finish_reason="length"), Reply('{"answer": "bb', finish_reason="length")
    )
    backend = server.backend(max_attempts=3)
    with pytest.raises(TruncatedOutputError) as info:
        run(structured_call(spec(), backend), backend)
    assert info.value.usage is not None and info.value.usage.attempts == 2
    assert info.value.partial == '{"answer": "bb'
    # The second request asked for shorter output instead of resending the same thing.
    assert server.requests[1]["messages"] != server.requests[0]["messages"]
    assert "shorter" in server.requests[1]["messages"][-1]["content"]


def test_truncation_then_success() -> None:
    server = FakeChatServer().enqueue(Reply('{"answer": "aaa', finish_reason="length"), VALID)
    backend = server.backend()
    answer, usage = run(structured_call(spec(), backend), backend)
    assert answer.status == "answered" and usage.attempts == 2


def test_truncation_on_a_single_attempt_raises_at_once() -> None:
    server = FakeChatServer().enqueue(Reply('{"answer": "aaa', finish_reason="length"))
    backend = server.backend(max_attempts=1)
    with pytest.raises(TruncatedOutputError):
        run(structured_call(spec(), backend), backend)
    assert len(server.requests) == 1


def test_refusal_raises_without_retry() -> None:
    server = FakeChatServer().enqueue(Reply(None, refusal="I can't help with that."))
    backend = server.backend()
    with pytest.raises(RefusalError) as info:
        run(structured_call(spec(), backend), backend)
    assert info.value.refusal == "I can't help with that."
    assert info.value.usage is not None and info.value.usage.attempts == 1
    assert len(server.requests) == 1


def test_meaning_check_drives_a_reask_and_is_accepted_on_the_last_attempt() -> None:
    server = FakeChatServer().enqueue(VALID, VALID)
    backend = server.backend(max_attempts=2)
    seen = []

    def check(answer: Answer) -> list[str]:
        seen.append(answer)
        return ["quote not found in the article: 'Petro'"]

    _, usage = run(structured_call(spec(check), backend), backend)
    assert usage.attempts == 2 and len(seen) == 2
    assert "quote not found" in server.requests[1]["messages"][-1]["content"]


def test_server_error_becomes_api_call_error_with_status() -> None:
    server = FakeChatServer().enqueue(Reply("boom", status=503))
    backend = server.backend()
    with pytest.raises(APICallError) as info:
        run(structured_call(spec(), backend), backend)
    assert info.value.status_code == 503


def test_cost_is_known_for_priced_models() -> None:
    server = FakeChatServer().enqueue(Reply(json.dumps(VALID), prompt_tokens=1_000_000, completion_tokens=0))
    backend = server.backend(model="gpt-4o-mini")
    _, usage = run(structured_call(spec(), backend), backend)
    assert usage.cost_usd == pytest.approx(0.15)


def test_async_driver_runs_the_same_steps() -> None:
    server = FakeChatServer().enqueue("{bad", VALID)
    backend = server.backend()
    answer, usage = asyncio.run(arun(structured_call(spec(), backend), backend))
    assert answer.answer == "Gustavo Petro." and usage.attempts == 2


def test_streaming_delivers_deltas_and_the_same_result() -> None:
    server = FakeChatServer().enqueue(VALID)
    backend = server.backend()
    deltas: list[str] = []
    answer, usage = run(structured_call(spec(), backend, stream=True), backend, deltas.append)
    assert len(deltas) > 3 and json.loads("".join(deltas)) == VALID
    assert answer.answer == "Gustavo Petro." and usage.total_tokens == 120
    assert server.requests[0]["stream"] is True


@pytest.mark.parametrize("stream", [False, True], ids=["body not JSON", "stream cut"])
def test_a_broken_reply_is_sent_again_once_unchanged(stream: bool) -> None:
    server = FakeChatServer().enqueue(Reply(json.dumps(VALID), broken=True), Reply(json.dumps(VALID)))
    backend = server.backend()
    answer, usage = run(structured_call(spec(), backend, stream=stream), backend)
    assert answer.answer == "Gustavo Petro."
    assert len(server.requests) == 2 and server.requests[0] == server.requests[1]  # the same request again
    assert usage.attempts == 1 and usage.total_tokens == 120  # only the reply that arrived counts


@pytest.mark.parametrize("stream", [False, True], ids=["body not JSON", "stream cut"])
def test_a_reply_broken_twice_raises_broken_reply_error(stream: bool) -> None:
    server = FakeChatServer().enqueue(*[Reply(json.dumps(VALID), broken=True)] * 3)
    backend = server.backend(max_attempts=3)
    with pytest.raises(BrokenReplyError) as info:
        asyncio.run(arun(structured_call(spec(), backend, stream=stream), backend))
    assert len(server.requests) == 2 and info.value.usage.attempts == 0


def test_a_broken_reply_on_the_last_attempt_is_not_sent_again() -> None:
    server = FakeChatServer().enqueue(Reply(json.dumps(VALID), broken=True), Reply(json.dumps(VALID)))
    backend = server.backend(max_attempts=1)
    with pytest.raises(BrokenReplyError):
        run(structured_call(spec(), backend), backend)
    assert len(server.requests) == 1

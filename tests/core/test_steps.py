"""The structured-call steps driven directly: send Completions in, read requests out.

No SDK, no HTTP fake: `structured_call` is a sans-IO generator, so the re-ask, truncation,
refusal and usage rules are checked on the steps themselves (the same rules through the
SDK and a fake HTTP server: test_structured.py).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest

from qa.backends.driver import ChatRequest
from qa.core.prompts import RenderedPrompt
from qa.core.structured import SHORTER, Completion, StructuredSpec, structured_call
from qa.errors import RefusalError, TruncatedOutputError
from qa.schemas import Answer
from tests.fakes import FakeChatServer

VALID = json.dumps({"answer": "Gustavo Petro.", "status": "answered", "citations": []})
MESSAGES = [{"role": "system", "content": "rules"}, {"role": "user", "content": "question"}]


def spec(check: Any = None) -> StructuredSpec[Answer]:
    prompt = RenderedPrompt(name="answer", version="1+abcd", messages=MESSAGES)
    return StructuredSpec(prompt=prompt, response_model=Answer, schema={"type": "object"}, max_tokens=50, check=check)


def reply(
    content: str | None, finish: str = "stop", refusal: str | None = None, tokens: tuple[int, int] = (100, 10)
) -> Completion:
    return Completion(
        content=content, refusal=refusal, finish_reason=finish, prompt_tokens=tokens[0], completion_tokens=tokens[1]
    )


def drive(steps: Generator[ChatRequest, Completion, Any], *completions: Completion) -> tuple[list[ChatRequest], Any]:
    """Answer each request with the next completion; the requests made and the steps' result."""
    requests = [next(steps)]
    for completion in completions:
        try:
            requests.append(steps.send(completion))
        except StopIteration as stop:
            return requests, stop.value
    raise AssertionError(f"the steps asked for a call number {len(requests)}, beyond the {len(completions)} given")


def steps(check: Any = None) -> Generator[ChatRequest, Completion, Any]:
    return structured_call(spec(check), FakeChatServer().backend())


def test_a_valid_reply_ends_the_steps_after_one_request() -> None:
    requests, (answer, usage) = drive(steps(), reply(VALID, tokens=(120, 9)))
    assert len(requests) == 1 and requests[0].body["messages"] == MESSAGES
    assert answer.answer == "Gustavo Petro."
    assert (usage.prompt_tokens, usage.completion_tokens, usage.attempts) == (120, 9, 1)


def test_invalid_json_is_reasked_with_the_output_and_the_problem_and_usage_is_summed() -> None:
    requests, (answer, usage) = drive(steps(), reply("{not json", tokens=(100, 7)), reply(VALID, tokens=(130, 11)))
    assert len(requests) == 2
    resent = requests[1].body["messages"]
    assert resent[: len(MESSAGES)] == MESSAGES  # the caller's messages, untouched, come first
    assert resent[-2] == {"role": "assistant", "content": "{not json"} and resent[-1]["role"] == "user"
    assert answer.status == "answered"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.attempts) == (230, 18, 2)


def test_a_meaning_problem_is_reasked_once_then_left_to_the_caller() -> None:
    seen: list[str] = []

    def check(answer: Answer) -> list[str]:
        seen.append(answer.answer)
        return ["quote not found in the article: 'Petro'"]

    requests, (answer, usage) = drive(steps(check), reply(VALID), reply(VALID))
    assert len(requests) == 2 and "quote not found" in requests[1].body["messages"][-1]["content"]
    assert answer.answer == "Gustavo Petro." and usage.attempts == 2 and len(seen) == 2


def test_a_cut_off_reply_asks_once_for_shorter_output_then_raises_with_the_usage() -> None:
    requests, (answer, usage) = drive(steps(), reply('{"answer": "Gus', finish="length"), reply(VALID))
    assert requests[1].body["messages"][-1] == {"role": "user", "content": SHORTER}
    assert answer.answer == "Gustavo Petro." and usage.attempts == 2
    with pytest.raises(TruncatedOutputError) as info:
        drive(steps(), reply('{"answer": "Gus', finish="length"), reply('{"answer": "Gust', finish="length"))
    assert info.value.partial == '{"answer": "Gust' and info.value.usage is not None and info.value.usage.attempts == 2


def test_a_refusal_raises_at_once_with_what_the_call_cost() -> None:
    with pytest.raises(RefusalError) as info:
        drive(steps(), reply(None, refusal="I can't help with that.", tokens=(90, 5)))
    assert info.value.refusal == "I can't help with that."
    assert info.value.usage is not None and (info.value.usage.prompt_tokens, info.value.usage.attempts) == (90, 1)

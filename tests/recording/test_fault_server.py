"""Tests for qa.testing.fault_server: each fault as the openai SDK really sees it.

Everything runs against 127.0.0.1 only. Outcomes asserted here were observed with
openai 3.x (httpx2 underneath) and `max_retries=0` unless said otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import openai
import pytest

from qa.testing import ALL_FAULTS, FaultServer, FaultStats

ANSWER = "The quick brown fox jumps over the lazy dog."
MESSAGES: list[Any] = [{"role": "user", "content": "Say the pangram."}]
SEEN: list[dict[str, Any]] = []


def responder(body: dict[str, Any]) -> dict[str, Any]:
    """The normal answer, whatever was asked; remembers the request body."""
    SEEN.append(body)
    return {"content": ANSWER, "finish_reason": "stop"}


def client(server: FaultServer, *, max_retries: int = 0, timeout: float = 5.0) -> openai.OpenAI:
    """An SDK client pointed at the fault server."""
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=max_retries, timeout=timeout)


def ask(server: FaultServer, **kwargs: Any) -> Any:
    """One non-stream chat completion through the SDK."""
    with client(server) as sdk:
        return sdk.chat.completions.create(model="test-model", messages=MESSAGES, **kwargs)


def stream_chunks(server: FaultServer) -> list[Any]:
    """All chunks of one streamed chat completion through the SDK."""
    with client(server) as sdk:
        stream = sdk.chat.completions.create(
            model="test-model", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        return list(stream)


def raw_post(server: FaultServer, body: Any, path: str = "/chat/completions") -> httpx2.Response:
    """POST straight to the server, bypassing the SDK."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx2.Client(timeout=5.0) as http:
        return http.post(server.base_url + path, content=data, headers={"Content-Type": "application/json"})


@pytest.fixture
def forced(request: pytest.FixtureRequest) -> Iterator[FaultServer]:
    """A server that injects the parametrized fault on every request."""
    with FaultServer(responder, fault_rate=1.0, faults=[request.param], slow_seconds=1.0) as server:
        yield server


def test_no_faults_returns_the_responders_content() -> None:
    SEEN.clear()
    with FaultServer(responder, fault_rate=0.0) as server:
        completion = ask(server)
        assert server.stats == FaultStats(requests=1, normal=1, faults_injected={}, rejected=0)
        assert server.log == [(0, None)]
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
    message = completion.choices[0].message
    assert (message.role, message.content, message.refusal) == ("assistant", ANSWER, None)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "test-model"
    assert completion.object == "chat.completion"
    assert completion.usage.completion_tokens == len(ANSWER) // 4
    assert completion.usage.prompt_tokens == len("Say the pangram.") // 4
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert SEEN[0]["messages"] == MESSAGES and SEEN[0]["model"] == "test-model"


LOGPROBS = {"content": [{"token": "The", "logprob": -0.1, "bytes": [84, 104, 101], "top_logprobs": []}]}


def with_logprobs(body: dict[str, Any]) -> dict[str, Any]:
    return {"content": ANSWER, "finish_reason": "stop", "logprobs": LOGPROBS}


def test_logprobs_the_responder_has_are_served_when_asked_and_never_with_a_fault() -> None:
    with FaultServer(with_logprobs, fault_rate=0.0) as server:
        asked = ask(server, logprobs=True)
        not_asked = ask(server)
    assert asked.choices[0].logprobs.content[0].token == "The" and asked.choices[0].logprobs.content[0].logprob == -0.1
    assert not_asked.choices[0].logprobs is None
    with FaultServer(with_logprobs, fault_rate=1.0, faults=["truncated"]) as server:
        cut = ask(server, logprobs=True)
    assert cut.choices[0].finish_reason == "length" and cut.choices[0].logprobs is None  # they described other text


def test_stream_without_faults_sends_role_content_finish_usage_and_done() -> None:
    with FaultServer(responder, fault_rate=0.0) as server:
        chunks = stream_chunks(server)
        with httpx2.Client(timeout=5.0) as http:
            raw = http.post(
                server.base_url + "/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}
            ).text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    assert 6 <= sum(1 for c in chunks if c.choices and c.choices[0].delta.content) <= 10
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(ANSWER) // 4
    assert raw.rstrip().endswith("data: [DONE]")
    assert '"usage"' not in raw  # no usage chunk unless stream_options.include_usage


@pytest.mark.parametrize(
    ("forced", "error", "status"),
    [
        ("rate_limit", openai.RateLimitError, 429),
        ("server_error", openai.InternalServerError, 500),
        ("unavailable", openai.InternalServerError, 503),  # the SDK maps every 5xx to one class
    ],
    indirect=["forced"],
)
def test_status_faults_raise_the_sdks_status_errors(
    forced: FaultServer, error: type[openai.APIStatusError], status: int
) -> None:
    with pytest.raises(error) as caught:
        ask(forced)
    assert caught.value.status_code == status
    assert caught.value.body["type"] in {"rate_limit_error", "server_error"}
    if status == 429:
        assert caught.value.response.headers["retry-after"] == "0"


@pytest.mark.parametrize("forced", ["slow"], indirect=True)
def test_slow_answer_times_out_on_the_client(forced: FaultServer) -> None:
    with client(forced, timeout=0.3) as sdk, pytest.raises(openai.APITimeoutError):
        sdk.chat.completions.create(model="m", messages=MESSAGES)


def test_slow_answer_arrives_for_a_patient_client_and_latency_delays_every_answer() -> None:
    with FaultServer(responder, fault_rate=1.0, faults=["slow"], slow_seconds=0.1) as server:
        assert ask(server).choices[0].message.content == ANSWER
    with FaultServer(responder, fault_rate=0.0, latency=1.0) as server:
        with client(server, timeout=0.3) as sdk, pytest.raises(openai.APITimeoutError):
            sdk.chat.completions.create(model="m", messages=MESSAGES)
        assert server.log == [(0, None)]


@pytest.mark.parametrize("forced", ["reset", "stream_cut"], indirect=True)
def test_reset_is_a_connection_error_not_a_timeout(forced: FaultServer) -> None:
    with pytest.raises(openai.APIConnectionError) as caught:
        ask(forced)  # stream_cut on a non-stream request falls back to reset
    assert type(caught.value) is openai.APIConnectionError
    assert isinstance(caught.value.__cause__, httpx2.ReadError)


@pytest.mark.parametrize("forced", ["malformed_json"], indirect=True)
def test_malformed_json_surfaces_as_a_raw_json_decode_error(forced: FaultServer) -> None:
    # openai 3.x does not wrap this: json.JSONDecodeError reaches the caller as is.
    with pytest.raises(json.JSONDecodeError):
        ask(forced)
    with pytest.raises(json.JSONDecodeError):
        stream_chunks(forced)


@pytest.mark.parametrize("forced", ["schema_invalid"], indirect=True)
def test_schema_invalid_content_is_valid_json_of_the_wrong_shape(forced: FaultServer) -> None:
    completion = ask(forced)
    assert json.loads(completion.choices[0].message.content) == {"unexpected": True}
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("forced", ["truncated"], indirect=True)
def test_truncated_content_is_half_with_finish_reason_length(forced: FaultServer) -> None:
    completion = ask(forced)
    assert completion.choices[0].message.content == ANSWER[: len(ANSWER) // 2]
    assert completion.choices[0].finish_reason == "length"
    chunks = stream_chunks(forced)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]


@pytest.mark.parametrize("forced", ["refusal"], indirect=True)
def test_refusal_sets_message_refusal_and_no_content(forced: FaultServer) -> None:
    message = ask(forced).choices[0].message
    assert message.content is None
    assert message.refusal == "I can't help with that."
    chunks = stream_chunks(forced)
    assert "".join(c.choices[0].delta.refusal or "" for c in chunks if c.choices) == message.refusal


@pytest.mark.parametrize("forced", ["stream_cut"], indirect=True)
def test_stream_cut_ends_silently_without_finish_reason(forced: FaultServer) -> None:
    # The SDK's iterator does NOT raise: the stream just stops early. Callers must
    # check for a finish_reason themselves to notice.
    chunks = stream_chunks(forced)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and ANSWER.startswith(text) and text != ANSWER
    assert all(c.choices and c.choices[0].finish_reason is None for c in chunks)
    with httpx2.Client(timeout=5.0) as http:
        raw = http.post(
            forced.base_url + "/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}
        ).text
    assert raw.startswith("data: {") and "[DONE]" not in raw


def test_sdk_retries_survive_an_injected_rate_limit() -> None:
    with FaultServer(responder, fault_rate=0.5, faults=["rate_limit"], seed=1) as server:
        with client(server, max_retries=2) as sdk:
            completion = sdk.chat.completions.create(model="m", messages=MESSAGES)
        stats = server.stats
    assert completion.choices[0].message.content == ANSWER
    # seed 1 at rate 0.5 draws 429, 429, normal: both of the SDK's retries are needed.
    assert stats.faults_injected == {"rate_limit": 2}
    assert stats.normal == 1 and stats.requests == 3
    assert server.log == [(0, "rate_limit"), (1, "rate_limit"), (2, None)]


def test_same_seed_gives_the_same_fault_sequence() -> None:
    quick = ["rate_limit", "server_error", "truncated", "refusal", "schema_invalid"]

    def sequence(seed: int) -> list[tuple[int, str | None]]:
        with FaultServer(responder, fault_rate=0.5, faults=quick, seed=seed) as server:
            for _ in range(12):
                raw_post(server, {"model": "m", "messages": MESSAGES})
            return server.log

    first = sequence(7)
    assert first == sequence(7)
    assert first != sequence(8)
    assert {fault for _, fault in first} - {None} and None in {fault for _, fault in first}


def test_counters_are_consistent_under_concurrent_requests() -> None:
    with FaultServer(responder, fault_rate=0.5, faults=["server_error", "refusal"], seed=3) as server:
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda _: raw_post(server, {"messages": MESSAGES}).status_code, range(24)))
        stats = server.stats
    assert stats.requests == 24 == len(server.log)
    assert stats.normal + sum(stats.faults_injected.values()) == 24
    assert statuses.count(500) == stats.faults_injected.get("server_error", 0)
    assert sorted(index for index, _ in server.log) == list(range(24))


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "::1", "192.168.1.10"])
def test_refuses_any_host_but_loopback_ipv4(host: str) -> None:
    with pytest.raises(ValueError, match="127.0.0.1"):
        FaultServer(responder, host=host)


@pytest.mark.parametrize("kwargs", [{"faults": ["nope"]}, {"faults": []}, {"fault_rate": 1.5}])
def test_refuses_bad_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FaultServer(responder, **kwargs)


def test_unknown_path_is_404_and_bad_json_is_400() -> None:
    with FaultServer(responder, fault_rate=1.0) as server:
        missing = raw_post(server, {"model": "m"}, path="/embeddings")
        invalid = raw_post(server, b"{not json")
        not_object = raw_post(server, [1, 2])
        with httpx2.Client(timeout=5.0) as http:
            get = http.get(server.base_url + "/chat/completions")
        stats = server.stats
    assert (missing.status_code, invalid.status_code, not_object.status_code, get.status_code) == (404, 400, 400, 404)
    assert missing.json()["error"]["type"] == "invalid_request_error"
    assert stats == FaultStats(requests=0, normal=0, faults_injected={}, rejected=4)


def test_request_budget_answers_503_then_stops_the_server() -> None:
    with FaultServer(responder, fault_rate=0.0, max_requests=2) as server:
        assert ask(server).choices[0].message.content == ANSWER
        assert ask(server).choices[0].message.content == ANSWER
        with pytest.raises(openai.InternalServerError, match="server budget exhausted") as caught:
            ask(server)
        assert caught.value.status_code == 503
        assert server.wait(timeout=5.0)
        with pytest.raises(openai.APIConnectionError):
            ask(server)
        assert server.stats.requests == 2 and server.stats.rejected == 1


def test_time_budget_stops_the_server() -> None:
    server = FaultServer(responder, max_seconds=0.05).start()
    try:
        assert server.wait(timeout=5.0)
    finally:
        server.close()


def test_all_faults_are_listed() -> None:
    assert set(ALL_FAULTS) == {
        "rate_limit",
        "server_error",
        "unavailable",
        "slow",
        "reset",
        "malformed_json",
        "schema_invalid",
        "truncated",
        "refusal",
        "stream_cut",
    }


@pytest.mark.subprocess
def test_standalone_module_prints_its_url_and_serves_the_echo_responder() -> None:
    command = [
        sys.executable,
        "-W",
        "error",
        "-m",
        "qa.testing.fault_server",
        "--port",
        "0",
        "--fault-rate",
        "0",
        "--max-requests",
        "1",
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        try:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            with openai.OpenAI(base_url=url, api_key="test", max_retries=0, timeout=5.0) as sdk:
                reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "echo me"}])
                assert reply.choices[0].message.content == "echo me"
                with pytest.raises(openai.InternalServerError, match="budget"):
                    sdk.chat.completions.create(model="m", messages=MESSAGES)
            out, err = process.communicate(timeout=10)
        finally:
            process.kill()
    assert (process.returncode, err) == (0, "")
    assert json.loads(out) == {"requests": 1, "normal": 1, "faults_injected": {}, "rejected": 1}


def test_package_exports_the_public_names() -> None:
    import qa.testing
    from qa.testing import batch_server, fault_server, synthetic

    modules = (fault_server, batch_server, synthetic)
    assert qa.testing.__all__ == sorted(qa.testing.__all__) == sorted(name for m in modules for name in m.__all__)
    for module in modules:
        assert all(getattr(qa.testing, name) is getattr(module, name) for name in module.__all__)
    with pytest.raises(AttributeError):
        qa.testing.nothing_here  # noqa: B018

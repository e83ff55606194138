"""Tests for qa.recording: record through the real openai SDK, replay with no network at all.

The "server" is an `httpx2.MockTransport`; replay runs use `inner=None`, so any attempt
to reach a server would fail the test.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from qa.errors import ConfigError, RecordingCorruptError, RecordingError, ReplayMissError, SecretLeakError
from qa.recording import (
    USAGE_LOG_NAME,
    AsyncRecordingTransport,
    RecordingStore,
    RecordingTransport,
    list_recordings,
    prune_unused,
    read_usage_log,
)
from qa.recording.diff import DEFAULT_RERECORD_HINT, body_diff
from qa.recording.entry import parse_body, recording_key

BASE_URL = "http://fake.local/v1"
API_KEY = "sk-test-0123456789abcdefXYZ"
LEAKED = "sk-abcdefghijklmnopqrstuvwxyz123456"
PROMPT_V1 = {"x-qa-prompt": "answer", "x-qa-prompt-version": "1+aaaa1111", "x-qa-backend": "openai"}
PROMPT_V2 = {"x-qa-prompt": "answer", "x-qa-prompt-version": "2+bbbb2222", "x-qa-backend": "openai"}


def completion(content: str) -> dict[str, Any]:
    """A chat.completion body as the server sends it."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    """One chat.completion.chunk."""
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


STREAM_CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Par"}),
    chunk({"content": "is."}),
    chunk({}, finish="stop"),
]


class ChunkStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A live SSE body that counts how many events it has produced so far."""

    def __init__(self, parts: Sequence[bytes]) -> None:
        self.parts = list(parts)
        self.produced = 0

    def __iter__(self) -> Iterator[bytes]:
        for part in self.parts:
            self.produced += 1
            yield part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            self.produced += 1
            yield part


class FakeServer:
    """The model server behind a MockTransport: answers every request, counts calls."""

    def __init__(self, content: str = "Paris.", *, status: int = 200, gzip_body: bool = False) -> None:
        self.content = content
        self.status = status
        self.gzip_body = gzip_body
        self.calls = 0
        self.streams: list[ChunkStream] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        if json.loads(request.content).get("stream"):
            parts = [f"data: {json.dumps(c)}\n\n".encode() for c in STREAM_CHUNKS] + [b"data: [DONE]\n\n"]
            stream = ChunkStream(parts)
            self.streams.append(stream)
            return httpx2.Response(self.status, headers={"content-type": "text/event-stream"}, stream=stream)
        body = json.dumps(completion(self.content)).encode()
        headers = {"content-type": "application/json", "x-request-id": "req_123", "set-cookie": "s=1"}
        if self.gzip_body:
            body = gzip.compress(body)
            headers["content-encoding"] = "gzip"
        return httpx2.Response(self.status, headers=headers, content=body)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)


def sdk(transport: httpx2.BaseTransport, *, base_url: str = BASE_URL, api_key: str = API_KEY) -> openai.OpenAI:
    """A real SDK client whose HTTP goes through `transport`."""
    return openai.OpenAI(
        base_url=base_url, api_key=api_key, http_client=httpx2.Client(transport=transport), max_retries=0
    )


def async_sdk(transport: httpx2.AsyncBaseTransport) -> openai.AsyncOpenAI:
    """A real async SDK client whose HTTP goes through `transport`."""
    return openai.AsyncOpenAI(
        base_url=BASE_URL, api_key=API_KEY, http_client=httpx2.AsyncClient(transport=transport), max_retries=0
    )


def messages(question: str = "What is the capital of France?", system: str = "Answer briefly.") -> list[Any]:
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def ask(client: openai.OpenAI, question: str = "What is the capital of France?", **kwargs: Any) -> Any:
    """One non-stream chat completion."""
    system = kwargs.pop("system", "Answer briefly.")
    return client.chat.completions.create(model="gpt-test", messages=messages(question, system), **kwargs)


def store(folder: Path) -> RecordingStore:
    """A store that leaves no usage log behind at exit (tests write it on demand)."""
    return RecordingStore(folder, usage_log_at_exit=False)


def recorder(folder: Path, server: FakeServer, mode: str = "record", **kwargs: Any) -> RecordingTransport:
    """A sync transport that records from `server`."""
    return RecordingTransport(server.transport(), store(folder), mode, **kwargs)


def replayer(folder: Path, **kwargs: Any) -> RecordingTransport:
    """A sync transport that can only replay: no server behind it at all."""
    return RecordingTransport(None, store(folder), "replay", **kwargs)


def files(folder: Path) -> list[Path]:
    """The recording files in `folder` (not the usage log)."""
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.exists() else []


def test_record_then_replay_without_network(tmp_path: Path) -> None:
    server = FakeServer()
    with sdk(recorder(tmp_path, server)) as client:
        recorded = ask(client, extra_headers=PROMPT_V1)
    with sdk(replayer(tmp_path)) as client:
        replayed = ask(client, extra_headers=PROMPT_V1)
    assert server.calls == 1
    assert replayed.model_dump() == recorded.model_dump()
    assert replayed.choices[0].message.content == "Paris."


def test_entry_file_format_and_meta(tmp_path: Path) -> None:
    transport = recorder(tmp_path, FakeServer())
    with sdk(transport) as client:
        ask(client, extra_headers=PROMPT_V1, user="alice")
    [path] = files(tmp_path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert path.name == data["key"][:16] + ".json"
    assert transport.last_keys == (data["key"],)
    assert data["request"]["method"] == "POST"
    assert data["request"]["path"] == "/v1/chat/completions"
    assert data["request"]["body"]["messages"][1]["content"] == "What is the capital of France?"
    assert data["response"]["headers"] == {"content-type": "application/json"}
    assert data["response"]["body"]["choices"][0]["message"]["content"] == "Paris."
    meta = data["meta"]
    assert (meta["prompt"], meta["prompt_version"], meta["backend"], meta["model"]) == (
        "answer",
        "1+aaaa1111",
        "openai",
        "gpt-test",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["recorded_at"])
    assert meta["qa_version"]


def sse_lines_of(path: Path) -> list[Any]:
    return json.loads(path.read_text(encoding="utf-8"))["response"]["chunks"]


def test_stream_round_trip_sync(tmp_path: Path) -> None:
    server = FakeServer()
    with sdk(recorder(tmp_path, server)) as client:
        live = [c.model_dump() for c in ask(client, stream=True)]
    with sdk(replayer(tmp_path)) as client:
        replayed = [c.model_dump() for c in ask(client, stream=True)]
    assert server.calls == 1
    assert len(live) == len(STREAM_CHUNKS)
    assert replayed == live
    assert "".join(c["choices"][0]["delta"]["content"] or "" for c in replayed) == "Paris."
    [path] = files(tmp_path)
    assert sse_lines_of(path) == [*STREAM_CHUNKS, "[DONE]"]


def test_stream_round_trip_async(tmp_path: Path) -> None:
    server = FakeServer()

    async def run(transport: httpx2.AsyncBaseTransport) -> list[Any]:
        async with async_sdk(transport) as client:
            stream = await client.chat.completions.create(model="gpt-test", messages=messages(), stream=True)
            return [c.model_dump() async for c in stream]

    live = asyncio.run(run(AsyncRecordingTransport(server.transport(), store(tmp_path), "record")))
    replayed = asyncio.run(run(AsyncRecordingTransport(None, store(tmp_path), "replay")))
    assert server.calls == 1
    assert len(live) == len(STREAM_CHUNKS)
    assert replayed == live
    assert sse_lines_of(files(tmp_path)[0]) == [*STREAM_CHUNKS, "[DONE]"]


def test_async_plain_round_trip(tmp_path: Path) -> None:
    server = FakeServer()

    async def run(transport: httpx2.AsyncBaseTransport) -> Any:
        async with async_sdk(transport) as client:
            return await client.chat.completions.create(model="gpt-test", messages=messages())

    live = asyncio.run(run(AsyncRecordingTransport(server.transport(), store(tmp_path), "record")))
    replayed = asyncio.run(run(AsyncRecordingTransport(None, store(tmp_path), "replay")))
    assert server.calls == 1
    assert replayed.model_dump() == live.model_dump()


def test_record_hands_chunks_on_before_the_stream_ends(tmp_path: Path) -> None:
    server = FakeServer()
    with sdk(recorder(tmp_path, server)) as client:
        stream = ask(client, stream=True)
        next(iter(stream))
        produced_at_first_chunk = server.streams[0].produced
        assert files(tmp_path) == []  # nothing is stored before the stream has ended
        list(stream)
    assert produced_at_first_chunk < len(server.streams[0].parts)
    assert len(files(tmp_path)) == 1


def test_stream_closed_early_is_not_stored(tmp_path: Path) -> None:
    server = FakeServer()
    body = {"model": "gpt-test", "messages": messages(), "stream": True}
    with (
        httpx2.Client(transport=recorder(tmp_path, server)) as http,
        http.stream("POST", BASE_URL + "/chat/completions", json=body) as response,
    ):
        next(response.iter_bytes())
    assert files(tmp_path) == []


def test_headers_never_change_the_key(tmp_path: Path) -> None:
    body = {"model": "gpt-test", "messages": messages()}
    first = {"x-stainless-os": "Linux", "x-stainless-arch": "x64", "authorization": "Bearer " + API_KEY}
    second = {"authorization": "Bearer other-key-0000000000", "x-stainless-arch": "arm64", "x-stainless-os": "MacOS"}
    with httpx2.Client(transport=recorder(tmp_path, FakeServer())) as http:
        http.post(BASE_URL + "/chat/completions", json=body, headers=first)
    replay = replayer(tmp_path)
    with httpx2.Client(transport=replay) as http:
        response = http.post("http://elsewhere:9/v1/chat/completions", json=body, headers={**second, **PROMPT_V2})
    assert response.json()["choices"][0]["message"]["content"] == "Paris."
    assert len(files(tmp_path)) == 1
    assert replay.last_keys[0] == json.loads(files(tmp_path)[0].read_text())["key"]


def test_volatile_fields_are_ignored_but_seed_counts(tmp_path: Path) -> None:
    server = FakeServer()
    with sdk(recorder(tmp_path, server)) as client:
        ask(client, user="alice", metadata={"run": "1"}, seed=1)
    with sdk(replayer(tmp_path)) as client:
        assert ask(client, user="bob", metadata={"run": "2"}, seed=1).choices[0].message.content == "Paris."
        with pytest.raises(ReplayMissError) as miss:
            ask(client, user="bob", seed=2)
    assert miss.value.diff == ["seed: 1 -> 2"]


def test_changed_prompt_misses_with_a_diff_naming_the_prompt(tmp_path: Path) -> None:
    with sdk(recorder(tmp_path, FakeServer())) as client:
        ask(client, system="You answer in one short sentence.", extra_headers=PROMPT_V1)
        ask(client, "Who wrote Hamlet?", extra_headers=PROMPT_V1)
    with sdk(replayer(tmp_path)) as client, pytest.raises(ReplayMissError) as miss:
        ask(client, system="You answer in one long sentence.", extra_headers=PROMPT_V2)
    message = str(miss.value)
    assert "prompt 'answer' version 2+bbbb2222" in message
    assert "prompt 'answer' changed from version 1+aaaa1111 to 2+bbbb2222" in message
    assert miss.value.diff == [
        'messages[0].content: "You answer in one short sentence." -> "You answer in one long sentence."'
    ]
    assert miss.value.diff[0] in message
    assert message.endswith(f"To re-record: {DEFAULT_RERECORD_HINT}")


def test_miss_without_prompt_headers_or_recordings(tmp_path: Path) -> None:
    hint = "QA_RECORD_MODE=auto pytest tests/recording/test_recording.py"
    (tmp_path / "empty").mkdir()
    with sdk(replayer(tmp_path / "empty", rerecord_hint=hint)) as client, pytest.raises(ReplayMissError) as miss:
        ask(client)
    assert "unknown prompt" in str(miss.value)
    assert "No recording in that folder has the same method and path (0 in all)" in str(miss.value)
    assert str(miss.value).endswith(f"To re-record: {hint}")
    assert miss.value.diff == []


def test_diff_truncates_long_strings_and_caps_lines() -> None:
    recorded = {"text": "a" * 200 + "OLD" + "z" * 200, "n": list(range(20))}
    current = {"text": "a" * 200 + "NEW" + "z" * 200, "n": list(range(100, 120))}
    lines = body_diff(recorded, current)
    assert lines[0] == f'text: "…{"a" * 20}OLD{"z" * 37}…" -> "…{"a" * 20}NEW{"z" * 37}…"'
    assert len(lines) == 21


def refused_writes() -> list[str]:
    """What the recorder noted as not written (it never raises into the call: the answer is kept)."""
    from qa.recording import take_unrecorded

    return take_unrecorded()


def test_secret_in_response_is_refused_and_nothing_written(tmp_path: Path) -> None:
    server = FakeServer(content=f"Your key is {LEAKED}.")
    with sdk(recorder(tmp_path, server)) as client:
        reply = ask(client)
    assert reply.choices[0].message.content == f"Your key is {LEAKED}."  # the caller still gets the answer
    (message,) = refused_writes()
    assert "response.body.choices[0].message.content" in message
    assert "sk-…3456" in message
    assert LEAKED not in message
    assert files(tmp_path) == []
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())


def test_key_sent_by_the_request_is_refused_even_if_not_configured(tmp_path: Path) -> None:
    own_key = "plainlocalkey-42-abcdef"  # matches no pattern; only its exact value gives it away
    server = FakeServer(content=f"echo {own_key}")
    with sdk(recorder(tmp_path, server), api_key=own_key) as client:
        ask(client)
    (message,) = refused_writes()
    assert "configured API key" in message
    assert own_key not in message
    assert files(tmp_path) == []


def test_configured_secret_is_refused(tmp_path: Path) -> None:
    secret = "tenant-token-7f3a9c"
    transport = recorder(tmp_path, FakeServer(), secrets=[secret])
    with sdk(transport) as client:
        ask(client, f"Is {secret} valid?")  # in the question, yet the configured value: never written
    (message,) = refused_writes()
    assert "request.body.messages[1].content" in message
    assert files(tmp_path) == []


def test_a_key_looking_string_the_request_itself_sent_is_not_a_leak(tmp_path: Path) -> None:
    server = FakeServer(content=f"The article quotes {LEAKED}.")
    with sdk(recorder(tmp_path, server)) as client:
        ask(client, f"An article says: someone posted {LEAKED} online. What did they post?")
    assert refused_writes() == []
    assert len(files(tmp_path)) == 1


def test_api_key_and_authorization_never_stored(tmp_path: Path) -> None:
    with sdk(recorder(tmp_path, FakeServer())) as client:
        ask(client, extra_headers=PROMPT_V1)
        list(ask(client, stream=True))
    written = [p.read_text(encoding="utf-8") for p in tmp_path.iterdir()]
    assert len(written) == 2
    for text in written:
        assert API_KEY not in text
        assert "authorization" not in text.lower()
        assert "bearer" not in text.lower()
        assert "x-stainless" not in text
        assert "x-request-id" not in text and "set-cookie" not in text


def test_gzip_response_is_stored_decoded(tmp_path: Path) -> None:
    server = FakeServer(gzip_body=True)
    with sdk(recorder(tmp_path, server)) as client:
        live = ask(client)
    data = json.loads(files(tmp_path)[0].read_text(encoding="utf-8"))
    assert data["response"]["body"]["choices"][0]["message"]["content"] == "Paris."
    assert data["response"]["headers"] == {"content-type": "application/json"}
    with sdk(replayer(tmp_path)) as client:
        assert ask(client).model_dump() == live.model_dump()


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{not json", "Invalid JSON"), ('{"key": "0123456789abcdef", "meta": {}}', "request")],
)
def test_corrupt_file_names_the_file(tmp_path: Path, content: str, problem: str) -> None:
    with sdk(recorder(tmp_path, FakeServer())) as client:
        ask(client)
    [path] = files(tmp_path)
    path.write_text(content, encoding="utf-8")
    with sdk(replayer(tmp_path)) as client, pytest.raises(RecordingCorruptError) as corrupt:
        ask(client)
    assert str(path) in str(corrupt.value)
    assert problem in str(corrupt.value)


def test_auto_mode_records_a_miss_then_replays_it(tmp_path: Path) -> None:
    server = FakeServer()
    with sdk(recorder(tmp_path, server, "auto")) as client:
        first = ask(client)
        second = ask(client)
    with sdk(recorder(tmp_path, server, "auto")) as client:
        third = ask(client)
    assert server.calls == 1
    assert first.model_dump() == second.model_dump() == third.model_dump()


def test_error_responses_are_not_stored(tmp_path: Path) -> None:
    with sdk(recorder(tmp_path, FakeServer(status=500))) as client, pytest.raises(openai.InternalServerError):
        ask(client)
    assert files(tmp_path) == []


def test_off_mode_delegates_and_writes_nothing(tmp_path: Path) -> None:
    server = FakeServer()
    transport = recorder(tmp_path, server, "off")
    with sdk(transport) as client:
        ask(client)
    assert server.calls == 1
    assert files(tmp_path) == []
    assert transport.last_keys == ()


@pytest.mark.parametrize("mode", ["record", "auto", "off", "sideways"])
def test_modes_that_need_a_server_refuse_no_inner(tmp_path: Path, mode: str) -> None:
    with pytest.raises(ConfigError):
        RecordingTransport(None, store(tmp_path), mode)


def record_three(folder: Path) -> list[str]:
    """Record two 'answer' requests and one 'summary' request; return their keys in order."""
    transport = recorder(folder, FakeServer())
    with sdk(transport) as client:
        ask(client, "Q1", extra_headers=PROMPT_V1)
        ask(client, "Q2", extra_headers=PROMPT_V1)
        ask(client, "Q3", extra_headers={"x-qa-prompt": "summary", "x-qa-prompt-version": "1+cccc"})
    return list(transport.last_keys)


def replay_only(folder: Path, questions: Sequence[str]) -> None:
    """Replay some questions as a new run, and write its usage log as a run does at exit."""
    transport = replayer(folder)
    transport.store.start_new_run()
    with sdk(transport) as client:
        for question in questions:
            ask(client, question)
    transport.store.write_usage_log()


def test_list_recordings_marks_used_and_stale(tmp_path: Path) -> None:
    keys = record_three(tmp_path)
    replay_only(tmp_path, ["Q1", "Q3"])
    infos = {info.key: info for info in list_recordings(tmp_path, {"answer": "2+bbbb2222", "summary": "1+cccc"})}
    assert set(infos) == set(keys)
    assert [infos[k].used for k in keys] == [True, False, True]
    assert [infos[k].stale for k in keys] == [True, True, False]
    assert [infos[k].prompt for k in keys] == ["answer", "answer", "summary"]
    assert infos[keys[0]].file.name == keys[0][:16] + ".json"
    assert [i.stale for i in list_recordings(tmp_path)] == [False, False, False]


def test_prune_unused_deletes_only_unused(tmp_path: Path) -> None:
    keys = record_three(tmp_path)
    with pytest.raises(RecordingError, match="no .last-run-used.json"):
        prune_unused(tmp_path, dry_run=True)
    replay_only(tmp_path, ["Q1", "Q3"])
    unused = tmp_path / f"{keys[1][:16]}.json"
    assert prune_unused(tmp_path, dry_run=True) == [unused]
    assert unused.exists()
    assert prune_unused(tmp_path, dry_run=False) == [unused]
    assert [p.stem for p in files(tmp_path)] == sorted([keys[0][:16], keys[2][:16]])
    assert read_usage_log(tmp_path) == {keys[0], keys[2]}


def test_usage_log_lists_used_keys(tmp_path: Path) -> None:
    keys = record_three(tmp_path)
    replay_only(tmp_path, ["Q2"])
    assert json.loads((tmp_path / USAGE_LOG_NAME).read_text(encoding="utf-8")) == [keys[1]]


def test_discard_superseded_attempts_keeps_the_last(tmp_path: Path) -> None:
    transport = recorder(tmp_path, FakeServer(), "auto")
    with sdk(transport) as client:
        ask(client, "warm-up")
        transport.clear_last_keys()
        ask(client, "attempt 1")
        ask(client, "attempt 1 + validation error text")
        attempts = transport.last_keys
        deleted = transport.discard_superseded(attempts[:-1])
    assert len(attempts) == 2
    assert deleted == [tmp_path / f"{attempts[0][:16]}.json"]
    assert len(files(tmp_path)) == 2
    assert (tmp_path / f"{attempts[1][:16]}.json").exists()
    assert attempts[0] not in transport.store.used_keys()


def test_discard_never_deletes_replayed_recordings(tmp_path: Path) -> None:
    record_three(tmp_path)
    transport = replayer(tmp_path)
    with sdk(transport) as client:
        ask(client, "Q1")
    assert transport.discard_superseded(transport.last_keys) == []  # replay mode is read-only
    auto = recorder(tmp_path, FakeServer(), "auto")
    auto.store.start_new_run()  # the recordings now come from an earlier run
    with sdk(auto) as client:
        ask(client, "Q2")
        ask(client, "Q4")
    assert auto.discard_superseded(auto.last_keys) == [tmp_path / f"{auto.last_keys[1][:16]}.json"]
    assert len(files(tmp_path)) == 3


def test_last_keys_are_per_task(tmp_path: Path) -> None:
    transport = AsyncRecordingTransport(FakeServer().transport(), store(tmp_path), "record")

    async def one(question: str, client: openai.AsyncOpenAI) -> tuple[str, ...]:
        transport.clear_last_keys()
        await client.chat.completions.create(model="gpt-test", messages=messages(question))
        await asyncio.sleep(0)
        await client.chat.completions.create(model="gpt-test", messages=messages(question + "?"))
        return transport.last_keys

    async def main() -> list[tuple[str, ...]]:
        async with async_sdk(transport) as client:
            return list(await asyncio.gather(one("A", client), one("B", client)))

    first, second = asyncio.run(main())
    assert len(first) == len(second) == 2
    assert not set(first) & set(second)


@pytest.mark.subprocess
def test_usage_log_is_written_at_process_exit(tmp_path: Path) -> None:
    keys = record_three(tmp_path)
    script = f"""
import httpx2
from qa.recording import RecordingStore, RecordingTransport
transport = RecordingTransport(None, RecordingStore({str(tmp_path)!r}), "replay")
with httpx2.Client(transport=transport) as http:
    http.post("http://x/v1/chat/completions", json={{"model": "gpt-test", "messages": {messages("Q2")!r}}})
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert read_usage_log(tmp_path) == {keys[1]}


def test_binary_bodies_with_different_bytes_get_different_keys() -> None:
    first, second = parse_body(b"\xff\xfe\x00"), parse_body(b"\xff\xfe\x01")
    assert first != second
    assert recording_key("POST", "/v1/files", first) != recording_key("POST", "/v1/files", second)
    assert parse_body(b"") is None
    assert parse_body(b'{"a": 1}') == {"a": 1}


def test_usage_is_shared_by_every_store_on_a_folder(tmp_path: Path) -> None:
    keys = record_three(tmp_path)
    store(tmp_path).start_new_run()
    for question in ["Q1", "Q3"]:  # each call through its own store, as separate backends would
        with sdk(replayer(tmp_path)) as client:
            ask(client, question)
    assert store(tmp_path).used_keys() == {keys[0], keys[2]}


def test_article_prose_that_mentions_bearer_is_not_taken_for_a_token() -> None:
    from qa.recording.leaks import check_for_secrets

    prose = {"messages": [{"content": "Bearer certificates and bearer bonds were discussed."}]}
    check_for_secrets(prose, json.dumps(prose), [], where="x.json")
    token = {"messages": [{"content": "Authorization: Bearer abcDEF0123456789ghijKLMN"}]}
    with pytest.raises(SecretLeakError):
        check_for_secrets(token, json.dumps(token), [], where="x.json")

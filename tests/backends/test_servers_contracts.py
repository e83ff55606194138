"""Contract tests: the requests qa sends fit what each server documents, and its replies fit qa.

vLLM and Ollama cannot run here, so their request handling is restated from their source
as small models (vLLM's `ResponseFormat` / `JsonSchemaResponseFormat` and the way it turns
`response_format` into structured-output params; Ollama's `ChatCompletionRequest` and the
`response_format` -> `format` switch in its `FromChatRequest`), and qa's real request
bodies are put through them. llama-cpp-python's server is installed, so its own request
model (`llama_cpp.server.types.CreateChatCompletionRequest`) is used as is. A change that
would make qa send something these servers reject or silently drop fails here.

Sources: vllm-project/vllm `vllm/entrypoints/openai/protocol.py` and
`vllm/entrypoints/generate/base/protocol.py`; ollama/ollama `openai/openai.go`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
from pydantic import BaseModel, ConfigDict, Field

import qa
from qa.backends.backend import PROFILES, Backend
from qa.backends.driver import run
from qa.backends.negotiate import FAMILIES
from qa.settings import Settings
from qa.tasks.answer import answer_steps
from qa.tasks.answer_many import batch_steps
from qa.tasks.summarize import summary_steps

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_db386d23d8a38732.txt"


@pytest.fixture(scope="module")
def seed() -> qa.Article:
    return qa.load_article(SEED)


def backend(kind: str, mode: str, transport: Any = None) -> Backend:
    """A backend in the mode negotiation would settle on (forced here: no server to ask)."""
    settings = Settings.load(env={}, backend=kind, base_url="http://contract.invalid/v1", structured_mode=mode, max_retries=0,
                             abstain_threshold=0.0)  # fmt: skip
    return Backend(settings=settings, profile=PROFILES[kind], transport=transport, async_transport=transport)


def first_body(steps: Any) -> dict[str, Any]:
    request = next(steps)
    steps.close()
    return json.loads(json.dumps(request.body))  # exactly what goes over the wire


def bodies(kind: str, mode: str, seed: qa.Article) -> dict[str, dict[str, Any]]:
    """The first request of each task: an answer, a batch of answers, a summary."""
    b = backend(kind, mode)
    return {
        "answer": first_body(answer_steps(seed, "Who is Colombia's largest trading partner?", b)),
        "batch": first_body(batch_steps(seed, ["Who signed?", "When?"], b)),
        "summary": first_body(summary_steps(seed, b)),
    }


def chat_reply(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **extra.pop("message", {})},
                     "finish_reason": "stop", **extra.pop("choice", {})}],
        "usage": {"prompt_tokens": 700, "completion_tokens": 40, "total_tokens": 740}, **extra,
    }  # fmt: skip


def answer_content(seed: qa.Article) -> str:
    """A reply in the answer prompt's format: the number of the evidence sentence, then the answer."""
    return json.dumps({"sentence": 5, "answer": "The United States."})


# -- vLLM ---------------------------------------------------------------------------------


class _VllmBase(BaseModel):
    model_config = ConfigDict(extra="allow")  # vLLM's OpenAIBaseModel: unknown fields are ignored (with a log line)


class VllmJsonSchemaResponseFormat(_VllmBase):
    name: str
    description: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class VllmResponseFormat(_VllmBase):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: VllmJsonSchemaResponseFormat | None = None


# ChatCompletionRequest fields qa may use; any other field is ignored by vLLM without an error.
VLLM_KNOWN_FIELDS = {
    "messages", "model", "max_tokens", "max_completion_tokens", "response_format", "seed", "stream", "stream_options",
    "temperature", "top_p", "stop", "structured_outputs",
}  # fmt: skip


def vllm_structured_outputs(response_format: VllmResponseFormat | None) -> dict[str, Any] | None:
    """vLLM's `structured_outputs_from_response_format`: what the engine is asked to enforce."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return {"json_object": True}
    assert response_format.json_schema is not None
    return {"json": response_format.json_schema.json_schema}


@pytest.mark.parametrize("task", ["answer", "batch", "summary"])
def test_vllm_enforces_exactly_the_schema_qa_validates_against(seed: qa.Article, task: str) -> None:
    assert FAMILIES["vllm"].modes[0] == "json_schema"
    body = bodies("vllm", "json_schema", seed)[task]
    assert set(body) <= VLLM_KNOWN_FIELDS, set(body) - VLLM_KNOWN_FIELDS  # nothing vLLM would drop silently
    assert not any(key.startswith("guided_") for key in body)  # older vLLM: one kind of guided decoding only
    response_format = VllmResponseFormat.model_validate(body["response_format"])
    guide = vllm_structured_outputs(response_format)
    assert guide == {"json": body["response_format"]["json_schema"]["schema"]}
    assert guide["json"]["additionalProperties"] is False  # strict: what qa validates is what is enforced


def test_vllm_plain_json_mode_is_its_json_object_guide(seed: qa.Article) -> None:
    body = bodies("vllm", "json_object", seed)["answer"]
    assert vllm_structured_outputs(VllmResponseFormat.model_validate(body["response_format"])) == {"json_object": True}
    assert '"sentence"' in body["messages"][0]["content"]  # the schema, in the prompt


def test_vllm_replies_and_streams_are_read(seed: qa.Article) -> None:
    """vLLM adds fields of its own (stop_reason, reasoning, token_ids...); a stream's usage comes last."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        if not body.get("stream"):
            extra = {"message": {"reasoning": None, "tool_calls": []}, "choice": {"stop_reason": None, "logprobs": None},
                     "prompt_logprobs": None, "kv_transfer_params": None, "system_fingerprint": None}  # fmt: skip
            return httpx2.Response(200, json=chat_reply(answer_content(seed), **extra))
        content = answer_content(seed)
        head = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        chunks = [
            {
                **head,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
                ],
            }
        ]
        chunks += [{**head, "choices": [{"index": 0, "delta": {"content": content[i : i + 9]}, "logprobs": None, "finish_reason": None}]}
                   for i in range(0, len(content), 9)]  # fmt: skip
        chunks.append(
            {
                **head,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": ""},
                        "logprobs": None,
                        "finish_reason": "stop",
                        "stop_reason": None,
                    }
                ],
            }
        )
        chunks.append(
            {**head, "choices": [], "usage": {"prompt_tokens": 700, "total_tokens": 740, "completion_tokens": 40}}
        )
        sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx2.Response(200, content=sse.encode(), headers={"content-type": "text/event-stream"})

    b = backend("vllm", "json_schema", httpx2.MockTransport(handle))
    for stream in (False, True):
        result = run(answer_steps(seed, "Who?", b, stream=stream), b, (lambda _: None) if stream else None)
        assert result.answer.status == "answered" and result.usage.prompt_tokens == 700
        citation = result.answer.citations[0]  # derived from the sentence number the reply gave
        assert citation.start is not None and seed.text[citation.start : citation.end] == citation.quote


# -- Ollama -------------------------------------------------------------------------------


# The JSON names of Ollama's `openai.ChatCompletionRequest`: Go's decoder drops any other field silently.
OLLAMA_KNOWN_FIELDS = {
    "model", "messages", "stream", "stream_options", "max_tokens", "seed", "stop", "temperature", "frequency_penalty",
    "presence_penalty", "top_p", "response_format", "tools", "reasoning", "reasoning_effort", "_debug_render_only",
}  # fmt: skip


def ollama_format(body: dict[str, Any]) -> Any:
    """Ollama's `FromChatRequest`: the native `format` a chat request ends up with (None: free text)."""
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = str(response_format.get("type", "")).strip().lower()
    if kind == "json_object":
        return "json"  # a "schema" next to it is not read
    if kind == "json_schema" and response_format.get("json_schema") is not None:
        return response_format["json_schema"].get("schema")
    return None  # any other type: ignored without an error


@pytest.mark.parametrize("task", ["answer", "batch", "summary"])
def test_ollama_gets_the_schema_as_its_native_format(seed: qa.Article, task: str) -> None:
    body = bodies("ollama", FAMILIES["ollama"].modes[0], seed)[task]
    assert set(body) <= OLLAMA_KNOWN_FIELDS, set(body) - OLLAMA_KNOWN_FIELDS
    assert ollama_format(body) == body["response_format"]["json_schema"]["schema"]


def test_ollama_is_never_offered_a_mode_it_would_drop_without_a_word(seed: qa.Article) -> None:
    assert FAMILIES["ollama"].modes == ("json_schema", "json_object")
    dropped = bodies("ollama", "json_object_schema", seed)["answer"]  # what qa would send in that mode
    assert ollama_format(dropped) == "json"  # the schema would be lost: hence not in Ollama's list
    plain = bodies("ollama", "json_object", seed)["answer"]
    assert ollama_format(plain) == "json" and '"sentence"' in plain["messages"][0]["content"]


def test_ollama_replies_are_read(seed: qa.Article) -> None:
    """Ollama's reply has no `refusal`, a `fp_ollama` fingerprint and may carry `reasoning`."""
    reply = chat_reply(answer_content(seed), system_fingerprint="fp_ollama", message={"reasoning": ""})
    b = backend("ollama", "json_schema", httpx2.MockTransport(lambda request: httpx2.Response(200, json=reply)))
    result = run(answer_steps(seed, "Who?", b), b)
    assert result.answer.status == "answered"


# -- llama-cpp-python (its own request model) ------------------------------------------------


def test_llama_cpp_python_takes_the_grammar_request_as_is(seed: qa.Article) -> None:
    types = pytest.importorskip("llama_cpp.server.types", reason="llama-cpp-python[server] is not installed")
    for task, body in bodies("llamacpp", "grammar", seed).items():
        request = types.CreateChatCompletionRequest(**body)
        assert request.response_format is None, task  # it would replace the grammar with its own converter's
        assert request.grammar == body["grammar"], task
        assert set(body) <= set(types.CreateChatCompletionRequest.model_fields), task  # nothing ignored


def test_llama_cpp_python_refuses_json_schema_with_the_message_negotiation_reads(seed: qa.Article) -> None:
    types = pytest.importorskip("llama_cpp.server.types", reason="llama-cpp-python[server] is not installed")
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"Input should be 'text' or 'json_object'"):
        types.CreateChatCompletionRequest(**bodies("server", "json_schema", seed)["answer"])
    assert "json_object_schema" not in FAMILIES["llama.cpp"].modes  # json_object + schema: its converter breaks


def test_a_grammar_llama_cpp_cannot_parse_is_never_sent(seed: qa.Article, monkeypatch: pytest.MonkeyPatch) -> None:
    """llama-cpp-python's server dies on an unparsable grammar: qa parses each one first and stops there."""
    pytest.importorskip("llama_cpp")
    from qa.backends.backend import _grammar_text

    for body in bodies("llamacpp", "grammar", seed).values():
        assert "root ::= " in body["grammar"]
    _grammar_text.cache_clear()
    monkeypatch.setattr("qa.backends.embedded.grammar._schema_to_gbnf", lambda schema, **_: 'root ::= "unclosed')
    with pytest.raises(qa.StructuredOutputUnsupportedError, match="cannot parse the grammar.*QA_STRUCTURED_MODE"):
        bodies("llamacpp", "grammar", seed)
    _grammar_text.cache_clear()


def test_server_grammars_take_any_strict_schema_the_tasks_may_send() -> None:
    """Literals with quotes and backslashes, long length bounds: what llama-cpp-python's own converter broke on."""
    pytest.importorskip("llama_cpp")
    from qa.backends.embedded.grammar import server_grammar

    sentence = 'Colombia\'s foreign ministry hailed a "historic" deal (C:\\path).'
    schema = {
        "type": "object", "additionalProperties": False, "required": ["quote", "answer", "items"],
        "properties": {
            "quote": {"type": "string", "enum": [sentence, "Plain."]},
            "answer": {"type": "string", "maxLength": 600},
            "items": {"type": "array", "minItems": 1, "maxItems": 3, "prefixItems": [{"type": "integer", "const": 1}]},
        },
    }  # fmt: skip
    grammar = server_grammar(schema)  # parsed by llama.cpp here, or it raises
    assert "char{0,600}" in grammar and "(char (char" not in grammar
    assert (
        json.dumps(sentence).replace("\\", "\\\\").replace('"', '\\"') in grammar
    )  # the JSON string, as a GBNF literal


def test_the_embedded_grammar_is_unchanged(seed: qa.Article) -> None:
    """Only servers get bounded repetition; the embedded model keeps the grammar it was measured with."""
    pytest.importorskip("llama_cpp")
    from qa.backends.embedded.grammar import grammar_for

    body = bodies("vllm", "json_schema", seed)["answer"]  # the embedded model gets this very response_format
    grammar, _ = grammar_for(body["response_format"])
    assert "char{0," not in grammar._grammar and "(char (char" in grammar._grammar

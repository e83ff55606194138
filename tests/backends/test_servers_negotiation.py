"""Capability negotiation (`qa.backends.negotiate`) against fake servers that behave like real ones.

Each fake answers at the HTTP layer (httpx2.MockTransport) the way a kind of server does:
a mode it enforces answers the probe with the one reply the probe's schema allows, a mode
it ignores answers with whatever the model likes, a mode it rejects is an error naming
the field. The fake for llama-cpp-python's server fails the test outright if it is ever
sent `json_object` + schema, the request that used to crash it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

import qa
from qa.backends.backend import PROFILES, Backend, open_backend
from qa.backends.driver import run
from qa.backends.negotiate import PROBE_VALUE, forget, mode_of, negotiate
from qa.cli.app import cli
from qa.errors import StructuredOutputUnsupportedError
from qa.settings import Settings
from qa.tasks.answer import answer_steps

LLAMA_CPP_PYTHON_REJECTION = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}"
)


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    forget()
    yield
    forget()


@pytest.fixture
def seed() -> qa.Article:
    return qa.load_article(Path(__file__).resolve().parents[2] / "seeds" / "000_db386d23d8a38732.txt")


TRADE_N = 5  # the seed's sentence "China is Colombia's second-largest trading partner ..." (headline 1, standfirst 2, body from 3)


def answer_json(seed: qa.Article) -> str:
    """A reply in the answer prompt's format: the evidence sentence's number, then the answer."""
    return json.dumps({"sentence": TRADE_N, "answer": "The United States."})


@dataclass
class FakeServer:
    """An OpenAI-compatible server with a chosen behaviour per structured-output mode."""

    modes: dict[str, str]  # mode -> "enforce" | "ignore" | "reject" | "crash"
    owned_by: str | None = None  # GET /models; None: 404
    reply: str = "{}"  # the content real (non-probe) requests get
    rejection: str = "response_format is not supported"
    rejection_status: int = 400
    reject_real: set[str] = field(default_factory=set)  # modes rejected for real requests only
    requests: list[dict[str, Any]] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    model_lists: int = 0

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            self.model_lists += 1
            if self.owned_by is None:
                return httpx2.Response(404, json={"error": {"message": "Not Found"}})
            return httpx2.Response(
                200, json={"object": "list", "data": [{"id": "m", "object": "model", "owned_by": self.owned_by}]}
            )
        body = json.loads(request.content)
        mode = mode_of(body)
        probe = "x-qa-probe" in request.headers
        (self.probes if probe else self.requests).append(mode if probe else body)
        behaviour = self.modes.get(mode, "reject")
        if behaviour == "crash":
            pytest.fail(f"sent {mode} to a server that dies of it")
        if behaviour == "reject" or (not probe and mode in self.reject_real):
            return httpx2.Response(
                self.rejection_status, json={"error": {"message": self.rejection, "type": "invalid_request_error"}}
            )
        if probe:
            content = (
                json.dumps({"probe": PROBE_VALUE}) if behaviour == "enforce" else 'Sure! Here you go: {"name": "Mara"}'
            )
        else:
            content = self.reply
        message = {"role": "assistant", "content": content}
        return httpx2.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })  # fmt: skip

    def backend(self, kind: str, **settings: Any) -> Backend:
        transport = httpx2.MockTransport(self.handle)
        values: dict[str, Any] = {
            "backend": kind,
            "base_url": "http://fake.invalid/v1",
            "max_retries": 0,
            "abstain_threshold": 0.0,
        }
        values.update(settings)
        return Backend(
            settings=Settings.load(env={}, **values), profile=PROFILES[kind], transport=transport,
            async_transport=transport, negotiate=True,
        )  # fmt: skip


def llama_cpp_python(reply: str, owned_by: str | None = "me") -> FakeServer:
    return FakeServer(
        modes={"grammar": "enforce", "json_object": "enforce", "json_object_schema": "crash", "json_schema": "reject"},
        owned_by=owned_by, reply=reply, rejection=LLAMA_CPP_PYTHON_REJECTION, rejection_status=500,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["server", "llamacpp", "vllm"])
def test_llama_cpp_python_gets_qa_s_own_grammar_never_a_schema(seed: qa.Article, kind: str) -> None:
    server = llama_cpp_python(answer_json(seed))
    backend = server.backend(kind)
    result = run(answer_steps(seed, "Who is the largest partner?", backend), backend)
    assert result.answer.status == "answered" and result.provenance.structured_mode == "grammar"
    assert server.probes == ["grammar"]  # the models list said llama.cpp: no json_schema attempt
    sent = server.requests[0]
    assert "response_format" not in sent  # it would override the grammar on llama-cpp-python
    grammar = sent["grammar"]
    assert "char{0,200}" in grammar and "(char (char" not in grammar  # bounded repetition, not 200 nested groups


def test_the_json_schema_rejection_names_the_family_when_the_models_list_does_not(seed: qa.Article) -> None:
    server = llama_cpp_python(answer_json(seed), owned_by=None)
    backend = server.backend("server")
    assert negotiate(backend).mode == backend.structured_mode == "grammar"
    assert server.probes == ["json_schema", "grammar"]  # json_object_schema skipped: it crashes this family
    assert negotiate(backend).passed == (
        ("json_schema", "rejected (HTTP 500: Input should be 'text' or 'json_object')"),
    )


@pytest.mark.parametrize(("kind", "owner"), [("vllm", "vllm"), ("ollama", "library"), ("server", "vllm")])
def test_vllm_and_ollama_keep_strict_json_schema(seed: qa.Article, kind: str, owner: str) -> None:
    server = FakeServer(modes={"json_schema": "enforce"}, owned_by=owner, reply=answer_json(seed))
    backend = server.backend(kind)
    result = run(answer_steps(seed, "Who?", backend), backend)
    assert result.provenance.structured_mode == "json_schema"
    assert server.probes == ["json_schema"]
    response_format = server.requests[0]["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["strict"] is True
    assert "grammar" not in server.requests[0]


def test_a_server_that_ignores_the_schema_gets_it_in_the_prompt_and_says_so(
    seed: qa.Article, caplog: pytest.LogCaptureFixture
) -> None:
    server = FakeServer(
        modes={"json_schema": "ignore", "json_object_schema": "ignore", "grammar": "ignore", "json_object": "enforce"},
        reply=answer_json(seed),
    )
    backend = server.backend("server")
    with caplog.at_level(logging.INFO, logger="qa.backends.negotiate"):
        result = run(answer_steps(seed, "Who?", backend), backend)
    assert result.provenance.structured_mode == "json_object" and backend.schema_in_prompt
    assert server.probes == ["json_schema", "json_object_schema", "grammar", "json_object"]
    assert '"sentence"' in server.requests[0]["messages"][0]["content"]  # the schema, shown in the prompt
    assert not backend.constrain_quotes  # an unenforced enum of every sentence would only lengthen the prompt
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("ignores it" in w for w in warnings)
    assert "structured output as json_object" in caplog.text


def test_a_server_that_takes_no_mode_fails_with_one_line_that_says_what_to_do(seed: qa.Article) -> None:
    server = FakeServer(modes={}, rejection="Unknown field: response_format")
    backend = server.backend("server")
    with pytest.raises(StructuredOutputUnsupportedError) as failure:
        run(answer_steps(seed, "Who?", backend), backend)
    message = str(failure.value)
    assert "\n" not in message
    assert "OpenAI-compatible server at http://fake.invalid/v1 (model default)" in message
    for mode in ("json_schema", "json_object_schema", "grammar", "json_object"):
        assert f"{mode} rejected (HTTP 400: Unknown field: response_format)" in message
    assert "QA_STRUCTURED_MODE=" in message
    assert server.requests == [] and [m for m, _ in failure.value.tried] == server.probes


def test_the_cli_reports_it_on_one_line_with_exit_4(
    seed: qa.Article, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = FakeServer(modes={}, rejection="Unknown field: response_format")
    for name in ("QA_BACKEND", "QA_MODEL", "QA_STRUCTURED_MODE", "OPENAI_API_KEY", "QA_RECORD_MODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://cli-fake.invalid/v1")
    backend = open_backend(Settings.load())
    transport = httpx2.MockTransport(server.handle)
    backend.transport, backend.async_transport, backend.negotiate = transport, transport, True
    code = cli.main(["ask", str(seed.source), "Who?"], prog_name="qa", standalone_mode=False)
    err = capsys.readouterr().err
    assert code == 4
    assert err.count("\n") == 1 and err.startswith(
        "qa: error: the OpenAI-compatible server at http://cli-fake.invalid/v1"
    )
    assert "QA_STRUCTURED_MODE" in err and "Traceback" not in err


def test_the_answer_is_remembered_per_server_and_model(seed: qa.Article) -> None:
    server = llama_cpp_python(answer_json(seed))
    first = server.backend("server", seed=1)
    second = server.backend("vllm", seed=2)  # another backend, same server and model
    assert negotiate(first) is negotiate(second)
    assert first.structured_mode == second.structured_mode == "grammar"
    assert server.probes == ["grammar"] and server.model_lists == 1
    other_model = server.backend("server", model="another")
    assert negotiate(other_model).mode == "grammar" and server.probes == ["grammar", "grammar"]


def test_a_forced_mode_asks_the_server_nothing(seed: qa.Article) -> None:
    server = FakeServer(modes={"json_object_schema": "enforce"}, reply=answer_json(seed))
    backend = server.backend("server", structured_mode="json_object_schema")
    result = run(answer_steps(seed, "Who?", backend), backend)
    assert result.provenance.structured_mode == "json_object_schema"
    assert server.probes == [] and server.model_lists == 0


def test_a_forced_mode_the_server_rejects_is_one_line_saying_so(seed: qa.Article) -> None:
    server = llama_cpp_python(answer_json(seed))
    backend = server.backend("server", structured_mode="json_schema")
    with pytest.raises(StructuredOutputUnsupportedError) as failure:
        run(answer_steps(seed, "Who?", backend), backend)
    message = str(failure.value)
    assert "\n" not in message and "rejected (HTTP 500: Input should be 'text' or 'json_object')" in message
    assert "QA_STRUCTURED_MODE=json_schema" in message and server.probes == [] and len(server.requests) == 1


def test_a_real_request_rejected_after_the_probe_moves_on_to_the_next_mode(seed: qa.Article) -> None:
    server = FakeServer(
        modes={"json_schema": "enforce", "json_object_schema": "enforce"}, reply=answer_json(seed),
        reject_real={"json_schema"}, rejection="response_format: schema uses unsupported features",
    )  # fmt: skip
    backend = server.backend("server")
    result = run(answer_steps(seed, "Who?", backend), backend)
    assert [mode_of(body) for body in server.requests] == ["json_schema", "json_object_schema"]
    assert server.requests[0]["messages"] == server.requests[1]["messages"]
    assert result.provenance.structured_mode == "json_object_schema"
    assert result.usage.attempts == 1  # a rejection is not an answer: only one model call counted
    assert backend.structured_mode == "json_object_schema"  # remembered for later calls


def test_moving_on_to_plain_json_mid_call_shows_the_schema_in_the_prompt(seed: qa.Article) -> None:
    server = FakeServer(modes={"json_schema": "enforce", "json_object": "enforce"}, reply=answer_json(seed),
                        reject_real={"json_schema"}, owned_by="vllm")  # fmt: skip
    backend = server.backend("vllm")
    result = run(answer_steps(seed, "Who?", backend), backend)
    assert result.provenance.structured_mode == "json_object"
    assert server.requests[1]["response_format"] == {"type": "json_object"}
    assert '"sentence"' in server.requests[1]["messages"][0]["content"]


def test_rejecting_the_last_mode_for_a_real_request_is_the_one_line_error(seed: qa.Article) -> None:
    server = FakeServer(modes={"json_schema": "enforce", "json_object": "enforce"}, owned_by="vllm",
                        reject_real={"json_schema", "json_object"})  # fmt: skip
    backend = server.backend("vllm")
    with pytest.raises(
        StructuredOutputUnsupportedError, match="vLLM server .* json_object rejected .* QA_STRUCTURED_MODE"
    ):
        run(answer_steps(seed, "Who?", backend), backend)


def test_replay_takes_the_mode_from_the_recordings_and_probes_are_never_recorded(
    seed: qa.Article, tmp_path: Path
) -> None:
    server = llama_cpp_python(answer_json(seed))
    recorded = server.backend("server", record_mode="record", recordings=tmp_path)
    first = run(answer_steps(seed, "Who?", recorded), recorded)
    assert first.provenance.structured_mode == "grammar" and server.probes == ["grammar"]
    assert [mode_of(json.loads(p.read_text())["request"]["body"]) for p in tmp_path.glob("*.json")] == ["grammar"]
    forget()
    replayed = Backend(
        settings=Settings.load(
            env={},
            backend="server",
            base_url="http://fake.invalid/v1",
            record_mode="replay",
            recordings=tmp_path,
            abstain_threshold=0.0,
        ),
        profile=PROFILES["server"],
    )  # fmt: skip  (no transport at all: nothing but the recordings)
    again = run(answer_steps(seed, "Who?", replayed), replayed)
    assert again.provenance.structured_mode == "grammar" and again.answer == first.answer
    assert negotiate(replayed).passed == (("recordings", "were made in grammar"),)


def test_replaying_without_recordings_is_the_usual_replay_miss(seed: qa.Article, tmp_path: Path) -> None:
    replayed = Backend(
        settings=Settings.load(
            env={}, backend="server", base_url="http://fake.invalid/v1", record_mode="replay", recordings=tmp_path
        ),
        profile=PROFILES["server"],
    )
    with pytest.raises(qa.ReplayMissError):
        run(answer_steps(seed, "Who?", replayed), replayed)


def test_without_llama_cpp_here_a_llama_cpp_server_gets_plain_json(
    seed: qa.Article, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("qa.backends.negotiate._grammars_available", lambda: False)
    server = llama_cpp_python(answer_json(seed))
    backend = server.backend("llamacpp")
    assert negotiate(backend).mode == "json_object"
    assert server.probes == [
        "json_schema",
        "json_object",
    ]  # llama-cpp-python refuses json_schema (llama.cpp's would take it)
    assert negotiate(backend).passed[0][0] == "grammar" and "skipped" in negotiate(backend).passed[0][1]


def test_fixed_profiles_and_injected_transports_do_not_negotiate() -> None:
    embedded = Backend(settings=Settings.load(env={}, backend="embedded"), profile=PROFILES["embedded"])
    openai = Backend(
        settings=Settings.load(env={}, backend="openai", api_key="sk-test-0000000000"), profile=PROFILES["openai"]
    )
    fake = FakeServer(modes={}).backend("vllm")
    fake.negotiate = None  # the default: an injected (test) transport keeps the profile's mode
    for backend in (embedded, openai, fake):
        assert not backend.negotiates and backend.structured_mode == "json_schema"
    assert embedded.structured_fields("answer", {"type": "object"}) == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer", "strict": True, "schema": {"type": "object"}},
        }
    }


def test_a_server_that_cannot_be_reached_is_the_usual_connection_error(seed: qa.Article) -> None:
    def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    transport = httpx2.MockTransport(refuse)
    backend = Backend(
        settings=Settings.load(env={}, backend="server", base_url="http://down.invalid/v1", max_retries=0),
        profile=PROFILES["server"], transport=transport, async_transport=transport, negotiate=True,
    )  # fmt: skip
    with pytest.raises(qa.APICallError, match="cannot reach the model server"):
        run(answer_steps(seed, "Who?", backend), backend)

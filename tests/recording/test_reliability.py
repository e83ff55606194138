"""Reliability: qa against a fault-injecting server, through the real client stack.

The server (`qa.testing.FaultServer`) answers from the seed suite's recordings
(`ReplayResponder`), on 127.0.0.1 only. A short timeout (0.5 s, a "slow" fault waits 1 s)
keeps every test quick. Figures for the whole suite: bench/reliability.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import qa
from bench.reliability import CONSUMED, FAKE_KEY, QA_ERRORS, check, fault_run, figures, trim_suite
from qa.core.structured import SHORTER
from qa.errors import (
    APICallError,
    BrokenReplyError,
    OutputValidationError,
    RefusalError,
    ReplayMissError,
    TruncatedOutputError,
)
from qa.evals import load_suite
from qa.evals.log import read_log
from qa.recording import recording_key
from qa.settings import Settings
from qa.testing import FaultServer
from qa.testing.replay_responder import CHAT_PATH, ReplayResponder

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "evals" / "recordings" / "seed"
SUITE = ROOT / "evals" / "seed" / "suite.toml"


@pytest.fixture(scope="module")
def responder() -> ReplayResponder:
    return ReplayResponder(RECORDINGS)


@pytest.fixture(scope="module")
def recorded_ask(responder: ReplayResponder) -> dict[str, Any]:
    """The recorded first attempt at a seed question: two messages, seed 1, not streamed."""
    for request in responder.store.recorded_requests():
        body = request.body
        if (
            request.prompt == "answer"
            and len(body["messages"]) == 2
            and body.get("seed") == 1
            and not body.get("stream")
        ):
            return body
    raise AssertionError(f"no first-attempt answer recording in {RECORDINGS}")


# -- the responder -----------------------------------------------------------------


def test_responder_answers_a_recorded_body_with_its_recorded_content(
    responder: ReplayResponder, recorded_ask: dict[str, Any]
) -> None:
    entry = responder.store.get(recording_key("POST", CHAT_PATH, recorded_ask))
    assert entry is not None
    before = responder.stats["exact"]
    answer = responder(recorded_ask)
    assert answer["content"] == entry.response.body["choices"][0]["message"]["content"]
    assert responder.stats["exact"] == before + 1


def test_responder_answers_a_stream_request_with_the_plain_recording(
    responder: ReplayResponder, recorded_ask: dict[str, Any]
) -> None:
    streamed = {**recorded_ask, "stream": True, "stream_options": {"include_usage": True}}
    before = responder.stats["exact_unstreamed"]
    assert responder(streamed) == responder(recorded_ask)
    assert responder.stats["exact_unstreamed"] == before + 1


def test_a_reask_gets_what_the_model_said_to_the_original_question(
    responder: ReplayResponder, recorded_ask: dict[str, Any]
) -> None:
    reask = {**recorded_ask, "messages": [*recorded_ask["messages"], {"role": "user", "content": SHORTER}]}
    assert responder.store.get(recording_key("POST", CHAT_PATH, reask)) is None
    before = responder.stats["nearest"]
    assert responder(reask) == responder(recorded_ask)
    assert responder.stats["nearest"] == before + 1


def test_a_request_unlike_any_recording_is_a_miss_not_a_made_up_answer(
    responder: ReplayResponder, recorded_ask: dict[str, Any]
) -> None:
    stranger = {**recorded_ask, "messages": [recorded_ask["messages"][0], {"role": "user", "content": "Question: ?"}]}
    with pytest.raises(ReplayMissError):
        responder(stranger)


# -- the suite at fault_rate 0.3 ----------------------------------------------------------


def test_eight_questions_and_the_summary_survive_faults_with_every_case_logged_and_typed(tmp_path: Path) -> None:
    suite = trim_suite(load_suite(SUITE), 8)
    fr = fault_run(suite, RECORDINGS, tmp_path / "run.jsonl", fault_rate=0.3, seed=7, timeout=0.5, slow_seconds=1.0)
    fig = figures(fr)
    assert sum(fig.faults.values()) >= 3  # the seed injects faults: the run is not vacuous
    # No case lost: every planned case is in the log, with a result or a qa error.
    logged = read_log(tmp_path / "run.jsonl").records
    assert sorted(r.case_id for r in logged) == sorted([f"q{i:02d}#1" for i in range(1, 9)] + ["summary#1"])
    assert all((r.result is None) != (r.error is None) for r in logged)
    assert all(r.error.type in QA_ERRORS for r in logged if r.error is not None)
    # Retries are bounded: SDK retries times qa's attempts, per case.
    assert fig.requests <= 9 * (2 + 1) * 3
    # Every reply that reached qa was counted as an attempt, and nothing else was.
    assert fig.attempts == sum(1 for _, kind in fr.server_log if kind in CONSUMED) > 0
    # The client's requests line up with the server's log, so faults can be pinned on cases.
    assert len(fr.sent) == len(fr.server_log)
    assert fig.survived  # at least one case hit by a fault still ended with a result
    assert check(fig, fr) == []


# -- one fault kind at a time, on one qa.ask ---------------------------------------------------


class BodyLog:
    """Wraps a responder, keeping the bodies it was asked (faults that answer call it)."""

    def __init__(self, inner: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.inner = inner
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return self.inner(body)


@pytest.fixture
def seen(responder: ReplayResponder) -> BodyLog:
    return BodyLog(responder)


def server_with(seen: BodyLog, fault: str, rate: float = 1.0, seed: int = 0) -> FaultServer:
    return FaultServer(seen, fault_rate=rate, faults=[fault], seed=seed, slow_seconds=1.0)


@pytest.fixture(scope="module")
def question(recorded_ask: dict[str, Any]) -> str:
    return str(recorded_ask["messages"][1]["content"]).rsplit("Question: ", 1)[1].strip()


def ask(server: FaultServer, article: qa.Article, question: str, *, stream: bool = False) -> qa.AnswerResult:
    settings = Settings.load(
        env={}, backend="server", base_url=server.base_url, api_key=FAKE_KEY, model="SmolLM2-135M-Instruct.Q4_1",
        constrain_quotes="on", record_mode="off", timeout=0.5, max_retries=2, max_attempts=3, seed=1,
    )  # fmt: skip
    return qa.ask(article, question, settings=settings, on_text=(lambda _: None) if stream else None)


@pytest.fixture
def run_ask(seen: BodyLog, seed: qa.Article, question: str) -> Iterator[Callable[..., tuple[Any, FaultServer]]]:
    """Ask once with one fault kind forced; return (result or raised error, server)."""
    servers: list[FaultServer] = []

    def go(fault: str, *, rate: float = 1.0, fault_seed: int = 0, stream: bool = False) -> tuple[Any, FaultServer]:
        server = server_with(seen, fault, rate, fault_seed).start()
        servers.append(server)
        try:
            return ask(server, seed, question, stream=stream), server
        except qa.QAError as exc:
            return exc, server

    yield go
    for server in servers:
        server.close()


def test_truncated_output_is_asked_once_for_shorter_output_then_raises(run_ask: Any, seen: BodyLog) -> None:
    error, server = run_ask("truncated")
    assert isinstance(error, TruncatedOutputError)
    assert server.stats.requests == 2 and error.usage.attempts == 2
    assert seen.bodies[1]["messages"][-1] == {"role": "user", "content": SHORTER}


def test_a_refusal_raises_at_once(run_ask: Any) -> None:
    error, server = run_ask("refusal")
    assert isinstance(error, RefusalError) and error.refusal
    assert server.stats.requests == 1 and error.usage.attempts == 1


def test_schema_invalid_output_is_reasked_until_the_attempts_run_out(run_ask: Any) -> None:
    error, server = run_ask("schema_invalid")
    assert isinstance(error, OutputValidationError)
    assert error.last_output == json.dumps({"unexpected": True})
    assert server.stats.requests == 3 and error.usage.attempts == 3


def test_rate_limits_are_survived_through_the_sdk_retries(run_ask: Any) -> None:
    result, server = run_ask("rate_limit", rate=0.5, fault_seed=1)  # seed 1 draws: 429, 429, answer, ...
    assert isinstance(result, qa.AnswerResult)
    kinds = [kind for _, kind in server.log]
    assert kinds[:3] == ["rate_limit", "rate_limit", None]
    assert result.usage.attempts == kinds.count(None)  # a 429 is a transport retry, never a model attempt


@pytest.mark.parametrize(("fault", "status"), [("server_error", 500), ("unavailable", 503)])
def test_server_errors_that_outlast_the_retries_are_api_call_errors(run_ask: Any, fault: str, status: int) -> None:
    error, server = run_ask(fault)
    assert isinstance(error, APICallError) and error.status_code == status
    assert server.stats.requests == 3 and error.usage.attempts == 0


@pytest.mark.parametrize("fault", ["reset", "slow"])
def test_resets_and_timeouts_that_outlast_the_retries_are_api_call_errors(run_ask: Any, fault: str) -> None:
    error, server = run_ask(fault)
    assert isinstance(error, APICallError) and error.status_code is None
    assert server.stats.requests == 3 and error.usage.attempts == 0


def test_malformed_json_is_sent_again_once_then_a_broken_reply_error(run_ask: Any) -> None:
    error, server = run_ask("malformed_json")
    assert isinstance(error, BrokenReplyError) and "not valid JSON" in error.message
    assert server.stats.requests == 2 and error.usage.attempts == 0


def test_a_stream_cut_before_the_finish_is_sent_again_once_then_a_broken_reply_error(run_ask: Any) -> None:
    error, server = run_ask("stream_cut", stream=True)
    assert isinstance(error, BrokenReplyError) and "cut off" in error.message
    assert server.stats.requests == 2

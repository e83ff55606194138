"""`qa` in record mode against a loopback `FaultServer`: what is recorded, and what is not.

A normal run sends a broken reply (not JSON, a stream cut before it finishes) once more,
re-asks after invalid output, and gives up on a refusal. Record mode must do the same and
keep only what the command ended up accepting; it checks the recordings folder before any
call is paid for, and an answer whose recording cannot be written is still shown (exit 5).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from qa.cli.app import cli
from qa.cli.render import WITHDRAWN
from qa.testing import ALL_FAULTS, FaultServer

KEY = "sk-proj-AbCdEf0123456789GhIjKl"  # looks like a key; the article quotes it
SENTENCE = "A developer pasted the key into a public forum, the report says."
ARTICLE = "Key leak at a start-up\n\n{sentence}\n\nThe key was revoked within an hour, the company said.\n"
QUESTION = "Where was the key pasted?"


def reply(key: str = "") -> dict[str, Any]:
    """The evidence-first reply: sentence 2 (after the headline) says where the key was pasted."""
    return {"sentence": 2, "answer": f"It was pasted into a public forum{' (' + key + ')' if key else ''}."}


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The server's model: always the same valid answer, citing the article's second sentence
    (and repeating the key-looking string when the article holds one)."""
    article = body["messages"][-1]["content"]
    return {"content": json.dumps(reply(KEY if KEY in article else "")), "finish_reason": "stop"}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_MAX_RETRIES", "0")
    monkeypatch.setenv("QA_TIMEOUT", "5")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("QA_ABSTAIN_THRESHOLD", "0")  # keep every cited answer: these tests are about recording


@pytest.fixture
def article(tmp_path: Path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE.format(sentence=SENTENCE))
    return path


@pytest.fixture
def key_article(tmp_path: Path) -> Path:
    path = tmp_path / "key-article.txt"
    path.write_text(ARTICLE.format(sentence=SENTENCE.replace("the key", KEY)))
    return path


@pytest.fixture
def serve() -> Iterator[Callable[..., FaultServer]]:
    servers: list[FaultServer] = []

    def start(faults: list[str] | None = None, *, rate: float = 1.0, seed: int = 0) -> FaultServer:
        server = FaultServer(answer, fault_rate=rate if faults else 0.0, faults=faults or list(ALL_FAULTS), seed=seed)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.close()


def seed_for(faults: list[str], *pattern: bool, rate: float = 0.5) -> int:
    """A FaultServer seed whose first draws are faulty (True) or not (False), in this order."""
    for seed in range(1000):
        rng = random.Random(seed)
        draws = []
        for _ in pattern:
            faulty = rng.random() < rate
            if faulty:
                rng.choice(faults)
            draws.append(faulty)
        if draws == list(pattern):
            return seed
    raise AssertionError("no such seed")


def qa(server: FaultServer, recordings: Path, *args: str, mode: str = "record") -> Result:
    return CliRunner().invoke(cli, [
        "--backend", "server", "--base-url", server.base_url, "--model", "test-model",
        "--record-mode", mode, "--recordings", str(recordings), *args,
    ], prog_name="qa")  # fmt: skip


def recorded(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("[0-9a-f]*.json"))]


# -- item 3: the folder is checked before the paid call; an unwritten answer is kept --------


def test_an_unwritable_recordings_folder_fails_before_any_model_call(tmp_path: Path, article: Path, serve: Any) -> None:
    server = serve()
    (tmp_path / "a-file").write_text("")
    result = qa(server, tmp_path / "a-file" / "recordings", "ask", str(article), QUESTION)
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith(f"qa: error: cannot record into {tmp_path / 'a-file' / 'recordings'}: ")
    assert "no model call was made" in result.stderr and "unexpected" not in result.stderr
    assert server.stats.requests == 0


def test_an_answer_whose_recording_cannot_be_written_is_shown_and_exits_5(
    tmp_path: Path, article: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.recording import RecordingStore

    def denied(self: RecordingStore, *args: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(RecordingStore, "_write_file", denied)
    monkeypatch.setenv("QA_SHORT_ANSWERS", "off")  # the answer exactly as the model wrote it
    server = serve()
    result = qa(server, tmp_path / "rec", "ask", "--json", str(article), QUESTION)
    assert result.exit_code == 5, result.output
    assert json.loads(result.stdout)["answer"]["answer"] == reply()["answer"]  # the paid answer is kept
    assert result.stderr.startswith("qa: error: the result above was not recorded: ")
    assert "Permission denied" in result.stderr and "unexpected" not in result.stderr
    assert recorded(tmp_path / "rec") == []


# -- the secret guard: an article's own key-looking text is not our key ----------------------


def test_a_key_looking_string_in_the_article_is_recorded_as_article_text(
    tmp_path: Path, key_article: Path, serve: Any
) -> None:
    result = qa(serve(), tmp_path / "rec", "ask", "--json", str(key_article), QUESTION)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"]["status"] == "answered"
    (entry,) = recorded(tmp_path / "rec")
    assert KEY in json.dumps(entry["request"]) and KEY in json.dumps(entry["response"])


def test_the_configured_key_is_never_written_even_when_the_article_holds_it(
    tmp_path: Path, key_article: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    result = qa(serve(), tmp_path / "rec", "ask", "--json", str(key_article), QUESTION)
    assert result.exit_code == 5, result.output
    assert json.loads(result.stdout)["answer"]["status"] == "answered"  # shown, not thrown away
    assert "not recorded" in result.stderr and "the configured API key" in result.stderr
    assert KEY not in result.stderr
    assert recorded(tmp_path / "rec") == []


# -- item 9: record what a normal run accepts, never what it rejects ---------------------------


def test_a_malformed_reply_is_sent_again_in_record_mode_and_never_recorded(
    tmp_path: Path, article: Path, serve: Any
) -> None:
    server = serve(["malformed_json"], rate=0.5, seed=seed_for(["malformed_json"], True, False))
    result = qa(server, tmp_path / "rec", "ask", "--json", str(article), QUESTION)
    assert result.exit_code == 0, result.output
    assert [kind for _, kind in server.log] == ["malformed_json", None]
    (entry,) = recorded(tmp_path / "rec")
    assert json.loads(entry["response"]["body"]["choices"][0]["message"]["content"]) == reply()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("refusal", "RefusalError"),
        ("truncated", "cut off"),
        ("schema_invalid", "did not match"),
        ("malformed_json", "not valid JSON"),
    ],
)
def test_a_reply_the_run_rejects_is_never_recorded(
    tmp_path: Path, article: Path, serve: Any, fault: str, error: str
) -> None:
    result = qa(serve([fault]), tmp_path / "rec", "ask", "--json", str(article), QUESTION)
    assert result.exit_code == 4, result.output
    assert error in result.stderr or "refused" in result.stderr
    assert recorded(tmp_path / "rec") == []


def test_a_reply_recovered_by_a_reask_is_recorded_with_what_replay_needs(
    tmp_path: Path, article: Path, serve: Any
) -> None:
    server = serve(["schema_invalid"], rate=0.5, seed=seed_for(["schema_invalid"], True, False))
    first = qa(server, tmp_path / "rec", "ask", "--json", str(article), QUESTION)
    assert first.exit_code == 0, first.output
    assert len(recorded(tmp_path / "rec")) == 2  # the re-ask's request holds the rejected reply: replay sends both
    replayed = qa(server, tmp_path / "rec", "ask", "--json", str(article), QUESTION, mode="replay")
    assert replayed.exit_code == 0, replayed.output
    assert json.loads(replayed.stdout)["answer"] == json.loads(first.stdout)["answer"]


def test_a_cut_stream_is_sent_again_and_never_recorded(
    tmp_path: Path, article: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.cli.render as render

    monkeypatch.setattr(render, "_isatty", lambda stream: stream is sys.stdout)  # a terminal: the answer streams
    server = serve(["stream_cut"], rate=0.5, seed=seed_for(["stream_cut"], True, False))
    result = qa(server, tmp_path / "rec", "ask", str(article), QUESTION, mode="auto")
    assert result.exit_code == 0, result.output
    assert [kind for _, kind in server.log] == ["stream_cut", None]
    (entry,) = recorded(tmp_path / "rec")
    assert any(
        c.get("choices") and c["choices"][0].get("finish_reason")
        for c in entry["response"]["chunks"]
        if isinstance(c, dict)
    )


# -- item 10: a streamed answer that then fails is withdrawn, visibly ------------------------


def test_a_streamed_answer_that_fails_validation_is_withdrawn_on_the_terminal(
    tmp_path: Path, article: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import qa.cli.render as render

    monkeypatch.setattr(render, "_isatty", lambda stream: stream is sys.stdout)  # a terminal: the answer streams
    result = qa(serve(["truncated"]), tmp_path / "rec", "ask", str(article), QUESTION, mode="off")
    assert result.exit_code == 4, result.output
    assert "It w" in result.stdout  # it streamed, then the output was cut off twice
    assert result.stdout.rstrip().endswith(f"\n{WITHDRAWN}")
    assert result.stdout.endswith("\n")
    assert "\nqa: error: the model's output was cut off" in result.output  # on a line of its own, not glued to the text

"""The API key never lands anywhere: not in recordings, logs, reports, transcripts, history or output.

A known fake key (`CANARY`) is put in OPENAI_API_KEY and qa is driven through its real code
paths against a `FaultServer` on 127.0.0.1 that answers from the seed suite's recordings:
recording through the Python API, `qa eval` (log, Markdown report, JUnit) and `qa chat`
(`/save` as Markdown and JSON, the history file), each also with --verbose. Then every
file under the test's tmp_path, and everything printed or logged, is searched for the key.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner, Result
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import qa
from qa.backends.backend import open_backend
from qa.cli.app import cli
from qa.cli.chat import history_path, start_chat
from qa.testing import FaultServer
from qa.testing.replay_responder import ReplayResponder

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = ROOT / "evals" / "recordings" / "seed"
ARTICLE = ROOT / "seeds" / "000_db386d23d8a38732.txt"
CANARY = "sk-qa-canary-7f3a9c2e5b1d4f6a8c0e2b4d"
MODEL = "SmolLM2-135M-Instruct.Q4_1"  # the recordings' model, so requests match them
QUESTIONS = ["What did China and Colombia sign?", "In which city did the Chinese and Colombian leaders meet?"]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(ReplayResponder(RECORDINGS), fault_rate=0.0) as running:
        yield running


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: FaultServer, caplog: pytest.LogCaptureFixture) -> Path:
    """The canary key and the fault server in the environment; cwd, state and recordings in tmp_path."""
    for name, value in {
        "OPENAI_API_KEY": CANARY, "OPENAI_BASE_URL": server.base_url, "QA_BACKEND": "server", "QA_MODEL": MODEL,
        "QA_CONSTRAIN_QUOTES": "on", "QA_SEED": "1", "QA_TIMEOUT": "5", "QA_MAX_RETRIES": "2",
        "QA_RECORDINGS": str(tmp_path / "recordings"), "XDG_STATE_HOME": str(tmp_path / "state"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's and httpx2's included
    return tmp_path


def invoke(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input, prog_name="qa")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def files_holding_the_key(folder: Path) -> list[Path]:
    """Every file under `folder` whose bytes contain the key; asserts there are files at all."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    return [p for p in files if CANARY.encode() in p.read_bytes()]


def assert_nowhere(
    env: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], *printed: str
) -> None:
    assert files_holding_the_key(env) == []
    assert all(CANARY not in text for text in printed)
    captured = capfd.readouterr()
    assert CANARY not in captured.out and CANARY not in captured.err
    assert CANARY not in caplog.text
    assert all(CANARY not in str(record.args) for record in caplog.records)


class HeaderSpy(httpx2.BaseTransport):
    """The network, seen from inside the recorder: keeps each request's Authorization header."""

    def __init__(self) -> None:
        self.inner = httpx2.HTTPTransport()
        self.authorization: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.authorization.append(request.headers.get("authorization", ""))
        return self.inner.handle_request(request)


def test_recording_stores_neither_the_key_nor_the_header_that_carries_it(
    env: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    # Extractive summaries: the seed recordings the fault server answers from hold no written summary.
    settings = qa.Settings.load(record_mode="record", summary_mode="extract")
    assert settings.api_key is not None and settings.api_key.get_secret_value() == CANARY
    spy = HeaderSpy()
    open_backend(settings).transport = spy  # the recorder's inner transport
    article = qa.load_article(ARTICLE)
    answer = qa.ask(article, QUESTIONS[0], settings=settings)
    streamed = qa.ask(article, QUESTIONS[1], settings=settings, on_text=lambda _: None)
    summary = qa.summarize(article, settings=settings)
    assert spy.authorization and set(spy.authorization) == {f"Bearer {CANARY}"}  # the key did travel
    recorded = list((env / "recordings").glob("*.json"))
    assert len(recorded) >= 2  # a plain answer and a stream, both written (the summary called no model)
    assert all("authorization" not in p.read_text().lower() for p in recorded)
    printed = [
        answer.model_dump_json(),
        streamed.model_dump_json(),
        summary.model_dump_json(),
        repr(settings),
        str(settings),
    ]
    assert_nowhere(env, caplog, capfd, *printed)


def mini_suite(folder: Path) -> Path:
    """The first four seed questions and every key fact."""
    folder.mkdir(parents=True)
    lines = (ROOT / "evals" / "seed" / "questions.jsonl").read_text().splitlines()[:4]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(ROOT / "evals" / "seed" / "key_facts.jsonl", folder / "key_facts.jsonl")
    (folder / "suite.toml").write_text(f'[suite]\nname = "seed"\narticle = "{ARTICLE}"\n')
    return folder / "suite.toml"


@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_eval_log_report_junit_and_recordings_never_hold_the_key(
    env: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], verbose: list[str]
) -> None:
    suite = mini_suite(env / "suite")
    out = env / "out"
    result = invoke(
        *verbose, "--record-mode", "record", "--recordings", str(env / "eval-recordings"), "eval", "--suite", str(suite),
        "--log", str(out / "run.jsonl"), "--report", str(out / "report.md"), "--junit", str(out / "junit.xml"),
    )  # fmt: skip
    assert result.exit_code in (0, 6), result.stderr  # 6: a case failed on the harness side; still logged
    assert {p.name for p in out.iterdir()} == {"run.jsonl", "report.md", "junit.xml"}
    assert len(list((env / "eval-recordings").glob("*.json"))) >= 4  # one per question
    assert_nowhere(env, caplog, capfd, result.stdout, result.stderr, result.output)


@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_chat_transcripts_and_output_never_hold_the_key(
    env: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], verbose: list[str]
) -> None:
    result = invoke(*verbose, "chat", input=f"{QUESTIONS[0]}\n/save out.md\n/save out.json\n/exit\n")
    assert result.exit_code == 0, result.stderr
    saved = env / "cwd"
    assert {p.name for p in saved.iterdir()} == {"out.md", "out.json"}
    assert QUESTIONS[0] in (saved / "out.json").read_text()
    assert_nowhere(env, caplog, capfd, result.stdout, result.stderr, result.output)


def test_chat_history_never_holds_the_key(
    env: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The interactive prompt (prompt_toolkit, history file under XDG_STATE_HOME)."""
    with create_pipe_input() as pipe:
        pipe.send_text(f"{QUESTIONS[0]}\r/save typed.md\r/exit\r")
        with create_app_session(input=pipe, output=DummyOutput()):
            start_chat(qa.load_article(ARTICLE), qa.Settings.load(), verbose=True, interactive=True)
    assert history_path().is_relative_to(env) and QUESTIONS[0] in history_path().read_text()
    assert (env / "cwd" / "typed.md").is_file()
    assert_nowhere(env, caplog, capfd)

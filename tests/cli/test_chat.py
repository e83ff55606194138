"""Tests for `qa chat`, driven through prompt_toolkit's pipe input, on recorded responses.

Re-record (slow, runs the embedded model):
    QA_TEST_RECORD_MODE=auto .venv/bin/pytest tests/cli/test_cli.py tests/cli/test_chat.py
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import qa
from qa.cli.app import cli
from qa.cli.chat import ChatSession, PromptReader, SlashCompleter, history_path, run_repl
from qa.cli.render import Printer
from qa.cli.transcript import Transcript
from qa.cli.worker import Interrupted, ModelRunner
from qa.core.streaming import AnswerTextStream
from tests.cli_recordings import QUESTION, QUESTION_2, SEED, recorded  # noqa: F401 (autouse fixture)

CTRL_C, CTRL_D, ENTER = "\x03", "\x04", "\r"


@pytest.fixture(scope="module")
def article() -> qa.Article:
    return qa.load_article(SEED)


class Chat:
    """One REPL session fed with keystrokes; output captured as plain text."""

    def __init__(self, article: qa.Article) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.printer = Printer(self.out, self.err, terminal=False)
        self.session = ChatSession(article, qa.Settings.load(), self.printer)

    def run(self, keys: str) -> Chat:
        with create_pipe_input() as pipe:
            pipe.send_text(keys)
            with create_app_session(input=pipe, output=DummyOutput()):
                run_repl(self.session, PromptReader())
        return self

    @property
    def output(self) -> str:
        return self.out.getvalue()


def stub_questions(chat: Chat) -> list[str]:
    asked: list[str] = []
    chat.session.ask = asked.append
    return asked


# -- reading lines (no model) ----------------------------------------------------------


def test_history_lives_under_xdg_state_home(tmp_path: Path) -> None:
    assert history_path() == tmp_path / "state" / "qa" / "history"


def test_multi_line_paste_is_one_question(article: qa.Article) -> None:
    chat = Chat(article)
    asked = stub_questions(chat)
    chat.run("\x1b[200~First line of a pasted question\nand its second line?\x1b[201~" + ENTER + CTRL_D)
    assert asked == ["First line of a pasted question\nand its second line?"]


def test_ctrl_c_at_the_prompt_clears_the_line_and_the_session_goes_on(article: qa.Article) -> None:
    chat = Chat(article)
    asked = stub_questions(chat)
    chat.run("half a quest" + CTRL_C + "a whole question?" + ENTER + "/exit" + ENTER + "never asked?" + ENTER)
    assert asked == ["a whole question?"]


def test_history_is_kept_between_runs(article: qa.Article, tmp_path: Path) -> None:
    first = Chat(article)
    stub_questions(first)
    first.run("remember me?" + ENTER + CTRL_D)
    assert "remember me?" in history_path().read_text(encoding="utf-8")
    reader = PromptReader()
    assert "remember me?" in list(reader.session.history.load_history_strings())


def test_slash_commands_complete_on_tab() -> None:
    completer = SlashCompleter()

    def names(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent(completion_requested=True))]

    assert names("/su") == ["/summary"]
    assert sorted(names("/s")) == ["/save", "/sources", "/summary"]
    assert names("who") == []
    assert names("/article 000") == ["000_db386d23d8a38732"]


def test_help_unknown_commands_and_usage_before_any_turn(article: qa.Article) -> None:
    chat = Chat(article).run("/help" + ENTER + "/frobnicate" + ENTER + "/usage" + ENTER + "/sources" + ENTER + CTRL_D)
    for name in ("/summary", "/sources", "/usage", "/save", "/article", "/clear", "/help", "/exit"):
        assert name in chat.output
    assert "Unknown command /frobnicate" in chat.output
    assert "No model calls yet." in chat.output
    assert "No answer yet" in chat.output


def test_switching_articles(article: qa.Article) -> None:
    chat = Chat(article).run("/article zzz-nothing" + ENTER + "/article 0ee5" + ENTER + "/article" + ENTER + CTRL_D)
    assert "error: zzz-nothing: no such file" in chat.err.getvalue()
    assert f"Now chatting about: {article.title}" in chat.output
    assert f"Current article: {article.title}" in chat.output


# -- the worker (no model) -------------------------------------------------------------


def test_ctrl_c_abandons_the_model_call() -> None:
    runner = ModelRunner()
    proceed = threading.Event()
    after_cancel: list[str] = []

    def model_call(on_text: Callable[[str], None]) -> str:
        on_text("first delta")
        proceed.wait(10)
        on_text("second delta")  # raises: the user cancelled
        after_cancel.append("kept generating")
        return "done"

    def user_presses_ctrl_c(delta: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        runner.run(model_call, user_presses_ctrl_c)
    proceed.set()
    assert runner.wait(10)
    assert after_cancel == []


def test_a_call_that_completes_despite_ctrl_c_is_discarded_once() -> None:
    runner = ModelRunner()
    discarded: list[str] = []

    def model_call(on_text: Callable[[str], None]) -> str:
        on_text("the only delta")
        return "result"

    def user_presses_ctrl_c(delta: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        runner.run(model_call, user_presses_ctrl_c, discard=discarded.append)
    assert runner.wait(10)
    assert discarded == ["result"]


def test_errors_in_the_worker_reach_the_caller() -> None:
    def failing(on_text: Callable[[str], None]) -> str:
        raise qa.QuestionError("the question is empty")

    with pytest.raises(qa.QuestionError):
        ModelRunner().run(failing)


# -- on recorded responses ---------------------------------------------------------------


def test_on_text_delivers_the_answer_before_the_result(article: qa.Article) -> None:
    deltas: list[str] = []
    result = qa.ask(article, QUESTION, on_text=deltas.append, settings=qa.Settings.load())
    assert len(deltas) > 1
    stream = AnswerTextStream()
    shown = "".join(stream.feed(d) for d in deltas)
    if result.usage.attempts == 1:
        assert shown == json.loads("".join(deltas))["answer"]


def test_a_conversation_streams_answers_shows_sources_usage_and_saves(article: qa.Article, tmp_path: Path) -> None:
    chat = Chat(article)
    events: list[str] = []
    stream_text, markdown = chat.printer.stream_text, chat.printer.markdown
    chat.printer.stream_text = lambda text: (events.append("text"), stream_text(text))[1]
    chat.printer.markdown = lambda text: (events.append("result"), markdown(text))[1]
    md, js = tmp_path / "chat.md", tmp_path / "chat.json"
    md.write_text("an earlier file\n", encoding="utf-8")
    chat.run(
        QUESTION_2
        + ENTER
        + "/sources"
        + ENTER
        + QUESTION
        + ENTER
        + "/usage"
        + ENTER
        + f"/save {md}"
        + ENTER
        + f"/save {js}"
        + ENTER
        + "/exit"
        + ENTER
    )
    assert chat.err.getvalue() == ""
    results = chat.session.conversation.results
    assert [r.question for r in results] == [QUESTION_2, QUESTION]  # the second went through Conversation
    assert events.index("text") < events.index("result")  # streamed before the final result

    first = results[0]
    out = chat.output
    if first.answer.citations:
        found = re.findall(r"chars (\d+)–(\d+) \(matches the article text\):\n\n   > “(.*)”", out)
        assert len(found) >= len(first.answer.citations)
        for start, end, quote in found[: len(first.answer.citations)]:
            assert " ".join(article.text[int(start) : int(end)].split()) == quote
    else:
        assert "**Abstained:**" in out or "**Not in the article:**" in out

    assert re.search(r"Last turn: [\d,]+ tokens .* · \d+ attempts? · cost \$0", out)
    assert "Session (2 turns): " in out
    assert md.read_text(encoding="utf-8") == "an earlier file\n"  # never overwritten
    saved = (tmp_path / "chat-1.md").read_text(encoding="utf-8")
    assert saved.startswith("# qa chat transcript")
    assert f"### Q: {QUESTION}" in saved and f"### Q: {QUESTION_2}" in saved
    transcript = Transcript.model_validate_json(js.read_text(encoding="utf-8"))
    assert [e.answer.question for e in transcript.entries if e.answer] == [QUESTION_2, QUESTION]
    assert transcript.usage.total_tokens == sum(r.usage.total_tokens for r in results)


def test_ctrl_c_during_an_answer_keeps_the_session(article: qa.Article) -> None:
    chat = Chat(article)
    stream_text = chat.printer.stream_text
    pressed: list[bool] = []

    def ctrl_c_on_the_first_text(text: str) -> None:
        if not pressed:
            pressed.append(True)
            raise KeyboardInterrupt
        stream_text(text)

    chat.printer.stream_text = ctrl_c_on_the_first_text
    chat.run(QUESTION + ENTER + QUESTION + ENTER + CTRL_D)
    assert pressed == [True]
    assert "[answer cancelled]" in chat.output
    assert chat.session.runner.wait(30)  # the abandoned call has ended
    results = chat.session.conversation.results
    assert [r.question for r in results] == [QUESTION]  # the cancelled turn left no trace
    assert chat.output.count("prompt answer") == 1


def test_summary_command(article: qa.Article) -> None:
    chat = Chat(article).run("/summary" + ENTER + "/summary" + ENTER + CTRL_D)
    assert chat.err.getvalue() == ""
    assert chat.output.count("**Key points**") == 2
    assert len(chat.session.entries) == 1  # the second /summary is the cached one


def test_qa_chat_reads_questions_from_a_pipe() -> None:
    result = CliRunner().invoke(cli, ["chat"], input=f"{QUESTION}\n/usage\n", prog_name="qa")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("qa chat · China and Colombia")
    assert "Session (1 turn): " in result.stdout


def test_qa_chat_refuses_stdin_as_the_article() -> None:
    result = CliRunner().invoke(cli, ["chat", "-"], prog_name="qa")
    assert result.exit_code == 2
    assert result.stderr.startswith("qa: error: qa chat reads your questions from the terminal")


# -- issue 17 ------------------------------------------------------------------------


def test_the_history_file_is_readable_by_its_owner_only(article: qa.Article) -> None:
    chat = Chat(article)
    stub_questions(chat)
    history_path().parent.mkdir(parents=True)
    history_path().write_text("")
    history_path().chmod(0o644)  # an existing file, from before: made private too
    chat.run("Who signed the plan?" + ENTER + CTRL_D)
    assert "Who signed the plan?" in history_path().read_text()
    assert history_path().stat().st_mode & 0o777 == 0o600
    history_path().unlink()
    Chat(article).run(CTRL_D)  # a new file
    assert history_path().stat().st_mode & 0o777 == 0o600


def test_save_into_a_folder_writes_a_file_inside_it(article: qa.Article, tmp_path: Path) -> None:
    chat = Chat(article)
    folder = tmp_path / "transcripts"
    folder.mkdir()
    written = chat.session.save(str(folder))
    assert written.parent == folder and written.suffix == ".md"
    assert not (tmp_path / "transcripts-1").exists()
    assert chat.session.save(str(tmp_path / "new") + "/").parent == tmp_path / "new"  # a trailing slash means a folder

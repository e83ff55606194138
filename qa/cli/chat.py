"""`qa chat`: an interactive session about one article, with follow-up questions.

Questions go through `qa.Conversation`, so follow-ups see the earlier turns. Each model call
runs in a worker thread (`qa.cli.worker.ModelRunner`) that hands the raw output to the main thread,
which shows the answer text as it is generated. Ctrl-C during an answer sets a flag; the
worker's next streamed delta then raises inside the SDK's stream loop, which closes the
stream (the embedded model stops generating and is released) and the prompt comes back
with the conversation unchanged. A summary is not streamed: Ctrl-C abandons its result,
and the next call waits for it to finish. Ctrl-C at the prompt clears the line; Ctrl-D or
/exit quits. History is kept in $XDG_STATE_HOME/qa/history (~/.local/state/qa/history),
readable by its owner only (0600).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

import qa
from qa.cli.group import recording
from qa.cli.render import WITHDRAWN, Printer, answer_markdown, sources_markdown, summary_markdown, usage_line
from qa.cli.transcript import TranscriptEntry, save_transcript, total_usage
from qa.cli.worker import Interrupted, ModelRunner
from qa.core.streaming import AnswerTextStream
from qa.errors import InputError, QAError
from qa.schemas import AnswerResult, SummaryResult
from qa.settings import Settings
from qa.text.article import Article

__all__ = [
    "COMMANDS",
    "ChatSession",
    "PromptReader",
    "SlashCompleter",
    "history_path",
    "line_reader",
    "run_repl",
    "start_chat",
]

COMMANDS: dict[str, str] = {
    "/summary": "summarize the article",
    "/sources": "the verified quotes behind the last answer, with their positions",
    "/usage": "tokens and cost of the last turn and of the session",
    "/save": "[PATH]  save the transcript (Markdown; JSON if PATH ends in .json; into PATH if a folder)",
    "/article": "REF  switch to another article (a path, or a seed id or title prefix)",
    "/clear": "forget earlier turns: the next question starts afresh",
    "/help": "this list",
    "/exit": "quit (or Ctrl-D)",
}


def history_path() -> Path:
    """Where questions are remembered between runs: $XDG_STATE_HOME/qa/history."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "qa" / "history"


class SlashCompleter(Completer):
    """Tab completion for slash commands (and seed ids after /article)."""

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if text.startswith("/article "):
            from qa.cli.lookup import SEEDS_DIR

            prefix = text[len("/article ") :].lower()
            for path in sorted(SEEDS_DIR.glob("*.txt")) + sorted(SEEDS_DIR.glob("*.md")):
                if path.stem.lower().startswith(prefix):
                    yield Completion(path.stem, start_position=-len(prefix))
            return
        if not text.startswith("/") or " " in text:
            return
        for name, meta in COMMANDS.items():
            if name.startswith(text):
                yield Completion(name, start_position=-len(text), display_meta=meta.split("  ")[-1])


class ChatSession:
    """The state of one chat: article, conversation, transcript, and the slash commands."""

    def __init__(
        self, article: Article, settings: Settings, printer: Printer, *, runner: ModelRunner | None = None
    ) -> None:
        self.settings = settings
        self.printer = printer
        self.runner = runner or ModelRunner()
        self.entries: list[TranscriptEntry] = []
        self.last_answer: tuple[AnswerResult, Article] | None = None
        self._summaries: dict[str, SummaryResult] = {}
        self.switch(article)

    def switch(self, article: Article) -> None:
        """Chat about `article` from now on, in a new conversation."""
        self.article = article
        self.conversation = qa.Conversation(article, settings=self.settings)

    def greet(self) -> None:
        a = self.article
        self.printer.line(f"qa chat · {a.title} ({a.id}, {a.source}) · {self.settings.describe()}")
        self.printer.line("Ask a question about the article. /help lists commands; Ctrl-D or /exit quits.")

    def handle(self, line: str) -> bool:
        """Act on one submitted line; return False when the session should end."""
        text = line.strip()
        if not text:
            return True
        if not text.startswith("/"):
            self.ask(line)
            return True
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        if name in ("/exit", "/quit"):
            return False
        handlers: dict[str, Callable[[], object]] = {
            "/summary": lambda: self.summary(),
            "/sources": lambda: self.sources(),
            "/usage": lambda: self.usage(),
            "/save": lambda: self.save(arg or None),
            "/article": lambda: self.change_article(arg),
            "/clear": lambda: self.clear(),
            "/help": lambda: self.help(),
        }
        handler = handlers.get(name)
        if handler is None:
            self.printer.line(f"Unknown command {name}: /help lists the commands.")
        else:
            handler()
        return True

    # -- questions -------------------------------------------------------------

    def _wait_for_abandoned_call(self) -> None:
        if self.runner.busy:
            self.printer.note("(waiting for the cancelled call to release the model…)")
            self.runner.wait()

    def ask(self, question: str) -> None:
        """Answer a (follow-up) question, streaming the answer text."""
        self._wait_for_abandoned_call()
        stream = AnswerTextStream()
        conversation = self.conversation
        try:
            with recording(self.settings), self.printer.status("Thinking…") as spinner:

                def show(delta: str) -> None:
                    attempt = stream.attempt
                    text = stream.feed(delta)
                    if stream.attempt != attempt:
                        self.printer.stream_text("\n[the model is rewriting its answer]\n")
                    if text:
                        spinner.stop()
                        self.printer.stream_text(text)

                result = self.runner.run(
                    lambda on_text: conversation.ask(question, on_text=on_text),
                    show,
                    discard=self._forget(conversation),
                )
        except Interrupted:
            self._end_line(stream)
            self.printer.line("[answer cancelled]")
            return
        except BaseException:
            self._end_line(stream)
            if stream.text:
                self.printer.line(WITHDRAWN)
            raise
        self._end_line(stream)
        self.printer.markdown(answer_markdown(result, streamed=stream.text))
        self.last_answer = (result, self.article)
        self._add(answer=result)

    @staticmethod
    def _forget(conversation: qa.Conversation) -> Callable[[AnswerResult], None]:
        """Remove a cancelled turn's result from `conversation` (by identity)."""

        def forget(result: AnswerResult) -> None:
            for i in range(len(conversation.results) - 1, -1, -1):
                if conversation.results[i] is result:
                    del conversation.results[i]
                    return

        return forget

    def _end_line(self, stream: AnswerTextStream) -> None:
        if stream.text:
            self.printer.line()  # the streamed text ends without a newline

    def _add(self, *, answer: AnswerResult | None = None, summary: SummaryResult | None = None) -> None:
        self.entries.append(
            TranscriptEntry(
                article_id=self.article.id, article_title=self.article.title, answer=answer, summary=summary
            )
        )

    # -- slash commands --------------------------------------------------------

    def summary(self) -> None:
        cached = self._summaries.get(self.article.id)
        if cached is None:
            self._wait_for_abandoned_call()
            article, settings = self.article, self.settings
            try:
                with recording(settings), self.printer.status("Summarizing…"):
                    cached = self.runner.run(lambda _on_text: qa.summarize(article, settings=settings))
            except Interrupted:
                self.printer.line("[summary cancelled]")
                return
            self._summaries[article.id] = cached
            self._add(summary=cached)
        self.printer.markdown(summary_markdown(cached, self.article.title))

    def sources(self) -> None:
        if self.last_answer is None:
            self.printer.line("No answer yet: ask a question first.")
            return
        self.printer.markdown(sources_markdown(*self.last_answer))

    def usage(self) -> None:
        if not self.entries:
            self.printer.line("No model calls yet.")
            return
        self.printer.line(f"Last turn: {usage_line(self.entries[-1].usage)}")
        turns = f"{len(self.entries)} turn" + ("" if len(self.entries) == 1 else "s")
        self.printer.line(f"Session ({turns}): {usage_line(total_usage(self.entries))}")

    def save(self, target: str | None) -> Path:
        """Write the transcript to `target` (default: a timestamped .md file); never overwrite.

        A `target` that is a folder (or ends with a slash) gets the default file name inside it."""
        default = f"qa-chat-{dt.datetime.now():%Y%m%d-%H%M%S}.md"
        path = Path(target).expanduser() if target else Path(default)
        if target and (path.is_dir() or target.endswith(("/", os.sep))):
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot write into {path}: {exc.strerror or exc}") from exc
            path = path / default
        written = save_transcript(self.entries, path)
        self.printer.line(f"Saved {len(self.entries)} turn(s) to {written}")
        return written

    def change_article(self, ref: str) -> None:
        if not ref:
            self.printer.line(f"Current article: {self.article.title} ({self.article.id}, {self.article.source})")
            return
        from qa.cli.lookup import find_article

        self.switch(find_article(ref))
        self.printer.line(f"Now chatting about: {self.article.title} ({self.article.id}); earlier turns are forgotten.")

    def clear(self) -> None:
        self.conversation.clear()
        self.printer.line("Earlier turns forgotten: the next question starts afresh (the transcript keeps them).")

    def help(self) -> None:
        width = max(len(name) for name in COMMANDS)
        for name, meta in COMMANDS.items():
            self.printer.line(f"  {name.ljust(width)}  {meta}")
        self.printer.line("  Anything else is a question about the article. Ctrl-C cancels an answer.")

    def close(self, timeout: float = 30.0) -> None:
        """Let an abandoned call finish (it holds the model) before the process exits."""
        self.runner.wait(timeout)


# -- the loop --------------------------------------------------------------------


class PromptReader:
    """Reads lines with prompt_toolkit: history kept in a file, tab completion, bracketed paste.

    Enter submits; a paste that contains newlines arrives as one line (bracketed paste).
    """

    def __init__(self, history: Path | None = None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory, History, InMemoryHistory

        path = history or history_path()
        store: History
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))  # the questions asked are private
            os.chmod(path, 0o600)  # a file made before qa did this
            store = FileHistory(str(path))
        except OSError as exc:
            print(f"qa: history is not kept: cannot create {path.parent} ({exc.strerror})", file=sys.stderr)
            store = InMemoryHistory()
        self.session: PromptSession[str] = PromptSession(history=store, completer=SlashCompleter())

    def __call__(self) -> str:
        """The next submitted line; KeyboardInterrupt on Ctrl-C, EOFError on Ctrl-D."""
        return self.session.prompt("qa> ")


def line_reader(stream: TextIO) -> Callable[[], str]:
    """Read one question per line from a non-terminal stream (e.g. a pipe)."""

    def read() -> str:
        line = stream.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read


def run_repl(session: ChatSession, read_line: Callable[[], str], *, verbose: bool = False) -> None:
    """Read and handle lines until Ctrl-D or /exit; errors are shown and the session goes on."""
    session.greet()
    try:
        while True:
            try:
                line = read_line()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                break
            try:
                if not session.handle(line):
                    break
            except KeyboardInterrupt:
                session.printer.line("\n[cancelled]")
            except QAError as exc:
                session.printer.note(f"error: {exc}")
            except Exception as exc:  # noqa: BLE001 - one bad turn must not end the session
                if verbose:
                    traceback.print_exc()
                hint = "" if verbose else " (rerun with --verbose to see the traceback)"
                session.printer.note(f"unexpected error: {type(exc).__name__}: {exc}{hint}")
    finally:
        session.close()


def start_chat(article: Article, settings: Settings, *, verbose: bool = False, interactive: bool | None = None) -> None:
    """Run `qa chat`: prompt_toolkit on a terminal, one question per line otherwise."""
    session = ChatSession(article, settings, Printer())
    if interactive is None:
        interactive = sys.stdin.isatty()
    run_repl(session, PromptReader() if interactive else line_reader(sys.stdin), verbose=verbose)

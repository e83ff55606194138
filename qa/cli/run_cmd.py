"""`qa run`: a task over a corpus, as JSONL, on one engine. Thin: `qa.run` does the work.

    qa run articles/ -o summaries.jsonl
    qa run wires.jsonl -o answers.jsonl --ask "Who is named?" --ask "When did it happen?"
    qa run articles/ -o out.jsonl --engine ray --workers 2
    qa --backend openai run articles/ -o out.jsonl --engine openai-batch
    qa run articles/ --dry-run

Exit codes: 0 every item has a result; 8 the run finished but some items ended with an
error (they are in the output, with their error); 2 usage or settings (an unknown engine);
3 bad input (an unreadable corpus, a bad JSONL line, an output qa did not write);
4 backend (Ray or the Batch API failed as a whole); 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qa.cli.app import CliState

if TYPE_CHECKING:
    from qa.bulk.records import RunRecord, TaskKind
    from qa.bulk.runner import RunReport

__all__ = ["EXIT_INTERRUPTED", "EXIT_ITEM_ERRORS", "run_cmd"]

EXIT_ITEM_ERRORS = 8
"""The run finished, but some items ended with an error."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: what finished is in the output; the same command resumes."""
ENGINE_NAMES = ("local", "ray", "openai-batch")  # qa.bulk.runner.ENGINES, without importing it for --help


class _Progress:
    """A progress bar with rate and ETA on a terminal (stderr); plain status lines otherwise."""

    def __init__(self, label: str) -> None:
        self.label, self.count, self.errors, self.started = label, 0, 0, 0.0
        self.terminal = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.terminal:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=None, rate="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def record(self, record: RunRecord) -> None:
        self.count += 1
        self.errors += record.error is not None
        if self._bar is not None:
            elapsed = time.monotonic() - self.started
            self._bar.update(
                self._task, advance=1, rate=f"{self.count / elapsed:.1f} items/s" if elapsed > 0.5 else "",
                description=f"{self.label}" + (f" ({self.errors} errors)" if self.errors else ""),
            )  # fmt: skip

    def status(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.log(message) if "next check" not in message else self._bar.update(
                self._task, description=message
            )
        else:
            click.echo(f"qa: {message}", err=True)

    def start(self, total: int, done: int) -> None:
        self.started = time.monotonic()
        if self._bar is not None:
            self._bar.update(self._task, total=total, completed=done)


def _questions(asked: tuple[str, ...], questions_file: Path | None) -> list[str]:
    questions = list(asked)
    if questions_file is not None:
        from qa.errors import InputError

        try:
            text = questions_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{questions_file}: cannot read the questions ({exc})") from exc
        questions += [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return questions


def _report_json(report: RunReport) -> str:
    return json.dumps({
        "output": str(report.output), "engine": report.engine, "items": report.items, "results": report.results,
        "errors": report.errors, "not_done": report.missing, "ran": report.ran, "skipped": report.skipped,
        "damaged_lines": report.damaged, "usage": report.usage.model_dump(), "elapsed_s": round(report.elapsed_s, 3),
        "notes": report.notes,
    })  # fmt: skip


def _interrupted(output: Path, written: int) -> None:
    from qa.bulk.output import state_path

    hint = f"qa: interrupted: {written} item(s) written to {output} by this run; run the same command again to resume"
    try:
        batches = json.loads(state_path(output).read_text(encoding="utf-8")).get("batches") or []
    except (OSError, ValueError):
        batches = []
    if batches:
        ids = ", ".join(b.get("batch_id") or b.get("input_file_id") for b in batches)
        hint += f" (OpenAI batch {ids} goes on running: the rerun collects it and does not pay again)"
    click.echo(hint, err=True)


@click.command("run")
@click.argument("corpus")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results as JSONL, one line per item. An existing output of qa run is resumed, never overwritten.",
)
@click.option(
    "--ask",
    "asked",
    multiple=True,
    metavar="QUESTION",
    help="Ask every article QUESTION (repeatable). Default: summarize.",
)
@click.option(
    "--questions-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Questions to ask, one a line (# starts a comment).",
)
@click.option(
    "--style",
    type=click.Choice(["brief", "standard", "bullets"]),
    default="standard",
    show_default=True,
    help="Summary style.",
)
@click.option("--lang", metavar="LANG", help="Write summaries in LANG (quotes stay verbatim).")
@click.option(
    "--engine",
    type=click.Choice(ENGINE_NAMES),
    default="local",
    show_default=True,
    help="local: threads in this process; ray: a Ray cluster (RAY_ADDRESS, else local); openai-batch: the Batch API.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Calls in flight (local), per worker (ray), or online re-asks (openai-batch).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="ray: actors, each with its own backend.",
)
@click.option(
    "--cpus-per-worker",
    type=click.FloatRange(min=0, min_open=True),
    help="ray: CPUs per actor (default 1 for the embedded model, else 0.25).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="openai-batch: seconds before the first status check (later ones wait longer).",
)
@click.option(
    "--online-limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="openai-batch: items whose reply may be re-asked online; the rest are reported.",
)
@click.option("--retry-errors", is_flag=True, help="Do again the items whose record in the output is an error.")
@click.option(
    "--dry-run", is_flag=True, help="Count tokens and estimate the cost per model; call nothing, write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print the totals (or the estimate) as JSON.")
@click.pass_obj
def run_cmd(
    state: CliState,
    corpus: str,
    output: Path | None,
    asked: tuple[str, ...],
    questions_file: Path | None,
    style: str,
    lang: str | None,
    engine: str,
    concurrency: int,
    workers: int,
    cpus_per_worker: float | None,
    poll_interval: float,
    online_limit: int,
    retry_errors: bool,
    dry_run: bool,
    as_json: bool,
) -> int:
    """Run a task over a corpus of articles: summaries or answers, one JSONL line per item.

    CORPUS is a folder (its .txt and .md files), a glob ('archive/**/*.txt'), or a .jsonl
    file with one {"id", "title", "text"} object a line. Every article is summarized, or
    asked every --ask question (one item per article and question). Each item's line holds
    its result (with usage and provenance) or its typed error; a failed item never stops
    the run. Lines are appended and fsynced as items finish: run the same command again to
    resume, and only what is missing is done. The totals line goes to stdout.

    Exit codes: 0 every item has a result; 8 some items ended with an error; 2 usage or
    settings; 3 bad input; 4 the engine failed as a whole; 130 interrupted.
    """
    import qa
    from qa.bulk.runner import engine_named

    questions = _questions(asked, questions_file)
    task: TaskKind = "ask" if questions else "summarize"
    settings = state.settings()
    if dry_run:
        estimate = qa.estimate_run(corpus, task=task, questions=questions, style=style, lang=lang, output=output,
                                   engine=engine, settings=settings)  # fmt: skip
        click.echo(json.dumps(_estimate_json(estimate)) if as_json else estimate.table())
        return 0
    if output is None:
        raise click.UsageError("--output is required (or --dry-run)")
    engine_options: dict[str, dict[str, Any]] = {
        "local": {"concurrency": concurrency},
        "ray": {"workers": workers, "concurrency": concurrency, "cpus_per_worker": cpus_per_worker},
        "openai-batch": {"poll_interval": poll_interval, "max_poll_interval": max(600.0, poll_interval),
                         "online_limit": online_limit, "concurrency": concurrency},
    }  # fmt: skip
    options = engine_options[engine]
    chosen = engine_named(engine, **options)
    progress = _Progress(f"qa run {task}")
    written = 0

    def on_record(record: RunRecord) -> None:
        nonlocal written
        written += 1
        progress.record(record)

    try:
        with progress:
            report = qa.run(
                corpus, output, task=task, questions=questions, style=style, lang=lang,
                engine=chosen, retry_errors=retry_errors, on_record=on_record, on_status=progress.status,
                on_start=progress.start, settings=settings,
            )  # fmt: skip
    except KeyboardInterrupt:
        _interrupted(output, written)
        return EXIT_INTERRUPTED
    click.echo(_report_json(report) if as_json else f"qa run: {report.line()}")
    if report.damaged:
        click.echo(
            f"qa: {report.damaged} damaged line(s) in {output} were skipped; their items were done again", err=True
        )
    return EXIT_ITEM_ERRORS if report.error_count or report.missing else 0


def _estimate_json(estimate: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(estimate)

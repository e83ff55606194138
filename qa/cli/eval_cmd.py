"""`qa eval`: run an eval suite, report it, gate it against thresholds and a baseline.

    qa eval                                   # the seed suite, live, log in evals/runs/
    qa --record-mode replay eval --check      # CI: recorded responses, no model, no network
    qa --record-mode record eval --suite seed # re-record the seed suite's responses
    qa eval --compare RUN_A.jsonl RUN_B.jsonl # per-case regressions/improvements, metric deltas

Defaults for suite NAME: the suite is evals/NAME/suite.toml, its recordings
evals/recordings/NAME/ (unless --recordings is given), its baseline
evals/baselines/NAME.json and the log evals/runs/NAME-<UTC time>.jsonl. Exit codes: 0
pass; 2 a bad option or unwritable output path (checked before any case runs); 6 the
harness failed (bad dataset or baseline, a replay miss, an unexpected exception in a
case); 7 `--check` failed (a metric below its threshold, or a case correct in the
baseline is not now); 130 interrupted (the log and the command that resumes it are printed).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa.cli.app import CliState

if TYPE_CHECKING:
    from qa.evals.runner import EvalRun

__all__ = ["eval_cmd", "resolve_suite"]


def _project_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def resolve_suite(value: str) -> tuple[Path, Path]:
    """(suite.toml, project root) for a suite NAME (evals/NAME/suite.toml) or a PATH."""
    from qa.errors import EvalError

    given = Path(value)
    if given.suffix == ".toml" or given.is_dir() or given.is_file():
        path = given / "suite.toml" if given.is_dir() else given
        if not path.is_file():
            raise EvalError(f"no suite file {path}")
        root = _project_root(path.resolve().parent) or path.resolve().parent
        return path, root
    # Suites are repository data, not in the wheel: look in the current folder and, when qa
    # runs from a source checkout (an editable install), in that checkout.
    checkout = Path(__file__).resolve().parents[2]
    roots = [Path.cwd(), *([checkout] if (checkout / "pyproject.toml").is_file() else [])]
    for root in dict.fromkeys(roots):
        path = root / "evals" / value / "suite.toml"
        if path.is_file():
            return path, root
    looked = " and ".join(str(root) for root in dict.fromkeys(roots))
    raise EvalError(
        f"no suite named {value!r}: looked for evals/{value}/suite.toml in {looked}; suites live in evals/ "
        "of a qa source checkout, so run from one or pass --suite PATH/TO/suite.toml"
    )


def check_writable(path: Path, option: str) -> None:
    """Fail now (exit 2) if `path` cannot be written, rather than after every case has run and been paid for."""
    if path.is_dir():
        raise click.BadParameter(f"cannot write {path}: it is a folder", param_hint=f"'{option}'")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint=f"'{option}'") from None


def _interrupted_message(state: CliState, log_path: Path, total: int) -> str:
    """How many cases the log keeps, and the command that resumes the run."""
    from qa.cli.argv import qa_command
    from qa.errors import EvalError
    from qa.evals.log import read_log

    try:
        logged = len(read_log(log_path).records)
    except EvalError:  # interrupted before the header was written
        logged = 0
    named = any(arg == "--log" or arg.startswith("--log=") for arg in state.argv)
    command = qa_command(state.argv, append=() if named else ("--log", str(log_path)))
    return f"{logged} of {total} cases are in the run log {log_path}; resume with: {command}"


def _chosen(state: CliState, name: str) -> bool:
    """Whether the user chose this setting (`--backend`, QA_BACKEND, ...), rather than leaving it to `auto`/the default."""
    import os

    value = state.overrides.get(name) or os.environ.get(f"QA_{name.upper()}", "").strip()
    return bool(value) and value != "auto"


def _harness_message(run: EvalRun, hint: str, mismatch: str | None) -> str:
    """What stderr says when cases hit harness errors: how many, whether replay missed, the first."""
    errors = run.harness_errors
    first = errors[0]
    assert first.error is not None
    lines = [f"{len(errors)} case(s) hit a harness error, so the metrics cannot be trusted (exit 6)."]
    if any(r.error is not None and r.error.type == "ReplayMissError" for r in errors):
        if mismatch:
            lines.append(f"The replay missed because {mismatch}.")
        lines.append(
            f"A replay miss means a request has no recording (a prompt, the model or the code changed): re-record with `{hint}`."
        )
    lines.append(f"First: {first.case_id}: {first.error.type}: {first.error.message}")
    return "\n".join(lines)


@click.command("eval")
@click.option(
    "--suite",
    "suite_name",
    default="seed",
    show_default=True,
    metavar="NAME|PATH",
    help="A suite name (evals/NAME/suite.toml) or a suite.toml path.",
)
@click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True, help="Run every case N times.")
@click.option("--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Cases run at once.")
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Run log (JSONL); an existing log is resumed (cases that ended in a harness error run again). "
    "Default: evals/runs/<suite>-<UTC time>.jsonl.",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH.md",
    help="Write a Markdown report with per-case evidence.",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH.xml",
    help="Write JUnit XML: one testcase per case.",
)
@click.option("--check", is_flag=True, help="Gate: exit 7 below a threshold or on a regression against the baseline.")
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Baseline file (default: evals/baselines/<suite>.json).",
)
@click.option("--update-baseline", is_flag=True, help="Write this run's metrics and verdicts as the baseline.")
@click.option(
    "--compare",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="RUN_A RUN_B",
    help="Compare two run logs instead of running (with --check: exit 7 on a regression).",
)
@click.option(
    "--judge", is_flag=True, help="Ask a model judge about summary sentences the deterministic check cannot decide."
)
@click.pass_obj
def eval_cmd(
    state: CliState,
    suite_name: str,
    repeats: int,
    concurrency: int,
    log_path: Path | None,
    report_path: Path | None,
    junit_path: Path | None,
    check: bool,
    baseline_path: Path | None,
    update_baseline: bool,
    compare: tuple[Path, Path] | None,
    judge: bool,
) -> int:
    """Run the eval suite and compare it with the baseline.

    Every question and one summary per repeat run against the backend (or its recordings:
    `qa --record-mode replay eval --check` needs no model and no network). Each finished
    case is appended to the run log; an existing --log is resumed, and its cases that
    ended in a harness error (a server error after the retries, a replay miss) run again.
    Ctrl-C prints the log and the command that resumes it.

    Exit codes: 0 pass; 2 a bad option or an output path that cannot be written (checked
    before the first case); 6 the harness failed (a bad suite or baseline, a replay miss,
    an unexpected exception); 7 with --check, a metric below its threshold in suite.toml
    or a case correct in the baseline that is not now; 130 interrupted.
    """
    from qa.cli.argv import group_arguments, qa_command
    from qa.evals import gate as gating
    from qa.evals import load_suite, report
    from qa.evals.log import read_log
    from qa.evals.runner import match_recordings, plan_cases, run_suite
    from qa.settings import Settings

    if compare:
        comparison = gating.compare_logs(*compare)
        click.echo(report.comparison_markdown(comparison), nl=False)
        return gating.EXIT_GATE if check and comparison.regressions else 0
    suite_path, root = resolve_suite(suite_name)
    suite = load_suite(suite_path)
    overrides = dict(state.overrides)
    overrides["recordings"] = overrides.get("recordings") or root / "evals" / "recordings" / suite.name
    settings = Settings.load(**overrides)
    choice = match_recordings(settings, chose_backend=_chosen(state, "backend"), chose_model=_chosen(state, "model"))
    settings = choice.settings
    if choice.note:
        click.echo(f"qa: {choice.note}", err=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = log_path or root / "evals" / "runs" / f"{suite.name}-{stamp}.jsonl"
    named_baseline = baseline_path is not None
    baseline_path = baseline_path or root / "evals" / "baselines" / f"{suite.name}.json"
    again = [
        "eval",
        "--suite",
        suite_name,
        *(["--repeats", str(repeats)] if repeats > 1 else []),
        *(["--judge"] if judge else []),
    ]
    hint = qa_command([*group_arguments(state.argv), *again], record_mode="record", group_options=choice.options)
    # Everything that can fail without a model call fails before the first one.
    if settings.record_mode == "replay":
        from qa.recording import check_replay_folder

        check_replay_folder(settings.recordings, hint)
    elif settings.record_mode in ("record", "auto"):
        from qa.evals.judge import judge_recordings
        from qa.recording import ensure_writable

        for folder in (settings.recordings, *([judge_recordings(settings.recordings)] if judge else [])):
            ensure_writable(folder)
    for path, option in ((log_path, "--log"), (report_path, "--report"), (junit_path, "--junit")):
        if path is not None:
            check_writable(path, option)
    if update_baseline:
        check_writable(baseline_path, "--baseline")
    baseline = None
    if check:
        if named_baseline and not baseline_path.exists() and not update_baseline:
            raise click.BadParameter(f"{baseline_path} does not exist", param_hint="'--baseline'")
        baseline = gating.load_baseline(baseline_path)
        gating.check_threshold_names(suite.thresholds)

    total = len(plan_cases(suite, repeats))
    done = len(read_log(log_path).records) if log_path.exists() and log_path.stat().st_size else 0
    try:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            with Progress(console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task(f"qa eval {suite.name}", total=total, completed=min(done, total))
                run = asyncio.run(run_suite(
                    suite, settings, repeats=repeats, concurrency=concurrency, log_path=log_path, judge=judge,
                    on_case=lambda _: progress.advance(task), rerecord_hint=hint,
                ))  # fmt: skip
        else:
            run = asyncio.run(run_suite(
                suite, settings, repeats=repeats, concurrency=concurrency, log_path=log_path, judge=judge, rerecord_hint=hint
            ))  # fmt: skip
    except KeyboardInterrupt:
        click.echo(f"qa: interrupted: {_interrupted_message(state, log_path, total)}", err=True)
        return 130

    result = None
    if check:
        result = gating.check_run(run, suite.thresholds, baseline, str(baseline_path))
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(report.markdown_report(run, result), encoding="utf-8")
    if junit_path:
        junit_path.parent.mkdir(parents=True, exist_ok=True)
        junit_path.write_text(report.junit_xml(run), encoding="utf-8")
    report.print_table(run, result, sys.stdout, terminal=sys.stdout.isatty())
    if run.not_recorded:
        shown = ", ".join(run.not_recorded[:10]) + (", ..." if len(run.not_recorded) > 10 else "")
        click.echo(
            f"qa: {len(run.not_recorded)} case(s) ended in an error, so their replies were not recorded "
            f"(a reply the run rejected is never stored); a replay of this suite will miss them: {shown}",
            err=True,
        )
    if run.harness_errors:
        click.echo(f"qa: error: {_harness_message(run, hint, None if choice.options else choice.note)}", err=True)
        return gating.EXIT_HARNESS
    if update_baseline:
        written = gating.write_baseline(gating.baseline_from_run(run), baseline_path)
        click.echo(f"baseline written: {written}", err=True)
    return result.exit_code if result is not None else 0

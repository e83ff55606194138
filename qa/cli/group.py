"""The `qa` command group's machinery: lazy subcommands, shared state, errors to exit codes.

`QAGroup` is the click group behind `qa`. It lists `LAZY_COMMANDS` in `qa --help` without
importing them, imports one only when it is invoked (a missing module becomes "not
available yet", exit 6), and turns every outcome into an exit status: a `QAError` is one
line `qa: error: <message>` on stderr and its `exit_code`; a click usage error is one
line and exit 2; Ctrl-C is exit 130; anything else is exit 1 with a hint to rerun with
--verbose, which shows the traceback. A command that succeeded but whose result could not
be recorded (record mode; the result is shown all the same) exits 5, saying why.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from qa.errors import EvalError, QAError, RecordingError

if TYPE_CHECKING:
    from qa.settings import Settings

__all__ = ["LAZY_COMMANDS", "CliState", "QAGroup", "recording", "verbose_logging"]

log = logging.getLogger("qa")

LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute holding the click command, short help shown by `qa --help`)
    "eval": ("qa.cli.eval_cmd", "eval_cmd", "Run the eval suite and compare it with the baseline."),
    "models": ("qa.cli.models_cmd", "models_cmd", "List, verify or download the embedded models."),
    "run": ("qa.cli.run_cmd", "run_cmd", "Run a task over a corpus of articles: summaries or answers, as JSONL."),
}
"""Commands imported only when invoked. To add one, add a line here; nothing else changes."""


@dataclass
class CliState:
    """What the group options decided, handed to every command as `ctx.obj`."""

    overrides: dict[str, Any] = field(default_factory=dict)
    verbose: bool = False
    argv: list[str] = field(default_factory=list)
    """The arguments `qa` was given, for the commands it prints (re-record, resume): see `qa.cli.argv`."""

    def settings(self) -> Settings:
        """`qa.Settings` from the group options over the environment (ConfigError if invalid)."""
        from qa.settings import Settings

        settings = Settings.load(**self.overrides)
        log.info("settings: %s, record mode %s", settings.describe(), settings.record_mode)
        if settings.record_mode == "replay" and self.argv and not settings.rerecord_hint:  # keep QA_RERECORD_HINT
            from qa.cli.argv import qa_command

            settings = settings.model_copy(update={"rerecord_hint": qa_command(self.argv, record_mode="record")})
        return settings


def recording(settings: Settings) -> AbstractContextManager[object]:
    """Around a command's (or a chat turn's) model calls: in record and auto modes, check
    first that the recordings folder can be written (no paid call is made otherwise), and
    keep the replies only if the command ends with a result (`qa.recording.operation`)."""
    if settings.record_mode not in ("record", "auto"):
        return nullcontext()
    from qa.recording import ensure_writable, recorded_operation

    ensure_writable(settings.recordings)
    return recorded_operation(process_wide=True)


def _unrecorded(code: int) -> int:
    """Say which results were shown but could not be recorded; exit 5 if nothing else failed."""
    if "qa.recording.operation" not in sys.modules:  # nothing was recorded: don't import it
        return code
    from qa.recording import take_unrecorded

    failures = take_unrecorded()
    if not failures:
        return code
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    click.echo(f"qa: error: the result above was not recorded: {failures[0]}{more}", err=True)
    return code or RecordingError.exit_code


class QAGroup(click.Group):
    """A click group that loads `LAZY_COMMANDS` on demand and maps errors to exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, _ = LAZY_COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return _not_available(cmd_name)
        command = getattr(module, attribute, None)
        if not isinstance(command, click.Command):
            raise click.ClickException(f"{module_name} must define a click command named {attribute!r}")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands; lazy ones show their stub help, without being imported."""
        rows = []
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS:
                rows.append((name, LAZY_COMMANDS[name][2]))
            elif (command := self.commands.get(name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    # click overloads main on standalone_mode (NoReturn when True); this one takes it through **extra
    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        """Run the CLI and exit with the status the outcome calls for (see the module docstring)."""
        standalone = extra.pop("standalone_mode", True)
        state = extra.pop("obj", None) or CliState()
        state.argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(args, prog_name or "qa", standalone_mode=False, obj=state, **extra)
            code = _unrecorded(result if isinstance(result, int) else 0)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click.Abort:
            click.echo("qa: interrupted", err=True)
            code = 130
        except click.ClickException as exc:
            code = _report_click_error(exc, state.argv)
        except QAError as exc:
            if state.verbose:
                traceback.print_exc()
            first, _, rest = str(exc).partition("\n")
            click.echo(f"qa: error: {first}" + (f"\n{rest}" if rest else ""), err=True)
            code = exc.exit_code
        except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback unless asked
            if state.verbose:
                traceback.print_exc()
                click.echo(f"qa: error: unexpected {type(exc).__name__}: {exc}", err=True)
            else:
                click.echo(
                    f"qa: error: unexpected {type(exc).__name__}: {exc} (rerun with --verbose to see the traceback)",
                    err=True,
                )
            code = 1
        if not standalone:
            return code
        sys.exit(code)


def _report_click_error(exc: click.ClickException, argv: Sequence[str]) -> int:
    hint = ""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        misplaced = _misplaced_group_option(exc, argv)
        if misplaced:
            click.echo(f"qa: error: {misplaced}", err=True)
            return exc.exit_code
        hint = f" (see '{exc.ctx.command_path} --help')"
    click.echo(f"qa: error: {exc.format_message()}{hint}", err=True)
    return exc.exit_code


def _misplaced_group_option(exc: click.UsageError, argv: Sequence[str]) -> str | None:
    """For `qa ask --backend X ...`: the same command with the option where it belongs."""
    if not isinstance(exc, click.NoSuchOption) or exc.ctx is None or exc.ctx.parent is None:
        return None
    group = exc.ctx.parent.command
    param = next((p for p in group.params if exc.option_name in p.opts), None)
    if param is None:
        return None
    from qa.cli.argv import qa_command

    rest = list(argv)
    at = next((i for i, a in enumerate(rest) if a == exc.option_name or a.startswith(exc.option_name + "=")), None)
    if at is None:
        return None
    takes_value = isinstance(param, click.Option) and not param.is_flag and "=" not in rest[at]
    moved = rest[at : at + (2 if takes_value else 1)]
    del rest[at : at + len(moved)]
    return f"{exc.option_name} is an option of qa itself, so put it before the command: {qa_command([*moved, *rest])}"


def _not_available(name: str) -> click.Command:
    def unavailable() -> None:
        raise EvalError(f"`qa {name}` is not available yet in this version of qa")

    return click.Command(
        name,
        callback=unavailable,
        help=LAZY_COMMANDS[name][2],
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )


def verbose_logging(ctx: click.Context) -> None:
    """Log `qa`'s INFO messages (backend, model, settings) to stderr until the command ends."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("qa: %(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    def restore() -> None:
        log.removeHandler(handler)
        log.setLevel(level)

    ctx.call_on_close(restore)

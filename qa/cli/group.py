"""The `qa` command group's machinery: lazy subcommands, shared state, errors to exit codes.

`QAGroup` is the click group behind `qa`. It lists `LAZY_COMMANDS` in `qa --help` without
importing them, imports one only when it is invoked (a missing module becomes "not
available yet", exit 6), and turns every outcome into an exit status: a `QAError` is one
line `qa: error: <message>` on stderr and its `exit_code`; a click usage error is one
line and exit 2; Ctrl-C is exit 130; anything else is exit 1 with a hint to rerun with
--verbose, which shows the traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from qa.errors import EvalError, QAError

if TYPE_CHECKING:
    from qa.settings import Settings

__all__ = ["LAZY_COMMANDS", "CliState", "QAGroup", "verbose_logging"]

log = logging.getLogger("qa")

LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute holding the click command, short help shown by `qa --help`)
    "eval": ("qa.cli.eval_cmd", "eval_cmd", "Run the eval suite and compare it with the baseline."),
    "run": ("qa.cli.run_cmd", "run_cmd", "Run a task over a corpus of articles: summaries or answers, as JSONL."),
}
"""Commands imported only when invoked. To add one, add a line here; nothing else changes."""


@dataclass
class CliState:
    """What the group options decided, handed to every command as `ctx.obj`."""

    overrides: dict[str, Any] = field(default_factory=dict)
    verbose: bool = False

    def settings(self) -> Settings:
        """`qa.Settings` from the group options over the environment (ConfigError if invalid)."""
        from qa.settings import Settings

        settings = Settings.load(**self.overrides)
        log.info("settings: %s, record mode %s", settings.describe(), settings.record_mode)
        return settings


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

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        """Run the CLI and exit with the status the outcome calls for (see the module docstring)."""
        standalone = extra.pop("standalone_mode", True)
        state = extra.pop("obj", None) or CliState()
        try:
            result = super().main(args, prog_name or "qa", standalone_mode=False, obj=state, **extra)
            code = result if isinstance(result, int) else 0
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = exc.exit_code
        except click.Abort:
            click.echo("qa: interrupted", err=True)
            code = 130
        except click.ClickException as exc:
            code = _report_click_error(exc)
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


def _report_click_error(exc: click.ClickException) -> int:
    hint = ""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        hint = f" (see '{exc.ctx.command_path} --help')"
    click.echo(f"qa: error: {exc.format_message()}{hint}", err=True)
    return exc.exit_code


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

"""The command lines `qa` prints for the user to run: re-record this, resume that.

Built from the arguments this very process was given, so they are exact: a URL in them is
shown without credentials (`qa.settings.redact_url`), and `--record-mode` is set where the
group options go (before the subcommand), where it wins over QA_RECORD_MODE.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

__all__ = ["group_arguments", "qa_command"]


_GROUP_VALUE_OPTIONS = ("--backend", "--model", "--base-url", "--record-mode", "--recordings")


def _split(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the group options, the subcommand and what follows it)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GROUP_VALUE_OPTIONS:
            i += 2
        elif arg.startswith(tuple(o + "=" for o in _GROUP_VALUE_OPTIONS)) or arg in ("-v", "--verbose"):
            i += 1
        else:
            break
    return list(argv[:i]), list(argv[i:])


def group_arguments(argv: Sequence[str]) -> list[str]:
    """The group options at the front of `argv` (`--backend X`, `--recordings DIR`, ...), before the subcommand."""
    return _split(argv)[0]


def _without(argv: Sequence[str], option: str) -> list[str]:
    """`argv` without `option VALUE` and `option=VALUE`."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def _shown(arg: str) -> str:
    if "://" not in arg:
        return arg
    from qa.settings import redact_url

    name, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    return f"{name}{eq}{redact_url(value)}"


def qa_command(
    argv: Sequence[str],
    *,
    record_mode: str | None = None,
    group_options: Sequence[str] = (),
    append: Sequence[str] = (),
) -> str:
    """`qa ARGV` as one shell-quoted line.

    `record_mode` replaces any `--record-mode` given; `group_options` (e.g. `--backend X`)
    replace the same options in `argv` and go before the subcommand; `append` is added
    at the end. URLs are redacted.
    """
    given, rest = _split(argv)
    front = list(group_options)
    for option in front[::2]:
        given = _without(given, option)
    if record_mode is not None:
        given = _without(given, "--record-mode")
        front += ["--record-mode", record_mode]
    return shlex.join(["qa", *front, *(_shown(a) for a in [*given, *rest, *append])])

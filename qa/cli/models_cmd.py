"""`qa models`: list, verify and download the embedded models of the registry.

    qa models list [--json]           # name, size, licence, installed, verified, path; * marks the default
    qa models verify [NAME] [--json]  # re-hash in full; exit 4 on a mismatch
    qa models pull NAME               # the official GGUF from the Hugging Face Hub, checked, into the cache

The work is done by `qa.backends.embedded` (registry, inventory, pull); this module parses and prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from qa.backends.embedded import ModelEntry

__all__ = ["models_cmd"]


def _entry(name: str) -> ModelEntry:
    from qa.backends.embedded import MODELS, find_model

    entry = find_model(name)
    if entry is None:
        raise click.BadParameter(f"no model named {name!r}; known: {', '.join(MODELS)}", param_hint="NAME")
    return entry


@click.group("models")
def models_cmd() -> None:
    """List, verify or download the embedded models (QA_LOCAL_MODEL takes a NAME or a .gguf path)."""


@models_cmd.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of ModelStatus objects.")
def models_list(as_json: bool) -> None:
    """List the models qa knows, whether each is installed and verified, and where it is."""
    from qa.backends.embedded import model_statuses
    from qa.cli.render import Printer

    statuses = model_statuses()
    if as_json:
        Printer().json("[" + ",".join(s.model_dump_json() for s in statuses) + "]")
        return
    rows = [
        "| | name | size | licence | installed | verified | path |",
        "|---|---|---|---|---|---|---|",
    ]
    notes = []
    for s in statuses:
        rows.append(
            f"| {'*' if s.default else ''} | {s.name} | {s.size / 1e6:.0f} MB | {s.licence} "
            f"| {'yes' if s.installed else 'no'} | {'yes' if s.verified else 'no'} | {s.path or '-'} |"
        )
        if not s.verified:
            notes.append(f"- {s.name}: {s.note}")
    text = "\n".join(rows) + "\n\n`*` marks the default model, used when QA_LOCAL_MODEL is not set.\n"
    Printer().markdown(text + ("\n" + "\n".join(notes) + "\n" if notes else ""))


@models_cmd.command("verify")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of VerifyResult objects.")
def models_verify(name: str | None, as_json: bool) -> None:
    """Re-hash each installed model's file (or NAME's) against its pinned sha256.

    A cached file that does not match is deleted (the next use rebuilds it). Exits 4 when a
    file does not match, or when NAME has no file to verify.
    """
    from qa.backends.embedded import MODELS, verify_model
    from qa.cli.render import Printer
    from qa.errors import BackendUnavailableError, ModelIntegrityError

    entries = [_entry(name)] if name else list(MODELS.values())
    results = [verify_model(entry) for entry in entries]
    printer = Printer()
    if as_json:
        printer.json("[" + ",".join(r.model_dump_json() for r in results) + "]")
    else:
        lines = []
        for r in results:
            if r.ok is None:
                lines.append(f"- {r.name}: nothing to verify ({r.note})")
            elif r.ok:
                lines.append(f"- {r.name}: ok, sha256 {r.actual} ({r.path})")
            else:
                lines.append(f"- {r.name}: MISMATCH at {r.path}: sha256 {r.actual}, expected {r.expected}; {r.note}")
        printer.markdown("\n".join(lines) + "\n")
    bad = [r for r in results if r.ok is False]
    if bad:
        raise ModelIntegrityError(f"{', '.join(r.name for r in bad)}: sha256 does not match the pin")
    if name and results[0].ok is None:
        raise BackendUnavailableError(f"{name}: nothing to verify ({results[0].note})")


@models_cmd.command("pull")
@click.argument("name")
def models_pull(name: str) -> None:
    """Download NAME's official GGUF from the Hugging Face Hub into the model cache.

    The file's sha256 is checked against the Hub's LFS metadata and qa's pin; an
    interrupted download resumes when the command is run again. HF_ENDPOINT and HF_TOKEN
    are honoured.
    """
    from qa.backends.embedded import pull_model
    from qa.cli.render import Printer

    path = pull_model(_entry(name))
    printer = Printer()
    printer.note(f"qa: {name} is installed and verified; use it with QA_LOCAL_MODEL={name}")
    printer.line(str(path))

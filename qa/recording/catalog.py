"""What `qa recordings` reports: each recording's provenance, and whether it is used or stale.

`used` comes from the `.last-run-used.json` log the last run wrote (False for every
recording when there is no log); `stale` means the recording's prompt version differs from
the current version of that prompt. `prune_unused` deletes recordings the last run did not
use, and refuses when there is no log to go by. `recorded_origins` says which backends and
models a folder's recordings were made with, so a replay can use the same.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from qa.errors import RecordingError
from qa.recording.entry import is_entry_file, load_entry
from qa.recording.store import USAGE_LOG_NAME, read_usage_log

__all__ = ["RecordingInfo", "list_recordings", "prune_unused", "recorded_origins"]


class RecordingInfo(BaseModel):
    """One recording, as `qa recordings` lists it."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    key: str
    """Full request key."""
    file: Path
    """The recording file."""
    prompt: str | None
    """Prompt template name, if the request named one."""
    prompt_version: str | None
    """Prompt version it was recorded with."""
    model: str | None
    """Model named in the request."""
    recorded_at: str
    """When it was recorded (UTC, ISO 8601)."""
    used: bool
    """Whether the last run used it (False when no run has written a usage log)."""
    stale: bool
    """Whether its prompt version differs from the prompt's current version."""


def _entry_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_entry_file(p.name))


def list_recordings(
    folder: str | os.PathLike[str], current_versions: Mapping[str, str] | None = None
) -> list[RecordingInfo]:
    """List the recordings in `folder`, sorted by file name.

    `current_versions` maps prompt names to their current versions; a prompt missing
    from it is never reported stale. Raises `RecordingCorruptError` for an unreadable file.
    """
    root = Path(folder)
    used = read_usage_log(root) or set()
    versions = current_versions or {}
    infos = []
    for path in _entry_files(root):
        entry = load_entry(path)
        meta = entry.meta
        current = versions.get(meta.prompt) if meta.prompt else None
        infos.append(
            RecordingInfo(
                key=entry.key,
                file=path,
                prompt=meta.prompt,
                prompt_version=meta.prompt_version,
                model=meta.model,
                recorded_at=meta.recorded_at,
                used=entry.key in used,
                stale=current is not None and meta.prompt_version != current,
            )
        )
    return infos


def prune_unused(folder: str | os.PathLike[str], dry_run: bool) -> list[Path]:
    """Delete (or, with `dry_run`, only list) recordings the last run did not use.

    Raises `RecordingError` when the folder has no usage log: without one, every
    recording would look unused.
    """
    root = Path(folder)
    used = read_usage_log(root)
    if used is None:
        raise RecordingError(
            f"cannot prune {root}: it has no {USAGE_LOG_NAME}; run the suite once (in replay or auto mode) "
            "so that it records which recordings it uses"
        )
    prefixes = {key[:16] for key in used}
    unused = [path for path in _entry_files(root) if path.stem not in prefixes]
    if not dry_run:
        for path in unused:
            path.unlink()
    return unused


def recorded_origins(folder: str | os.PathLike[str]) -> Counter[tuple[str, str]]:
    """(backend, model) -> how many recordings in `folder` were made with them.

    Read from each entry's `meta` (the `x-qa-backend` header and the body's `model`);
    entries that name neither, or cannot be read, are left out (replay reports them).
    """
    origins: Counter[tuple[str, str]] = Counter()
    for path in _entry_files(Path(folder)):
        try:
            meta = json.loads(path.read_bytes()).get("meta") or {}
        except (OSError, ValueError, AttributeError):
            continue
        backend, model = meta.get("backend"), meta.get("model")
        if isinstance(backend, str) and isinstance(model, str):
            origins[(backend, model)] += 1
    return origins

"""Explain a replay miss: the nearest recording, a field-level diff, and how to re-record.

Bodies are flattened to leaf paths (`messages[0].content`, `temperature`); the nearest
recording is the one with the same method and path whose body differs in the fewest
leaves. Strings in the diff are cut to a window around their first differing character.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qa.recording.entry import VOLATILE_FIELDS
from qa.recording.store import RecordedRequestSummary

__all__ = ["DEFAULT_RERECORD_HINT", "MAX_DIFF_LINES", "body_diff", "flatten", "miss_report"]

MAX_DIFF_LINES = 10
"""At most this many diff lines in a miss message (the last may say how many more)."""

DEFAULT_RERECORD_HINT = (
    "run it again with record mode 'auto' or 'record' (the record_mode setting or qa's --record-mode flag; "
    "QA_RECORD_MODE only counts when neither is given)"
)
"""What a miss tells the user when the caller gave no exact re-record command (the `qa`
command line always gives one: see `qa.cli.argv`)."""

_ABSENT = object()
_BEFORE = 20  # characters of context kept before the first difference
_AFTER = 40  # characters kept from the first difference on


def _strip_volatile(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in VOLATILE_FIELDS}
    return body


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Map each leaf of a JSON value to its path; empty containers are leaves too."""
    leaves: dict[str, Any] = {}
    if isinstance(value, dict) and value:
        for key, item in value.items():
            leaves.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            leaves.update(flatten(item, f"{prefix}[{index}]"))
    else:
        leaves[prefix or "(body)"] = value
    return leaves


def _show(value: Any, start: int = 0, stop: int | None = None) -> str:
    if value is _ABSENT:
        return "(absent)"
    if not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    stop = len(value) if stop is None else min(stop, len(value))
    inner = json.dumps(value[start:stop], ensure_ascii=False)[1:-1]
    return f'"{"…" if start > 0 else ""}{inner}{"…" if stop < len(value) else ""}"'


def _line(path: str, old: Any, new: Any) -> str:
    if isinstance(old, str) and isinstance(new, str):
        first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        start = max(0, first - _BEFORE)
        return f"{path}: {_show(old, start, first + _AFTER)} -> {_show(new, start, first + _AFTER)}"
    return f"{path}: {_show(old)} -> {_show(new)}"


def body_diff(recorded: Any, current: Any) -> list[str]:
    """Return one line per differing leaf, `path: recorded -> now`, volatile fields ignored."""
    old = flatten(_strip_volatile(recorded))
    new = flatten(_strip_volatile(current))
    paths = list(new) + [p for p in old if p not in new]
    return [
        _line(p, old.get(p, _ABSENT), new.get(p, _ABSENT)) for p in paths if old.get(p, _ABSENT) != new.get(p, _ABSENT)
    ]


def _nearest(
    method: str, path: str, body: Any, prompt: str | None, recorded: Sequence[RecordedRequestSummary]
) -> tuple[RecordedRequestSummary, list[str]] | None:
    best: tuple[tuple[int, bool, str], RecordedRequestSummary, list[str]] | None = None
    for candidate in recorded:
        if candidate.method != method or candidate.path != path:
            continue
        lines = body_diff(candidate.body, body)
        rank = (len(lines), candidate.prompt != prompt, candidate.file.name)
        if best is None or rank < best[0]:
            best = (rank, candidate, lines)
    return None if best is None else (best[1], best[2])


def _other_origin(backend: str | None, model: Any, recorded: Sequence[RecordedRequestSummary]) -> str | None:
    """A line naming the recordings' backend and model, when this request's are not among them."""
    origins = {(r.backend, r.model) for r in recorded if r.backend and r.model}
    if not origins or not backend or not isinstance(model, str) or (backend, model) in origins:
        return None
    theirs = sorted(origins)
    made = "; ".join(f"backend {b}, model {m}" for b, m in theirs)
    b, m = theirs[0]
    return (
        f"These recordings were made with {made}, not backend {backend}, model {model}: "
        f"to replay them, put `--backend {b} --model {m}` first (qa --backend {b} --model {m} ...)."
    )


def miss_report(
    *,
    method: str,
    path: str,
    body: Any,
    prompt: str | None,
    prompt_version: str | None,
    folder: Path,
    recorded: Sequence[RecordedRequestSummary],
    rerecord_hint: str,
    backend: str | None = None,
) -> tuple[str, list[str]]:
    """Build a replay miss message and its diff lines (at most `MAX_DIFF_LINES`).

    `backend` is the request's backend (its `x-qa-backend` header): when no recording was
    made with that backend and the body's model, the message names theirs and the options
    that select them, since re-recording would call another (maybe paid) backend.
    """
    name = f"prompt '{prompt}'" if prompt else "unknown prompt"
    version = f" version {prompt_version}" if prompt_version else ""
    parts = [f"replay miss: no recording of {method} {path} for {name}{version} in {folder}."]
    other = _other_origin(backend, body.get("model") if isinstance(body, dict) else None, recorded)
    if other:
        parts.append(other)
    diff: list[str] = []
    found = _nearest(method, path, body, prompt, recorded)
    if found is None:
        parts.append(f"No recording in that folder has the same method and path ({len(recorded)} in all).")
    else:
        nearest, lines = found
        if nearest.prompt and prompt and nearest.prompt != prompt:
            parts.append(f"The nearest recording is of another prompt, '{nearest.prompt}'.")
        elif nearest.prompt_version and prompt_version and nearest.prompt_version != prompt_version:
            who = prompt or nearest.prompt
            parts.append(f"prompt '{who}' changed from version {nearest.prompt_version} to {prompt_version}.")
        if len(lines) > MAX_DIFF_LINES:
            diff = [*lines[: MAX_DIFF_LINES - 1], f"… and {len(lines) - MAX_DIFF_LINES + 1} more differing fields"]
        else:
            diff = lines
        parts.append(f"Nearest recording {nearest.file.name} differs in {len(lines)} field(s) (recorded -> now):")
        parts.extend(f"  {line}" for line in diff)
    parts.append(f"To re-record: {rerecord_hint or DEFAULT_RERECORD_HINT}")
    return "\n".join(parts), diff

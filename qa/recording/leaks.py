"""Refuse to write a recording that holds something that looks like a key.

Every string in an entry (dict keys included) is checked against `SECRET_PATTERNS` and
against the exact values the caller configured; a final pass over the serialised text
catches anything that spans fields. A hit raises `SecretLeakError` naming the field, with
the secret shown redacted (`sk-…abcd`), never in full.

A pattern hit that is also in `allowed` (the texts the request itself sent: an article
that reports a leaked `sk-...` string, and the answer quoting it) is the user's text, not
a key of ours, and passes. The configured key is refused wherever it appears.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from qa.errors import SecretLeakError

__all__ = ["MIN_SECRET_LENGTH", "SECRET_PATTERNS", "check_for_secrets", "redact"]

SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an OpenAI-style key", re.compile(r"(sk-[A-Za-z0-9_-]{16,})")),
    # A token charset and length, so prose such as "Bearer certificates" in an article passes.
    ("a bearer token", re.compile(r"Bearer\s+([A-Za-z0-9._~+/-]*[0-9_~+/-][A-Za-z0-9._~+/-]*=*)(?<=\S{20})")),
    ("an API key assignment", re.compile(r"(?i)api[_-]?key\"?\s*[:=]\s*\"?([A-Za-z0-9_-]{16,})")),
)
"""(description, pattern) pairs; group 1 of each pattern is the secret itself."""

MIN_SECRET_LENGTH = 8
"""Configured secrets shorter than this are ignored: placeholders such as "EMPTY" or
"none" that local servers accept would otherwise match ordinary text."""


def redact(secret: str) -> str:
    """Show a secret the safe way: its first 3 and last 4 characters, e.g. `sk-…abcd`."""
    if len(secret) < 12:
        return "…"
    return f"{secret[:3]}…{secret[-4:]}"


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Yield (field path, text) for every string in a JSON value, keys included.

    A dict item with a string value is also yielded as its JSON text (`"k": "v"`), so
    patterns that span a key and its value (`api_key: ...`) are seen.
    """
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            if isinstance(item, str):
                yield child, json.dumps({key: item}, ensure_ascii=False)
            yield from _strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _find(text: str, secrets: Sequence[str], allowed: Sequence[str] = ()) -> tuple[str, str] | None:
    """Return (description, secret) for the first secret-looking thing in `text` that is not in `allowed`."""
    for secret in secrets:
        if secret in text:
            return "the configured API key", secret
    for description, pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            if not any(match.group(1) in quoted for quoted in allowed):
                return description, match.group(1)
    return None


def check_for_secrets(
    data: Any, serialised: str, secrets: Sequence[str], *, where: str, allowed: Sequence[str] = ()
) -> None:
    """Raise `SecretLeakError` if `data` (or its serialised form) holds a secret.

    `data` is the entry as plain JSON data, `serialised` the exact text about to be
    written, `secrets` the exact values to refuse (short ones are ignored, see
    `MIN_SECRET_LENGTH`), `where` the file the write was going to, `allowed` texts whose
    key-looking strings are not secrets (see the module docstring).
    """
    wanted = [s for s in secrets if len(s) >= MIN_SECRET_LENGTH]
    for field, text in _strings(data, ""):
        found = _find(text, wanted, allowed)
        if found:
            _refuse(where, field, *found)
    found = _find(serialised, wanted, allowed)
    if found:
        _refuse(where, "(serialised entry)", *found)


def _refuse(where: str, field: str, description: str, secret: str) -> None:
    raise SecretLeakError(
        f"refused to write recording {where}: field {field} contains {description} "
        f"({redact(secret)}); nothing was written. Remove it from the prompt or response, "
        "or record against a server that does not echo keys."
    )

"""What `qa models list` and `qa models verify` report: each registry model's state on disk.

`model_statuses()` looks without hashing or building anything (a stat and a receipt read
per model). `verify_model(entry)` re-hashes the model's file in full: a match renews its
receipt; a mismatch voids it and deletes the file when it is in qa's cache (a file in
site-packages is left to pip: the result says how to reinstall it).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from qa.backends.embedded import store
from qa.backends.embedded.assemble import PartLocator, PartMissing, is_trusted, locate_part, model_file
from qa.backends.embedded.registry import DEFAULT_MODEL, MODELS, ModelEntry
from qa.errors import ModelIntegrityError

__all__ = ["ModelStatus", "VerifyResult", "model_status", "model_statuses", "verify_model"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ModelStatus(_Data):
    """One registry model as it is on this machine now."""

    name: str
    """The registry name (`QA_LOCAL_MODEL` value)."""
    request_name: str
    """The model name in requests and recordings."""
    default: bool
    """True for `qa.backends.embedded.registry.DEFAULT_MODEL`."""
    size: int
    """Size of the GGUF file in bytes."""
    licence: str
    """SPDX identifier of the weights' licence."""
    installed: bool
    """True when the model can be used: its file exists, or all its pip parts are installed."""
    path: str | None
    """The GGUF file, when it exists (None: not installed, or not assembled yet)."""
    verified: bool
    """True when a full sha256 check of that file matched the pin and it has not changed since."""
    note: str
    """What to do next, or where the file came from."""


class VerifyResult(_Data):
    """The outcome of re-hashing one model's file."""

    name: str
    """The registry name."""
    path: str | None
    """The file hashed (None: nothing to verify)."""
    ok: bool | None
    """True: matches the pin; False: it does not; None: no file to verify."""
    expected: str
    """The pinned sha256."""
    actual: str | None
    """The sha256 the file has (None when nothing was hashed)."""
    note: str
    """What was done (receipt renewed, file deleted) or why nothing was."""


def model_status(entry: ModelEntry, locate: PartLocator = locate_part) -> ModelStatus:
    """`entry`'s state on disk, without hashing or building anything."""
    path = model_file(entry, locate)
    verified = path is not None and is_trusted(entry, path)
    parts = _parts_installed(entry, locate)
    if path is not None:
        note = "ready" if verified else "not verified yet: checked on first use, or run `qa models verify`"
    elif parts:
        note = "parts installed: assembled into the cache on first use"
    else:
        note = entry.install_hint()
    return ModelStatus(
        name=entry.name, request_name=entry.request_name, default=entry.name == DEFAULT_MODEL, size=entry.size,
        licence=entry.licence, installed=path is not None or parts, path=str(path) if path is not None else None,
        verified=verified, note=note,
    )  # fmt: skip


def model_statuses(locate: PartLocator = locate_part) -> list[ModelStatus]:
    """Every registry model's state, in registry order."""
    return [model_status(entry, locate) for entry in MODELS.values()]


def verify_model(entry: ModelEntry, locate: PartLocator = locate_part) -> VerifyResult:
    """Re-hash `entry`'s file in full and compare it with the pin (see the module docstring)."""
    path = model_file(entry, locate)
    if path is None:
        why = "parts installed, not assembled yet" if _parts_installed(entry, locate) else "not installed"
        return VerifyResult(name=entry.name, path=None, ok=None, expected=entry.sha256, actual=None, note=why)
    actual = store.sha256_of(path)
    if actual == entry.sha256 and path.stat().st_size == entry.size:
        store.record(entry, path, actual, source=_source(entry, path))
        return VerifyResult(name=entry.name, path=str(path), ok=True, expected=entry.sha256, actual=actual, note="ok")
    store.forget(entry)
    if path.resolve() == store.cached_file(entry).resolve():
        path.unlink(missing_ok=True)
        note = "deleted from the cache; the next use rebuilds it"
    else:
        note = f"left in place; reinstall it with: pip install --force-reinstall {entry.requirements[0]!r}"
    return VerifyResult(name=entry.name, path=str(path), ok=False, expected=entry.sha256, actual=actual, note=note)


def _parts_installed(entry: ModelEntry, locate: PartLocator) -> bool:
    try:
        for part in entry.parts:
            locate(part)
    except (PartMissing, ModelIntegrityError, OSError):  # a part of the wrong size is not the model's
        return False
    return True


def _source(entry: ModelEntry, path: Path) -> str:
    previous = store.read_receipt(entry)
    if previous is not None and Path(previous.path) == path.resolve():
        return previous.source
    return (
        "model cache (re-verified)"
        if path.resolve() == store.cached_file(entry).resolve()
        else f"package {entry.requirements[0]}"
    )

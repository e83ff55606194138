"""The model cache: where assembled and downloaded GGUF files live, and why qa trusts them.

The folder is `$QA_MODEL_CACHE`, else `$XDG_CACHE_HOME/qa/models`, else
`~/.cache/qa/models`. It holds, per registry entry:

    <request_name>.gguf                  the model file (assembled or downloaded)
    <request_name>.gguf.receipt.json     what qa verified: path, size, mtime, sha256, source
    <request_name>.gguf.lock             taken with fcntl.flock while the file is built

A file is trusted only while its receipt matches it: same path, size and modification
time, and a sha256 equal to the registry's pin. Normal loads therefore cost one `stat`,
not a re-hash of 0.5-1 GB; `qa models verify` re-hashes in full. A receipt is written only
after a full hash matched, and only by qa. A model used in place from its pip package
(SmolLM2) gets a receipt here too, naming the file in site-packages.

Writers hold the entry's lock (`locked`), build into a temporary file in this folder and
`os.replace` it into place only after its size and hash matched, so a reader never sees a
partial file under the final name, and two processes never build the same file at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from qa.errors import ModelLoadError

if TYPE_CHECKING:
    from qa.backends.embedded.registry import ModelEntry

__all__ = [
    "CACHE_ENV",
    "CHUNK_SIZE",
    "Receipt",
    "cache_dir",
    "cached_file",
    "forget",
    "locked",
    "progress",
    "read_receipt",
    "record",
    "sha256_of",
    "trusted_path",
]

log = logging.getLogger("qa")

CACHE_ENV = "QA_MODEL_CACHE"
CHUNK_SIZE = 1 << 20
"""Bytes read and written at a time: files are streamed, never held in memory whole."""


class Receipt(BaseModel):
    """What qa checked about one model file, kept beside it as `<file>.receipt.json`."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    path: str
    """Absolute path of the file vouched for (the cache file, or a file in site-packages)."""
    size: int
    """Its size in bytes when it was hashed."""
    mtime_ns: int
    """Its modification time (ns) when it was hashed; any change voids the receipt."""
    sha256: str
    """The sha256 the full hash gave (equal to the registry's pin when it was written)."""
    source: str
    """Where the file came from: wheel parts, a package, or a Hub repository and commit."""
    verified_at: str
    """UTC time of the hash, ISO 8601."""


def cache_dir() -> Path:
    """The model cache folder (not created here)."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qa" / "models"


def cached_file(entry: ModelEntry) -> Path:
    """Where the entry's GGUF lives in the cache (whether or not it is there)."""
    return cache_dir() / entry.file_name


def _receipt_path(entry: ModelEntry) -> Path:
    return cache_dir() / f"{entry.file_name}.receipt.json"


def read_receipt(entry: ModelEntry) -> Receipt | None:
    """The entry's receipt, or None when there is none or it cannot be read."""
    try:
        return Receipt.model_validate_json(_receipt_path(entry).read_bytes())
    except (OSError, ValueError, ValidationError):
        return None


def trusted_path(entry: ModelEntry) -> Path | None:
    """The entry's verified file, if its receipt still matches it (one stat, no hashing)."""
    receipt = read_receipt(entry)
    if receipt is None or receipt.sha256 != entry.sha256 or receipt.size != entry.size:
        return None
    path = Path(receipt.path)
    try:
        stat = path.stat()
    except OSError:
        return None
    if stat.st_size != receipt.size or stat.st_mtime_ns != receipt.mtime_ns:
        return None
    return path


def record(entry: ModelEntry, path: Path, sha256: str, source: str) -> None:
    """Write the entry's receipt for `path`, whose full hash just gave `sha256`.

    Written to a temporary file and renamed into place. A cache that cannot be written
    only costs a re-hash next time, so that failure is logged, not raised.
    """
    stat = path.stat()
    receipt = Receipt(
        path=str(path.resolve()), size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha256, source=source,
        verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    target = _receipt_path(entry)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(receipt.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        log.warning("cannot write %s (%s); the model will be hashed again next time", target, exc)


def forget(entry: ModelEntry) -> None:
    """Remove the entry's receipt (its file is no longer trusted)."""
    _receipt_path(entry).unlink(missing_ok=True)


@contextlib.contextmanager
def locked(entry: ModelEntry) -> Iterator[None]:
    """Hold the entry's lock file (fcntl.flock, exclusive) while building its file.

    Blocks while another process holds it; the kernel releases it if that process dies.
    """
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / f"{entry.file_name}.lock").open("a+b")
    except OSError as exc:
        raise ModelLoadError(
            f"cannot use the model cache {folder}: {exc} (set {CACHE_ENV} to a writable folder)"
        ) from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another qa process to finish building %s", entry.file_name)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A byte progress bar on standard error (rich), only when it is a terminal.

    Yields `advance(n_bytes)`; when stderr is not a terminal it does nothing.
    """
    if not _stderr_is_terminal():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def sha256_of(path: Path, description: str = "Checking") -> str:
    """The sha256 (hex) of the file at `path`, read in `CHUNK_SIZE` pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle, progress(f"{description} {path.name}", path.stat().st_size) as advance:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
            advance(len(chunk))
    return digest.hexdigest()

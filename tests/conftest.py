from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

import qa
from qa.text.article import Article

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_db386d23d8a38732.txt"


@pytest.fixture(scope="session")
def seed() -> Article:
    return qa.load_article(SEED)


EMBEDDED_TEST_MODEL = "smollm2-135m"
"""The embedded model the tests use: their own recordings (tests/recordings) were made with it, and it is the fastest."""

SUITE_RECORDINGS_MODEL = "/nonexistent/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
"""The eval suites' recordings (evals/recordings) were made with the default model, Qwen2.5-Coder-1.5B:
a path that names it but does not exist replays them without loading any model (tiktoken counts tokens)."""

_SESSION_ENV = ("QA_LOCAL_MODEL", "QA_MODEL_CACHE")
_saved_env = pytest.StashKey[dict[str, "str | None"]]()


def pytest_configure(config: pytest.Config) -> None:
    """From collection on (some test modules count tokens at import): SmolLM2, and a
    model cache of the session's own, never the developer's."""
    config.stash[_saved_env] = {name: os.environ.get(name) for name in _SESSION_ENV}
    os.environ["QA_LOCAL_MODEL"] = EMBEDDED_TEST_MODEL
    os.environ["QA_MODEL_CACHE"] = tempfile.mkdtemp(prefix="qa-test-model-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ["QA_MODEL_CACHE"], ignore_errors=True)
    for name, value in config.stash[_saved_env].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The session's model cache (set up in `pytest_configure`)."""
    return Path(os.environ["QA_MODEL_CACHE"])


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> None:
    """Tests never see the developer's key, server or models: the environment says nothing.

    The embedded model is SmolLM2 by name (not the registry's default), with its receipt in
    a per-session cache.
    """
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QA_BACKEND", "QA_MODEL", "QA_RECORD_MODE", "QA_RECORDINGS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QA_LOCAL_MODEL", EMBEDDED_TEST_MODEL)
    monkeypatch.setenv("QA_MODEL_CACHE", str(model_cache))


@pytest.fixture(autouse=True)
def _no_stale_unrecorded() -> None:
    """A write failure one test noted (and did not take) must not make a later CLI test exit 5."""
    import sys

    if "qa.recording.operation" in sys.modules:
        sys.modules["qa.recording.operation"].take_unrecorded()

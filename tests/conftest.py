from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.article import Article

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_db386d23d8a38732.txt"


@pytest.fixture(scope="session")
def seed() -> Article:
    return qa.load_article(SEED)


EMBEDDED_TEST_MODEL = "smollm2-135m"
"""The embedded model the tests use: the recordings were made with it, and it is the fastest."""


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache for the session, so tests never write to the developer's own."""
    return tmp_path_factory.mktemp("model-cache")


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

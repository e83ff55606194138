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


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's key or server: the environment says nothing."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "QA_BACKEND", "QA_MODEL", "QA_RECORD_MODE", "QA_RECORDINGS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _no_stale_unrecorded() -> None:
    """A write failure one test noted (and did not take) must not make a later CLI test exit 5."""
    import sys

    if "qa.recording.operation" in sys.modules:
        sys.modules["qa.recording.operation"].take_unrecorded()

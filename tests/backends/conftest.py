"""Fixtures shared by the backend tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache (`QA_MODEL_CACHE`) for the test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("QA_MODEL_CACHE", str(folder))
    return folder

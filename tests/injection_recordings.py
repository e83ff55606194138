"""Shared by tests/cli/test_bad_input.py and tests/test_injection.py: the corpus, where their
recordings live, how to re-record them, and the autouse fixture that sets the re-record
hint (import `rerecord_hint`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qa
from tests.conftest import EMBEDDED_TEST_MODEL

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
RECORDINGS = ROOT / "tests" / "recordings" / "injection"
MODE = os.environ.get("QA_TEST_RECORD_MODE", "replay")
RERECORD = "QA_TEST_RECORD_MODE=auto .venv/bin/pytest tests/cli/test_bad_input.py tests/test_injection.py"


def settings() -> qa.Settings:
    """The embedded backend on tests/recordings/injection, in MODE."""
    return qa.Settings.load(
        env={},
        backend="embedded",
        local_model=EMBEDDED_TEST_MODEL,
        record_mode=MODE,
        recordings=RECORDINGS,
        rerecord_hint=RERECORD,
    )


@pytest.fixture(autouse=True)
def rerecord_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The re-record hint for the tests that go through the CLI (settings from the environment)."""
    monkeypatch.setenv("QA_RERECORD_HINT", RERECORD)

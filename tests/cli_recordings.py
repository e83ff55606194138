"""Shared by tests/cli/test_cli.py and tests/cli/test_chat.py: where their recordings live, how to
re-record them, and the autouse fixture that points every test at them (import `recorded`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_db386d23d8a38732.txt"
RECORDINGS = ROOT / "tests" / "recordings" / "cli"
MODE = os.environ.get("QA_TEST_RECORD_MODE", "replay")
RERECORD = "QA_TEST_RECORD_MODE=auto .venv/bin/pytest tests/cli/test_cli.py tests/cli/test_chat.py"
QUESTION = "Who leads Colombia?"
QUESTION_2 = "How much credit did China pledge?"


@pytest.fixture(autouse=True)
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The embedded backend against tests/recordings/cli, in replay mode; history in tmp."""
    monkeypatch.setenv("QA_BACKEND", "embedded")
    monkeypatch.setenv("QA_RECORD_MODE", MODE)
    monkeypatch.setenv("QA_RECORDINGS", str(RECORDINGS))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("QA_RERECORD_HINT", RERECORD)

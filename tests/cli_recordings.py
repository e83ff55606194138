"""Shared by tests/test_cli.py and tests/test_chat.py: where their recordings live and how to re-record them."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_db386d23d8a38732.txt"
RECORDINGS = ROOT / "tests" / "recordings" / "cli"
MODE = os.environ.get("QA_TEST_RECORD_MODE", "replay")
RERECORD = "QA_TEST_RECORD_MODE=auto .venv/bin/pytest tests/test_cli.py tests/test_chat.py"
QUESTION = "Who leads Colombia?"
QUESTION_2 = "How much credit did China pledge?"

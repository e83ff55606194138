"""Shared by the tests/test_bulk_*.py files: a synthetic corpus, a responder that fails some
articles on purpose (the same way on every engine), settings for a loopback server, and a
way to run the `qa` command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from qa.settings import Settings
from qa.testing.synthetic import article_responder, write_articles

ROOT = Path(__file__).resolve().parent.parent
QA = Path(sys.executable).parent / "qa"
POISON = "REFUSE-ME"
"""An article holding this word always gets a schema-invalid reply: it ends in OutputValidationError."""


def responder(body: dict[str, Any]) -> dict[str, Any]:
    """`article_responder`, except for poisoned articles (see `POISON`)."""
    if POISON in json.dumps(body.get("messages")):
        return {"content": json.dumps({"unexpected": True}), "finish_reason": "stop"}
    return article_responder(body)


def make_corpus(folder: Path, count: int, *, poisoned: tuple[int, ...] = (), empty: tuple[int, ...] = ()) -> Path:
    """`count` synthetic articles; `poisoned` ones fail validation, `empty` ones cannot be read."""
    paths = write_articles(folder, count)
    for n in poisoned:
        paths[n].write_text(paths[n].read_text(encoding="utf-8") + f"\nA note says {POISON} here.\n", encoding="utf-8")
    for n in empty:
        paths[n].write_text("", encoding="utf-8")
    return folder


def server_settings(base_url: str, **extra: Any) -> Settings:
    """Backend "server" at `base_url`: no key, no recording, no SDK retries unless asked."""
    values: dict[str, Any] = {"backend": "server", "base_url": base_url, "record_mode": "off", "max_retries": 0}
    return Settings.load(env={}, **{**values, **extra})


def cli_env(base_url: str, **extra: str) -> dict[str, str]:
    """The environment for `qa` in a subprocess: backend "server" at `base_url`, nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_", "OPENAI_", "RAY_"))}
    env.update({"QA_BACKEND": "server", "OPENAI_BASE_URL": base_url, "QA_RECORD_MODE": "off", "QA_MAX_RETRIES": "0"})
    env.update(extra)
    return env


def run_qa(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(QA), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def output_lines(path: Path) -> list[str]:
    """The output's lines, sorted (engines finish items in different orders)."""
    return sorted(path.read_text(encoding="utf-8").splitlines())


def ids(path: Path) -> list[str]:
    """The id of every line of an output, in file order."""
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]

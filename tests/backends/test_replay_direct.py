"""Replayed calls answered straight from the recordings agree with replays through the client.

`qa.backends.driver` reads a plain call's recorded reply directly (`Backend.recorded_reply`)
instead of sending it through the openai client and the recording transport. These tests
replay the whole committed seed suite both ways and compare every case.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

import qa
from qa.backends.backend import Backend, open_backend
from qa.errors import RecordingCorruptError, ReplayMissError
from qa.evals import load_suite
from qa.evals.runner import run_suite
from qa.recording import RecordingStore
from tests.conftest import SUITE_RECORDINGS_MODEL

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "evals" / "seed" / "suite.toml"


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    shutil.copytree(ROOT / "evals" / "recordings" / "seed", folder)
    return folder


def replay_settings(folder: Path) -> qa.Settings:
    """Replay from `folder` (each test's own copy, so each test gets its own backend)."""
    return qa.Settings.load(
        env={}, backend="embedded", local_model=SUITE_RECORDINGS_MODEL, record_mode="replay", recordings=folder
    )


def seed_slice(folder: Path, questions: int = 16) -> Path:
    """The seed suite's first `questions` questions and its summary, as a suite in `folder`.

    Its requests are the seed suite's own, so they replay from its recordings; a slice keeps
    the two routes' comparison off a second full replay (scripts/test's gate replays it whole).
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = (SUITE.parent / "questions.jsonl").read_text().splitlines()[:questions]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(SUITE.parent / "key_facts.jsonl", folder / "key_facts.jsonl")
    article = ROOT / "seeds" / "000_db386d23d8a38732.txt"
    (folder / "suite.toml").write_text(f'[suite]\nname = "seed"\narticle = "{article}"\n')
    return folder / "suite.toml"


def run_seed_suite(settings: qa.Settings, log: Path) -> list[dict]:
    run = asyncio.run(run_suite(load_suite(seed_slice(log.parent / "suite")), settings, log_path=log))
    assert not run.harness_errors, run.harness_errors[0].error
    return [record.model_dump(exclude={"elapsed_s"}) for record in run.records]


def test_the_seed_suite_slice_replays_the_same_directly_and_through_the_client(
    recordings, tmp_path, monkeypatch
) -> None:
    direct = run_seed_suite(replay_settings(recordings), tmp_path / "direct.jsonl")
    declined: list[str] = []

    def decline(self: Backend, body: dict) -> None:
        declined.append(body["model"])
        return None

    monkeypatch.setattr(Backend, "recorded_reply", decline)
    client = run_seed_suite(replay_settings(recordings), tmp_path / "client.jsonl")
    assert len(declined) == sum(record["usage"]["attempts"] for record in client)  # every call took the client
    assert len(client) == 17  # 16 questions and the summary
    assert client == direct


def test_a_direct_replay_builds_no_client_and_marks_its_recording_used(recordings) -> None:
    settings = replay_settings(recordings)
    article = qa.load_article(ROOT / "seeds" / "000_db386d23d8a38732.txt")
    question = load_suite(SUITE).questions[0].question
    result = qa.ask(article, question, settings=settings.model_copy(update={"seed": 1}))
    backend = open_backend(settings.model_copy(update={"seed": 1}))
    assert result.usage.attempts >= 1
    assert "client" not in backend.__dict__ and "aclient" not in backend.__dict__  # never built
    assert len(RecordingStore(recordings).used_keys()) == result.usage.attempts


def test_a_request_not_recorded_goes_through_the_client_and_misses_with_a_diff(recordings) -> None:
    settings = replay_settings(recordings).model_copy(update={"seed": 1})
    article = qa.load_article(ROOT / "seeds" / "000_db386d23d8a38732.txt")
    with pytest.raises(ReplayMissError, match="Nearest recording") as miss:
        qa.ask(article, "A question nobody recorded?", settings=settings)
    assert "A question nobody recorded?" in str(miss.value)


def test_a_corrupt_recording_found_directly_is_reported_with_its_file(recordings) -> None:
    settings = replay_settings(recordings).model_copy(update={"seed": 1})
    article = qa.load_article(ROOT / "seeds" / "000_db386d23d8a38732.txt")
    question = load_suite(SUITE).questions[0].question
    qa.ask(article, question, settings=settings)  # which files does it read?
    key = min(RecordingStore(recordings).used_keys())
    path = recordings / f"{key[:16]}.json"
    path.write_text("{ not json")
    fresh = settings.model_copy(update={"timeout": 99.0})  # a new backend: nothing cached in memory
    with pytest.raises(RecordingCorruptError, match=path.name):
        qa.ask(article, question, settings=fresh)

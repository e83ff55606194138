"""The openai-batch engine against qa.testing.FakeBatchServer: no network, no key, no waiting.

The fake answers batch lines and online calls with the same responder, so a batch run must
give exactly the records an online run gives: the replies go through the same steps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import qa
from qa.bulk import OpenAIBatchEngine, read_results
from qa.bulk.output import state_path
from qa.errors import ConfigError
from qa.settings import Settings
from qa.testing.batch_server import FakeBatchServer
from tests.bulk_support import make_corpus, output_lines, responder

KEY = "sk-test-batch-0123456789abcdef0123"


def _settings(server: FakeBatchServer, **extra: Any) -> Settings:
    values = {"backend": "openai", "base_url": server.base_url, "api_key": KEY, "model": "gpt-4o-mini",
              "record_mode": "off", "max_retries": 0}  # fmt: skip
    return Settings.load(env={}, **{**values, **extra})


def _engine(**options: Any) -> OpenAIBatchEngine:
    return OpenAIBatchEngine(**{"poll_interval": 0, "max_poll_interval": 0, "sleep": lambda _: None, **options})


def _batch_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def _canonical(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True)


def test_a_batch_gives_exactly_the_records_an_online_run_gives(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 8, empty=(5,))
    with FakeBatchServer(responder, polls_to_finish=3) as server:
        online = qa.run(corpus, tmp_path / "online.jsonl", settings=_settings(server))
        sent_online = sorted(_canonical(b) for b in server.stats.chat_bodies)
        report = qa.run(corpus, tmp_path / "batch.jsonl", settings=_settings(server), engine=_engine())
        stats = server.stats
    assert output_lines(tmp_path / "batch.jsonl") == output_lines(tmp_path / "online.jsonl")
    assert (report.results, report.errors) == (online.results, online.errors) == (7, {"ArticleError": 1})
    assert (stats.files_uploaded, stats.batches_created, stats.chat_requests - 7) == (1, 1, 0)  # no online call
    lines = _batch_lines(stats.uploads[0])
    assert all(line["method"] == "POST" and line["url"] == "/v1/chat/completions" for line in lines)
    assert sorted(line["custom_id"] for line in lines) == sorted(f"article-000{n}.txt" for n in range(8) if n != 5)
    assert sorted(_canonical(line["body"]) for line in lines) == sent_online  # the very bodies qa sends online
    assert report.usage.cost_usd is not None and any("half price" in note for note in report.notes)
    for written in (
        stats.uploads[0],
        (tmp_path / "batch.jsonl").read_bytes(),
        state_path(tmp_path / "batch.jsonl").read_bytes(),
    ):
        assert KEY.encode() not in written
    assert json.loads(state_path(tmp_path / "batch.jsonl").read_text())["batches"] == []  # collected


def test_invalid_replies_are_reasked_online_through_the_same_steps(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 4)
    questions = ["How much will the plan cost?", "Who voted?"]
    with FakeBatchServer(responder, invalid_ids=[]) as server:
        qa.run(corpus, tmp_path / "online.jsonl", task="ask", questions=questions, settings=_settings(server))
        online = read_results(tmp_path / "online.jsonl").records
        bad = sorted(online)[:2]
        server.invalid_ids = set(bad)
        before = server.stats.chat_requests
        report = qa.run(corpus, tmp_path / "batch.jsonl", task="ask", questions=questions, settings=_settings(server),
                        engine=_engine())  # fmt: skip
        assert server.stats.chat_requests - before == 2  # one online re-ask each
    batch = read_results(tmp_path / "batch.jsonl").records
    assert report.results == 8 and not report.errors
    for key in bad:
        assert batch[key].usage.attempts == 2
        assert batch[key].result == online[key].result.model_copy(update={"usage": batch[key].usage})
    assert all(batch[k] == online[k] for k in online if k not in bad)


def test_past_the_online_limit_items_are_reported_with_the_batch_reply_cost(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 5)
    invalid = ["article-0001.txt", "article-0002.txt", "article-0003.txt"]
    with FakeBatchServer(responder, invalid_ids=invalid) as server:
        report = qa.run(
            corpus, tmp_path / "out.jsonl", settings=_settings(server), engine=_engine(online_limit=1, concurrency=1)
        )
        assert server.stats.chat_requests == 1
    records = read_results(tmp_path / "out.jsonl").records
    assert report.results == 3 and report.errors == {"BatchAPIError": 2}
    refused = [r for r in records.values() if r.error is not None]
    assert all("online limit (1 items)" in r.error.message for r in refused)
    assert all(r.usage.attempts == 1 and r.usage.prompt_tokens > 0 for r in refused)  # the batch reply was paid for
    assert any("--retry-errors" in note for note in report.notes)


def test_a_partial_error_file_fails_only_its_requests(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 6)
    with FakeBatchServer(responder, error_ids=["article-0000.txt", "article-0004.txt"]) as server:
        report = qa.run(corpus, tmp_path / "out.jsonl", settings=_settings(server), engine=_engine())
    records = read_results(tmp_path / "out.jsonl").records
    assert report.results == 4 and report.errors == {"BatchAPIError": 2}
    failed = records["article-0004.txt"]
    assert failed.error is not None and "status 400: Invalid 'messages' (fake)" in failed.error.message
    assert failed.usage.attempts == 0
    assert records["article-0001.txt"].result is not None


def test_an_expired_batch_keeps_what_ran_and_retry_errors_batches_only_the_rest(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 6)
    out = tmp_path / "out.jsonl"
    with FakeBatchServer(responder, outcome="expired", expire_after=3) as server:
        first = qa.run(corpus, out, settings=_settings(server), engine=_engine())
        expired = sorted(k for k, r in read_results(out).records.items() if r.error is not None)
        assert first.results == 3 and first.errors == {"BatchAPIError": 3}
        assert all("batch_expired" in read_results(out).records[k].error.message for k in expired)
        server.outcome = "completed"
        again = qa.run(corpus, out, settings=_settings(server), engine=_engine(), retry_errors=True)
        assert (server.stats.files_uploaded, server.stats.batches_created) == (2, 2)
        assert sorted(line["custom_id"] for line in _batch_lines(server.stats.uploads[1])) == expired
    assert again.results == 6 and not again.errors and again.ran == 3


def test_a_large_run_is_cut_into_several_batches_collected_together(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 7)
    with FakeBatchServer(responder) as server:
        report = qa.run(corpus, tmp_path / "out.jsonl", settings=_settings(server), engine=_engine(max_requests=3))
        sizes = [len(_batch_lines(data)) for data in server.stats.uploads]
        assert (server.stats.batches_created, sizes) == (3, [3, 3, 1])
    assert report.results == 7


def test_a_failed_batch_reports_why_on_every_item(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 3)
    with FakeBatchServer(responder, outcome="failed") as server:
        report = qa.run(corpus, tmp_path / "out.jsonl", settings=_settings(server), engine=_engine())
    records = read_results(tmp_path / "out.jsonl").records
    assert report.errors == {"BatchAPIError": 3}
    assert all("failed: invalid_request: The model `x` does not exist (fake). (line 1)" in r.error.message
               for r in records.values())  # fmt: skip


def _interrupting_sleep(_: float) -> None:
    raise KeyboardInterrupt


def test_a_run_interrupted_mid_poll_collects_its_batch_and_pays_once(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 5)
    out = tmp_path / "out.jsonl"
    with FakeBatchServer(responder, polls_to_finish=3) as server:
        with pytest.raises(KeyboardInterrupt):
            qa.run(corpus, out, settings=_settings(server), engine=_engine(sleep=_interrupting_sleep))
        state = json.loads(state_path(out).read_text())
        assert [b["batch_id"] for b in state["batches"]] == ["batch_0001"]
        assert read_results(out).records == {}
        # A setting that changes the requests cannot collect that batch.
        with pytest.raises(ConfigError, match="batch_0001 was made from other requests"):
            qa.run(corpus, out, settings=_settings(server, temperature=0.5), engine=_engine())
        report = qa.run(corpus, out, settings=_settings(server), engine=_engine())
        stats = server.stats
    assert report.results == 5
    assert (stats.files_uploaded, stats.batches_created, stats.batch_lines_answered) == (1, 1, 5)  # paid once
    assert json.loads(state_path(out).read_text())["batches"] == []


def test_a_batch_created_just_before_a_crash_is_found_by_its_file(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 3)
    out = tmp_path / "out.jsonl"
    with FakeBatchServer(responder, polls_to_finish=3) as server:
        with pytest.raises(KeyboardInterrupt):
            qa.run(corpus, out, settings=_settings(server), engine=_engine(sleep=_interrupting_sleep))
        state = json.loads(state_path(out).read_text())
        state["batches"][0]["batch_id"] = None  # the crash came before the batch id was saved
        state_path(out).write_text(json.dumps(state))
        report = qa.run(corpus, out, settings=_settings(server), engine=_engine())
        assert (server.stats.files_uploaded, server.stats.batches_created) == (1, 1)
    assert report.results == 3


def test_backends_without_a_batch_api_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 2)
    with pytest.raises(ConfigError, match="not the embedded model"):
        qa.run(corpus, tmp_path / "out.jsonl", backend="embedded", engine=_engine())
    with FakeBatchServer(responder) as server, pytest.raises(ConfigError, match="record-mode off"):
        qa.run(corpus, tmp_path / "out.jsonl", settings=_settings(server, record_mode="auto"), engine=_engine())
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(ConfigError):
        OpenAIBatchEngine(max_requests=50_001)

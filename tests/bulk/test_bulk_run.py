"""qa.run on the local engine against a loopback server: results, typed errors, resume, estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qa
from qa.bulk import LocalEngine, engine_named, estimate_run, read_results
from qa.errors import ConfigError, InputError
from qa.testing import FaultServer
from tests.bulk_support import make_corpus, responder, server_settings


@pytest.fixture(scope="module")
def server() -> FaultServer:
    with FaultServer(responder, fault_rate=0.0) as running:
        yield running


def test_every_article_gets_a_verified_summary_and_failures_are_typed(tmp_path: Path, server: FaultServer) -> None:
    corpus = make_corpus(tmp_path / "articles", 12, poisoned=(3,), empty=(7,))
    seen: list[str] = []
    report = qa.run(corpus, tmp_path / "out.jsonl", settings=server_settings(server.base_url), concurrency=3,
                    on_record=lambda r: seen.append(r.id))  # fmt: skip
    records = read_results(tmp_path / "out.jsonl").records
    assert len(records) == 12 and sorted(seen) == sorted(records)
    assert (report.items, report.results, report.errors, report.missing) == (
        12,
        10,
        {"ArticleError": 1, "OutputValidationError": 1},
        0,
    )
    good = records["article-0000.txt"]
    assert good.error is None and good.result is not None
    text = qa.load_article(corpus / "article-0000.txt").text
    assert 3 <= len(good.result.summary.key_points) <= 5  # one per key sentence (standard: up to 5)
    assert all(point.quote in text for point in good.result.summary.key_points)  # verified against the article
    assert good.result.grounding.unsupported_key_points == []
    assert good.usage == good.result.usage and good.usage.attempts == 1
    assert good.result.provenance.prompt == "summarize" and good.article_id
    poisoned = records["article-0003.txt"]
    assert poisoned.result is None and poisoned.error is not None
    assert poisoned.error.type == "OutputValidationError"
    assert poisoned.usage.attempts == 3  # the cost of the failure is kept: every attempt
    empty = records["article-0007.txt"]
    assert empty.error is not None and empty.error.type == "ArticleError" and empty.article_id is None
    assert report.usage.attempts == sum(r.usage.attempts for r in records.values())


def test_a_rerun_skips_what_is_done_and_retry_errors_redoes_only_the_failures(
    tmp_path: Path, server: FaultServer
) -> None:
    corpus = make_corpus(tmp_path / "articles", 6, poisoned=(2,))
    out = tmp_path / "out.jsonl"
    settings = server_settings(server.base_url)
    first = qa.run(corpus, out, settings=settings)
    requests = server.stats.requests
    again = qa.run(corpus, out, settings=settings)
    assert server.stats.requests == requests  # nothing was asked twice
    assert (again.ran, again.skipped, again.results) == (0, 6, first.results)
    retried = qa.run(corpus, out, settings=settings, retry_errors=True)
    assert server.stats.requests == requests + 3  # the poisoned article only, with its three attempts
    assert (retried.ran, retried.skipped) == (1, 5)
    assert retried.usage.attempts == first.usage.attempts + 3  # both failed records are counted
    assert len(out.read_text().splitlines()) == 7


def test_asking_questions_makes_one_item_per_article_and_question(tmp_path: Path, server: FaultServer) -> None:
    corpus = make_corpus(tmp_path / "articles", 3)
    questions = ["How much will the plan cost?", "When will work start?"]
    report = qa.run(
        corpus, tmp_path / "out.jsonl", task="ask", questions=questions, settings=server_settings(server.base_url)
    )
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert report.items == 6 and report.results == 6
    assert sorted((r["id"], r["question"]) for r in lines) == sorted(
        (f"article-000{n}.txt", q) for n in range(3) for q in questions
    )
    cost = next(r for r in lines if r["id"] == "article-0001.txt" and r["question"] == questions[0])
    assert cost["result"]["answer"]["status"] == "answered"
    assert "million dollars" in cost["result"]["answer"]["citations"][0]["quote"]
    # One more question later: only the new items run.
    more = qa.run(
        corpus,
        tmp_path / "out.jsonl",
        task="ask",
        questions=[*questions, "Who voted?"],
        settings=server_settings(server.base_url),
    )
    assert (more.items, more.ran, more.skipped) == (9, 3, 6)


def test_a_dry_run_counts_tokens_and_sends_nothing(tmp_path: Path, server: FaultServer) -> None:
    corpus = make_corpus(tmp_path / "articles", 4, empty=(1,))
    requests = server.stats.requests
    estimate = estimate_run(corpus, settings=server_settings(server.base_url, model="gpt-4o-mini"), models=["gpt-4o"])
    assert server.stats.requests == requests
    assert (estimate.items, estimate.unreadable, estimate.requests) == (4, 1, 3)
    mine, other = estimate.models
    assert (mine.model, mine.counter, other.model, other.counter) == ("gpt-4o-mini", "backend", "gpt-4o", "tiktoken")
    assert mine.prompt_tokens > 3 * 100  # three prompts, each with the instructions and an article
    assert mine.input_cost == pytest.approx(mine.prompt_tokens * 0.15 / 1e6)
    assert mine.max_cost is not None and mine.max_cost > mine.input_cost
    batch = estimate_run(
        corpus, settings=server_settings(server.base_url, model="gpt-4o-mini"), models=[], engine="openai-batch"
    )
    assert batch.models[0].input_cost == pytest.approx(mine.input_cost / 2)
    # Done items are left out of the estimate.
    qa.run(corpus, tmp_path / "out.jsonl", settings=server_settings(server.base_url, model="gpt-4o-mini"))
    later = estimate_run(
        corpus, settings=server_settings(server.base_url, model="gpt-4o-mini"), output=tmp_path / "out.jsonl"
    )
    assert (later.done, later.requests) == (4, 0)


def test_bad_arguments_are_refused_before_anything_runs(tmp_path: Path, server: FaultServer) -> None:
    corpus = make_corpus(tmp_path / "articles", 2)
    settings = server_settings(server.base_url)
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        qa.run(corpus, tmp_path / "out.jsonl", engine="spark", settings=settings)
    with pytest.raises(InputError, match="needs at least one question"):
        qa.run(corpus, tmp_path / "out.jsonl", task="ask", settings=settings)
    with pytest.raises(InputError, match="question is empty"):
        qa.run(corpus, tmp_path / "out.jsonl", task="ask", questions=["  "], settings=settings)
    with pytest.raises(ConfigError, match="concurrency"):
        LocalEngine(concurrency=0)
    assert not (tmp_path / "out.jsonl").exists()
    assert isinstance(engine_named("local", concurrency=2), LocalEngine)

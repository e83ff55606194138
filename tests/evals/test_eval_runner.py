"""Tests for qa.evals.runner, qa.evals.log and qa.evals.metrics, on a fake OpenAI server.

`FakeEvalServer` answers by question (routed on the request, not on arrival order, since
cases run concurrently) and counts requests, so a test can see what was (not) run again.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest

import qa
from qa.backends.backend import PROFILES, Backend
from qa.errors import EvalError
from qa.evals import load_suite
from qa.evals.log import CaseRecord, read_log
from qa.evals.metrics import METRICS, aggregate
from qa.evals.runner import EvalRun, run_suite
from qa.schemas import SummaryResult
from qa.settings import Settings
from qa.tasks.evidence import evidence_sentences
from qa.tasks.summarize import _key_numbers
from qa.text.extract import compress

ROOT = Path(__file__).resolve().parents[2]
SEED = "seeds/000_db386d23d8a38732.txt"
PETRO = "Petro, who took over in August 2022, made his first trip to China as president in October 2023, upgrading to a strategic partnership with two-way ties first established in 1980."
CREDIT = 'The agreement came on the sidelines of a gathering of Latin American leaders in Beijing during which Xi also pledged $9.2 billion in credit towards "development".'
SIGNED = "China and Colombia have signed a joint cooperation plan on the Belt and Road Initiative, state media said on Wednesday after their leaders met in Beijing."
QUESTIONS = [
    {
        "id": "who",
        "question": "Who is Colombia's president?",
        "answerable": True,
        "answers": ["Gustavo Petro"],
        "aliases": ["Petro"],
    },
    {
        "id": "credit",
        "question": "How much credit did Xi pledge?",
        "answerable": True,
        "answers": ["$9.2 billion"],
        "numbers": ["$9.2 billion"],
    },
    {"id": "rate", "question": "What interest rate applies to the credit?", "answerable": False, "answers": []},
]
KEY_FACTS = [
    {
        "id": "f1",
        "fact": "China and Colombia signed a Belt and Road plan.",
        "aliases": ["Belt and Road"],
        "importance": "core",
    },
    {
        "id": "f2",
        "fact": "Xi pledged $9.2 billion in credit.",
        "aliases": ["credit"],
        "numbers": ["$9.2 billion"],
        "importance": "core",
    },
    {"id": "f3", "fact": "The story is about Colombia.", "aliases": ["Colombia"], "importance": "supporting"},
]


ARTICLE = qa.load_article(ROOT / SEED)
SENTENCES = [s.text for s in evidence_sentences(ARTICLE)]


def answer(text: str, quote: str | None = None) -> dict[str, Any]:
    """The model's reply: the number of the sentence holding `quote`, then `text`; no quote: sentence 0."""
    number = 0 if quote is None else next(n for n, s in enumerate(SENTENCES, 1) if quote in s)
    return {"sentence": number, "answer": text}


SUMMARY_NUMBERS = _key_numbers(ARTICLE, evidence_sentences(ARTICLE), "standard")


def summary_draft() -> dict[str, Any]:
    """A faithful SummaryDraft for the seed: one point per key sentence, in order, then summary and headline."""
    numbers = SUMMARY_NUMBERS
    points = [" ".join(compress(SENTENCES[n - 1]).split()[:12]) for n in numbers]
    return {
        "key_points": [{"sentence": n, "point": p} for n, p in zip(numbers, points, strict=True)],
        "summary": "Colombia joined the Belt and Road Initiative as China pledged $9.2 billion in credit.",
        "headline": "China and Colombia sign Belt and Road plan",
    }


GOOD = {
    "Who is Colombia's president?": answer("Gustavo Petro", PETRO),
    "How much credit did Xi pledge?": answer("$9.2 billion", CREDIT),
    "What interest rate applies to the credit?": answer(""),
}
SUMMARY = summary_draft()


class Crash(BaseException):
    """Stands in for the process being killed mid-run."""


@dataclass
class FakeEvalServer:
    """Replies per question; `replies[question]` is a dict (an EvidenceAnswer), a str (raw content) or an int (HTTP status)."""

    replies: dict[str, Any] = field(default_factory=lambda: dict(GOOD))
    summary: Any = field(default_factory=lambda: SUMMARY)
    judge: Any = None
    bare: dict[str, str] = field(default_factory=dict)
    """The bare reference arm's plain-text replies, by question."""
    crash_after: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        if self.crash_after is not None and len(self.requests) > self.crash_after:
            raise Crash()
        prompt = request.headers["x-qa-prompt"]
        if prompt in ("summarize", "judge"):
            reply: Any = self.summary if prompt == "summarize" else self.judge
        else:
            question = body["messages"][1]["content"].rsplit("Question:", 1)[1].strip()
            reply = self.bare[question] if prompt == "bare" else self.replies[question]
        if isinstance(reply, int):
            return httpx2.Response(reply, json={"error": {"message": "fake server error"}})
        content = reply if isinstance(reply, str) else json.dumps(reply)
        message = {"role": "assistant", "content": content, "refusal": None}
        return httpx2.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        })  # fmt: skip

    def backends(self) -> Callable[[Settings], Backend]:
        """The runner's backend factory: every backend it opens (one per repeat, the judge's) talks to this server."""
        opened: dict[Settings, Backend] = {}
        transport = httpx2.MockTransport(self.handle)

        def backend_for(settings: Settings) -> Backend:
            if settings not in opened:
                opened[settings] = Backend(settings, PROFILES["openai"], transport=transport, async_transport=transport)
            return opened[settings]

        return backend_for


def write_suite(
    folder: Path, questions: list[dict[str, Any]] = QUESTIONS, thresholds: str = "", reference: str = "none"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    (folder / "key_facts.jsonl").write_text("".join(json.dumps(f) + "\n" for f in KEY_FACTS))
    toml = (
        f'[suite]\nname = "mini"\narticle = "{ROOT / SEED}"\nreference = "{reference}"\n\n[thresholds]\n{thresholds}\n'
    )
    (folder / "suite.toml").write_text(toml)
    return folder / "suite.toml"


# abstain_threshold 0: every cited answer is kept, so verdicts depend on the replies, not on the calibrator.
SETTINGS = Settings.load(
    env={}, backend="openai", api_key="sk-test-not-a-real-key-000000", max_retries=0, abstain_threshold=0.0
)


def fake_run(tmp_path: Path, server: FakeEvalServer | None = None, **kwargs: Any) -> EvalRun:
    """Run the mini suite against `server` (default: every answer right); log in tmp_path."""
    suite = load_suite(write_suite(tmp_path / "suite"))
    kwargs.setdefault("log_path", tmp_path / "run.jsonl")
    return asyncio.run(run_suite(suite, SETTINGS, backends=(server or FakeEvalServer()).backends(), **kwargs))


def test_every_case_is_run_scored_and_logged(tmp_path: Path) -> None:
    run = fake_run(tmp_path)
    assert [r.case_id for r in run.records] == ["who#1", "credit#1", "rate#1", "summary#1"]
    assert [r.verdict for r in run.records] == ["correct", "correct", "correct", "correct"]
    assert [r.decided_by for r in run.records[:3]] == ["exact", "numbers", "abstention"]
    who, credit, rate, summary = (r.result for r in run.records)
    assert who is not None and [c.quote for c in who.answer.citations] == [PETRO]  # the cited sentence, verbatim
    assert credit is not None and [c.quote for c in credit.answer.citations] == [CREDIT]
    assert rate is not None and rate.answer.status == "not_in_article"
    assert (
        summary is not None and summary.mode == "write" and summary.dropped_statements == []
    )  # the draft was used as written
    assert isinstance(summary, SummaryResult) and summary.usage.attempts == 1
    assert [p.quote for p in summary.summary.key_points] == [SENTENCES[n - 1] for n in SUMMARY_NUMBERS]
    log = read_log(run.log_path)
    assert (
        log.header.log_version == 1 and log.header.suite == "mini" and "api_key" not in json.dumps(log.header.settings)
    )
    assert set(log.header.prompt_versions) == {"answer", "summarize", "verify"}
    assert {r.case_id for r in log.records} == {r.case_id for r in run.records}
    assert "sk-test" not in run.log_path.read_text()


def test_a_summary_is_scored_beside_lead_3_and_the_lead_cut_at_its_own_length(tmp_path: Path) -> None:
    from qa.evals.dataset import KeyFact
    from qa.evals.summary_scorers import score_summary, summary_sentences

    record = fake_run(tmp_path).records[3]
    assert record.result is not None and isinstance(record.result, SummaryResult)
    ours = sum(len(text.split()) for _, text in summary_sentences(record.result))
    article = ARTICLE
    body = " ".join(s.text for s in article.sentences(("body",)))
    facts = [KeyFact.model_validate(f) for f in KEY_FACTS]
    same = score_summary(" ".join(body.split()[:ours]), article.text, facts).completeness.value
    lead3 = score_summary(" ".join(s.text for s in article.sentences(("body",))[:3]), article.text, facts)
    assert record.scores["summary_words"].value == ours
    assert record.scores["lead_same_completeness"].value == same
    assert record.scores["lead3_completeness"].value == lead3.completeness.value
    assert (
        record.scores["lead3_words"].value < ours
    )  # this summary is longer than lead-3: the same-length lead is the fair bar
    assert same is not None and lead3.completeness.value is not None and same >= lead3.completeness.value


def test_each_case_is_on_disk_as_soon_as_it_finishes(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    on_disk_at_request: list[int] = []
    seen: list[tuple[str, set[str]]] = []

    class Watching(FakeEvalServer):
        def handle(self, request: httpx2.Request) -> httpx2.Response:
            on_disk_at_request.append(len(read_log(log).records))
            return super().handle(request)

    def on_case(record: CaseRecord) -> None:
        seen.append((record.case_id, {r.case_id for r in read_log(log).records}))

    fake_run(tmp_path, Watching(), concurrency=1, on_case=on_case)
    assert on_disk_at_request == [0, 1, 2, 3]  # one case at a time: each was logged before the next began
    assert sorted(case for case, _ in seen) == sorted(["who#1", "credit#1", "rate#1", "summary#1"])
    assert all(case in on_disk for case, on_disk in seen)


def test_an_interrupted_run_resumes_without_rerunning_done_cases(tmp_path: Path) -> None:
    crashing = FakeEvalServer(crash_after=2)
    with pytest.raises(BaseException) as caught:
        fake_run(tmp_path, crashing, concurrency=1)
    assert caught.group_contains(Crash) if isinstance(caught.value, BaseExceptionGroup) else caught.type is Crash
    assert [r.case_id for r in read_log(tmp_path / "run.jsonl").records] == ["who#1", "credit#1"]
    healthy = FakeEvalServer()
    run = fake_run(tmp_path, healthy, concurrency=1)
    assert run.resumed == 2 and len(healthy.requests) == 2  # only rate#1 and summary#1 ran
    assert [r.case_id for r in read_log(run.log_path).records] == ["who#1", "credit#1", "rate#1", "summary#1"]


def test_a_line_cut_off_mid_write_is_dropped_on_resume(tmp_path: Path) -> None:
    run = fake_run(tmp_path)
    lines = run.log_path.read_text().splitlines(keepends=True)
    run.log_path.write_text("".join(lines[:3]) + lines[3][:40])  # header, two cases, half a third
    assert read_log(run.log_path).truncated_tail
    server = FakeEvalServer()
    again = fake_run(tmp_path, server)
    assert again.resumed == 2 and len(server.requests) == 2
    log = read_log(run.log_path)
    assert not log.truncated_tail and len(log.records) == 4


def test_a_failing_case_keeps_its_typed_error_and_usage_and_the_run_goes_on(tmp_path: Path) -> None:
    server = FakeEvalServer(replies={**GOOD, "How much credit did Xi pledge?": "not json at all"})
    run = fake_run(tmp_path, server)
    bad = run.records[1]
    assert bad.error is not None and bad.error.type == "OutputValidationError" and not bad.error.harness
    assert bad.result is None and bad.usage.attempts == 3 and bad.usage.total_tokens == 360
    assert bad.scores["schema_valid"].verdict == "incorrect" and bad.scores["correct"].verdict == "unscored"
    assert [r.verdict for r in run.records] == ["correct", "unscored", "correct", "correct"]
    assert run.harness_errors == [] and run.aggregates.usage.attempts == 6


def test_an_unexpected_exception_is_a_recorded_harness_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("bug in the harness")

    monkeypatch.setattr(qa, "aask", broken)
    run = fake_run(tmp_path)
    assert [r.error.type for r in run.harness_errors if r.error] == ["RuntimeError"] * 3
    assert run.records[3].error is None  # the summary still ran
    assert run.aggregates.harness_errors == 3


def test_a_server_error_is_a_harness_error(tmp_path: Path) -> None:
    run = fake_run(tmp_path, FakeEvalServer(replies={**GOOD, "Who is Colombia's president?": 500}))
    assert (
        run.records[0].error is not None
        and run.records[0].error.type == "APICallError"
        and run.records[0].error.harness
    )


def test_repeats_are_distinct_requests(tmp_path: Path) -> None:
    server = FakeEvalServer()
    run = fake_run(tmp_path, server, repeats=2)
    assert [r.case_id for r in run.records][-4:] == ["who#2", "credit#2", "rate#2", "summary#2"]
    assert sorted(body["seed"] for body in server.requests) == [1] * 4 + [2] * 4
    assert run.aggregates.metrics["correct"].n == 3  # clustered: one unit per question


def test_all_unscored_run_has_no_nan_and_says_why(tmp_path: Path) -> None:
    server = FakeEvalServer(replies={q: 500 for q in GOOD}, summary=500)
    run = fake_run(tmp_path, server)
    agg = run.aggregates
    assert set(agg.metrics) == set(METRICS)
    assert all(m.value is None and m.n == 0 and m.low is None for m in agg.metrics.values())
    assert "NaN" not in agg.model_dump_json() and agg.unscored_counts["correct"] == 3
    assert all("APICallError" in note.reason for note in agg.unscored)
    assert agg.usage.tokens_per_case.value == 0.0


def test_aggregates_split_answerable_and_unanswerable_with_cis(tmp_path: Path) -> None:
    wrong = {**GOOD, "What interest rate applies to the credit?": answer("Credit towards development.", CREDIT)}
    agg = fake_run(tmp_path, FakeEvalServer(replies=wrong)).aggregates
    m = agg.metrics
    assert (m["answerable_accuracy"].value, m["answerable_accuracy"].n) == (1.0, 2)
    assert (m["unanswerable_accuracy"].value, m["unanswerable_accuracy"].n) == (0.0, 1)
    assert m["abstention_recall"].value == 0.0 and m["abstention_precision"].n == 0
    correct = m["correct"]
    assert correct.value == pytest.approx(2 / 3) and correct.n == 3
    assert correct.low is not None and correct.high is not None and 0 < correct.low < 2 / 3 < correct.high < 1
    assert (m["completeness"].value, m["completeness"].n) == (1.0, 1)
    for metric in m.values():
        assert metric.value is None or math.isfinite(metric.value)


def test_clustered_ci_averages_repeats_per_question(tmp_path: Path) -> None:
    records = fake_run(tmp_path, repeats=2).records
    flipped = records[0].model_copy(update={"scores": {**records[0].scores, "correct": records[0].scores["correct"].model_copy(
        update={"value": 0.0, "verdict": "incorrect"})}})  # fmt: skip
    agg = aggregate([flipped, *records[1:]])
    assert agg.metrics["correct"].value == pytest.approx((0.5 + 1 + 1) / 3) and agg.metrics["correct"].n == 3


def test_log_version_is_checked(tmp_path: Path) -> None:
    run = fake_run(tmp_path)
    lines = run.log_path.read_text().splitlines()
    header = json.loads(lines[0])
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({**header, "log_version": 2}) + "\n")
    with pytest.raises(EvalError, match="newer qa"):
        read_log(newer)
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(EvalError, match="not an eval run log"):
        read_log(other)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n" + '{"case_id": "x"}\n')
    with pytest.raises(EvalError, match=r"broken.jsonl:2"):
        read_log(broken)


def test_resuming_a_log_of_another_model_is_refused(tmp_path: Path) -> None:
    run = fake_run(tmp_path)
    other = SETTINGS.model_copy(update={"model": "another-model"})
    suite = load_suite(tmp_path / "suite" / "suite.toml")
    with pytest.raises(EvalError, match="model 'gpt-4o-mini'"):
        asyncio.run(run_suite(suite, other, log_path=run.log_path))


def test_the_judge_decides_only_the_undecided_sentences(tmp_path: Path) -> None:
    server = FakeEvalServer(judge={"supported": False, "quote": SIGNED})
    run = fake_run(tmp_path, server, judge=True)
    summary = run.records[3]
    assert summary.summary_checks is not None
    judged = [c for c in summary.summary_checks.sentences if c.decided_by == "judge"]
    judge_requests = [r for r in server.requests if "Sentence to check" in r["messages"][1]["content"]]
    assert judged and all(c.error and "not supported" in c.reason for c in judged)
    assert len(judge_requests) == len(judged) == len(summary.summary_checks.sentences)  # none had a bad number or name
    assert summary.judge_usage is not None and summary.judge_usage.attempts == len(judged)
    assert summary.scores["faithfulness"].decided_by == "judge" and summary.verdict == "incorrect"
    assert "judge" in read_log(run.log_path).header.prompt_versions
    assert run.aggregates.usage.attempts == 4 + len(judged)


def test_a_judge_quote_not_in_the_article_leaves_the_sentence_undecided(tmp_path: Path) -> None:
    server = FakeEvalServer(judge={"supported": True, "quote": "A sentence the article does not have."})
    checks = fake_run(tmp_path, server, judge=True).records[3].summary_checks
    assert checks is not None and all(c.decided_by == "none" and not c.error for c in checks.sentences)
    assert all("quote is not in the article" in c.reason for c in checks.sentences)


def test_a_failing_judge_leaves_the_sentence_undecided_not_wrong(tmp_path: Path) -> None:
    record = fake_run(tmp_path, FakeEvalServer(judge=500), judge=True).records[3]
    assert record.summary_checks is not None and record.error is None
    assert all(c.decided_by == "none" and "the judge failed" in c.reason for c in record.summary_checks.sentences)
    assert record.scores["faithfulness"].verdict == "correct"


def test_the_seed_setting_is_sent_only_when_set() -> None:
    assert Settings.load(env={"QA_SEED": "7"}).seed == 7 and Settings.load(env={}).seed is None
    server = FakeEvalServer()
    open_backend = server.backends()
    article = qa.load_article(ROOT / SEED)
    qa.ask(article, "Who is Colombia's president?", backend=open_backend(SETTINGS))
    qa.ask(article, "Who is Colombia's president?", backend=open_backend(SETTINGS.model_copy(update={"seed": 3})))
    assert "seed" not in server.requests[0] and server.requests[1]["seed"] == 3


def test_the_bare_reference_arm_is_run_scored_apart_and_compared(tmp_path: Path) -> None:
    bare = {
        "Who is Colombia's president?": "Gustavo Petro.",
        "How much credit did Xi pledge?": "About 12 million",  # wrong
        "What interest rate applies to the credit?": "Unanswerable",
    }
    server = FakeEvalServer(bare=bare)
    suite = load_suite(write_suite(tmp_path / "suite", reference="bare"))
    run = asyncio.run(run_suite(suite, SETTINGS, log_path=tmp_path / "run.jsonl", backends=server.backends()))
    assert [r.case_id for r in run.records] == [
        "who#1",
        "credit#1",
        "rate#1",
        "bare-who#1",
        "bare-credit#1",
        "bare-rate#1",
        "summary#1",
    ]
    refs = [r for r in run.records if r.kind == "reference"]
    assert [r.question_id for r in refs] == ["who", "credit", "rate"]
    assert all(r.result is not None and r.result.provenance.prompt == "bare" for r in refs)
    assert [r.result.answer.status for r in refs if r.result] == ["answered", "answered", "not_in_article"]
    assert [r.verdict for r in refs] == ["correct", "incorrect", "correct"]
    plain = [b for b in server.requests if "response_format" not in b]  # the bare arm sends no schema
    assert len(plain) == 3 and all("Text: " in b["messages"][1]["content"] for b in plain)
    m = run.aggregates.metrics
    assert (m["correct"].value, m["correct"].n) == (1.0, 3)  # qa's own metrics leave the reference arm out
    assert (m["bare_correct"].value, m["bare_correct"].n) == (pytest.approx(2 / 3), 3)
    assert m["bare_unanswerable_accuracy"].value == 1.0
    assert m["f1_vs_bare"].value is not None and m["f1_vs_bare"].value > 1.0  # qa beat the bare model here
    assert [r.kind for r in read_log(run.log_path).records].count("reference") == 3

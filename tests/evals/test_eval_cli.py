"""Tests for `qa eval`, on the committed recordings (evals/recordings/seed): no model, no network.

Each test works on a copy of the recordings (a replay run writes a usage log into its
folder) and on a five-question slice of the seed suite, whose requests are the seed
suite's own, so they replay from the same recordings. The literal CI command on the whole
suite runs once, from the installed wheel (tests/test_packaging.py).
"""

from __future__ import annotations

import fcntl
import json
import shlex
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qa.cli.app import cli
from qa.testing import FaultServer
from qa.testing.replay_responder import ReplayResponder

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "evals" / "recordings" / "seed"
JUDGE_RECORDINGS = ROOT / "evals" / "recordings" / "seed-judge"
ARTICLE = ROOT / "seeds" / "000_db386d23d8a38732.txt"
NO_MODEL = "/nonexistent/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"  # the recordings' model name, nowhere on disk


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay must not need the model: make it unloadable (token counts fall back to tiktoken)."""
    monkeypatch.setenv("QA_LOCAL_MODEL", NO_MODEL)


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    return Path(shutil.copytree(RECORDINGS, tmp_path / "recordings"))


def mini_suite(folder: Path, thresholds: str = "") -> Path:
    """The first five seed questions and every key fact, as a suite file in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = (ROOT / "evals" / "seed" / "questions.jsonl").read_text().splitlines()[:5]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copy(ROOT / "evals" / "seed" / "key_facts.jsonl", folder / "key_facts.jsonl")
    (folder / "suite.toml").write_text(f'[suite]\nname = "seed"\narticle = "{ARTICLE}"\n\n[thresholds]\n{thresholds}\n')
    return folder / "suite.toml"


def qa_eval(recordings: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--record-mode", "replay", "--recordings", str(recordings), "eval", *args], prog_name="qa"
    )


def test_reports_and_junit_are_written_with_evidence(tmp_path: Path, recordings: Path) -> None:
    md, xml = tmp_path / "out" / "report.md", tmp_path / "out" / "junit.xml"
    result = qa_eval(recordings, "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl"),
                     "--report", str(md), "--junit", str(xml))  # fmt: skip
    assert result.exit_code == 0, result.output
    text = md.read_text()
    assert (
        "### q01#1:" in text and "**Question:** What did China and Colombia sign?" in text and "### summary#1:" in text
    )
    cases = ET.parse(xml).getroot().iter("testcase")
    assert [c.get("name") for c in cases] == ["q01#1", "q02#1", "q03#1", "q04#1", "q05#1", "summary#1"]
    assert "correct" in result.stdout and "answerable_accuracy" in result.stdout


def test_check_exits_7_below_a_threshold(tmp_path: Path, recordings: Path) -> None:
    suite = mini_suite(tmp_path / "s", thresholds="schema_valid = 1.01  # unreachable on purpose")
    result = qa_eval(recordings, "--suite", str(suite), "--log", str(tmp_path / "run.jsonl"), "--check")
    assert result.exit_code == 7, result.output
    assert ">= 1.01 FAIL" in result.stdout and "gate: FAIL (exit 7)" in result.stdout


def test_check_exits_7_on_a_regression_against_the_baseline(tmp_path: Path, recordings: Path) -> None:
    suite, baseline = mini_suite(tmp_path / "s"), tmp_path / "baseline.json"
    first = qa_eval(
        recordings,
        "--suite",
        str(suite),
        "--log",
        str(tmp_path / "a.jsonl"),
        "--update-baseline",
        "--baseline",
        str(baseline),
    )
    assert first.exit_code == 0 and baseline.is_file(), first.output
    passing = qa_eval(
        recordings, "--suite", str(suite), "--log", str(tmp_path / "b.jsonl"), "--check", "--baseline", str(baseline)
    )
    assert passing.exit_code == 0, passing.output
    data = json.loads(baseline.read_text())
    wrong = next(case for case, v in data["cases"].items() if v["verdict"] != "correct")
    data["cases"][wrong]["verdict"] = "correct"  # the baseline now says this case used to be right
    baseline.write_text(json.dumps(data))
    failing = qa_eval(
        recordings, "--suite", str(suite), "--log", str(tmp_path / "c.jsonl"), "--check", "--baseline", str(baseline)
    )
    assert failing.exit_code == 7, failing.output
    assert f"regression: {wrong} was correct, now " in failing.stdout


def test_a_replay_miss_is_a_harness_error_with_the_rerecord_command(tmp_path: Path) -> None:
    suite = mini_suite(tmp_path / "s")
    (tmp_path / "empty").mkdir()
    result = qa_eval(tmp_path / "empty", "--suite", str(suite), "--log", str(tmp_path / "run.jsonl"), "--check")
    assert result.exit_code == 6, result.output
    rerecord = f"To re-record: qa --record-mode record --recordings {tmp_path / 'empty'} eval --suite {suite}"
    assert "replay miss" in result.stderr and rerecord in result.stderr


def test_a_dataset_error_exits_6(tmp_path: Path, recordings: Path) -> None:
    suite = mini_suite(tmp_path / "s")
    (suite.parent / "questions.jsonl").write_text('{"id": "q1", "question": "?", "answerable": true, "answers": []}\n')
    result = qa_eval(recordings, "--suite", str(suite), "--check")
    assert result.exit_code == 6
    assert "an answerable question needs at least one answer" in result.stderr


def test_compare_lists_regressions_and_gates_with_check(tmp_path: Path, recordings: Path) -> None:
    suite = mini_suite(tmp_path / "s")
    assert qa_eval(recordings, "--suite", str(suite), "--log", str(tmp_path / "a.jsonl")).exit_code == 0
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines[1:]]
    wrong = next(r for r in records if r["scores"]["correct"]["verdict"] != "correct")
    wrong["scores"]["correct"] = {"value": 1.0, "verdict": "correct", "reason": "edited", "decided_by": "exact"}
    (tmp_path / "before.jsonl").write_text("\n".join([lines[0], *(json.dumps(r) for r in records)]) + "\n")
    shown = CliRunner().invoke(cli, ["eval", "--compare", str(tmp_path / "before.jsonl"), str(tmp_path / "a.jsonl")])
    assert (
        shown.exit_code == 0 and f"- {wrong['case_id']}: correct -> " in shown.stdout and "| correct |" in shown.stdout
    )
    gated = CliRunner().invoke(
        cli, ["eval", "--compare", str(tmp_path / "before.jsonl"), str(tmp_path / "a.jsonl"), "--check"]
    )
    assert gated.exit_code == 7


def test_resume_with_an_existing_log_runs_nothing_again(tmp_path: Path, recordings: Path) -> None:
    suite, log = mini_suite(tmp_path / "s"), tmp_path / "run.jsonl"
    assert qa_eval(recordings, "--suite", str(suite), "--log", str(log)).exit_code == 0
    (tmp_path / "empty").mkdir()
    again = qa_eval(tmp_path / "empty", "--suite", str(suite), "--log", str(log))  # would miss on any request
    assert again.exit_code == 0 and "6 cases (6 resumed from the log)" in again.stdout


def test_the_judge_replays_from_its_own_folder(tmp_path: Path, recordings: Path) -> None:
    shutil.copytree(JUDGE_RECORDINGS, recordings.parent / f"{recordings.name}-judge")  # <recordings>-judge
    log, md = tmp_path / "run.jsonl", tmp_path / "report.md"
    result = qa_eval(
        recordings, "--suite", str(mini_suite(tmp_path / "s")), "--log", str(log), "--judge", "--report", str(md)
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(log.read_text().splitlines()[-1])
    judged = [s for s in summary["summary_checks"]["sentences"] if s["decided_by"] == "judge"]
    assert judged and summary["judge_usage"]["attempts"] >= len(judged)
    assert all(s["reason"].startswith("judge: ") for s in judged)
    assert "| judge |" in md.read_text() and "+ judge " in md.read_text()


# -- issue 17 ----------------------------------------------------------------------

SECRET_URL = "http://proxyuser:hunter2-pass@127.0.0.1:9/v1?api_key=topsecretvalue123&region=eu"


def test_credentials_in_the_base_url_are_redacted_in_logs_reports_and_output(tmp_path: Path, recordings: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, [
        "--base-url", SECRET_URL, "--record-mode", "replay", "--recordings", str(recordings), "eval",
        "--suite", str(mini_suite(tmp_path / "s")), "--log", str(out / "run.jsonl"), "--report", str(out / "report.md"),
        "--junit", str(out / "junit.xml"),
    ], prog_name="qa")  # fmt: skip
    assert result.exit_code in (0, 6), result.output
    written = [p.read_text() for p in out.iterdir()]
    assert len(written) == 3
    for text in [*written, result.stdout, result.stderr]:
        assert "hunter2-pass" not in text and "topsecretvalue123" not in text and "proxyuser" not in text
    header = json.loads((out / "run.jsonl").read_text().splitlines()[0])
    assert header["settings"]["base_url"] == "http://***@127.0.0.1:9/v1?api_key=***&region=eu"
    assert "http://***@127.0.0.1:9/v1?api_key=***&region=eu" in (out / "report.md").read_text()


@pytest.mark.parametrize("option", ["--report", "--junit", "--log"])
def test_an_unwritable_output_path_fails_before_any_case_runs(tmp_path: Path, recordings: Path, option: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    paths = {"--log": tmp_path / "run.jsonl", "--report": tmp_path / "report.md", "--junit": tmp_path / "junit.xml"}
    paths[option] = blocker / "out"  # its parent is a file: it can never be written
    args = [arg for name, path in paths.items() for arg in (name, str(path))]
    result = qa_eval(recordings, "--suite", str(mini_suite(tmp_path / "s")), *args)
    assert result.exit_code == 2, result.output
    assert _error_line(result).startswith(f"qa: error: Invalid value for '{option}': cannot write {blocker / 'out'}")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""  # no metrics: nothing ran
    assert not (tmp_path / "run.jsonl").exists()


def test_a_named_baseline_that_does_not_exist_is_an_error(tmp_path: Path, recordings: Path) -> None:
    typo = tmp_path / "typo.json"
    result = qa_eval(recordings, "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl"),
                     "--check", "--baseline", str(typo))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert _error_line(result).startswith(f"qa: error: Invalid value for '--baseline': {typo} does not exist")
    assert not (tmp_path / "run.jsonl").exists()
    written = qa_eval(recordings, "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl"),
                      "--baseline", str(typo), "--update-baseline")  # fmt: skip
    assert written.exit_code == 0 and typo.is_file()  # a new baseline may be named before it exists


def test_a_misspelt_threshold_fails_before_any_case_runs(tmp_path: Path, recordings: Path) -> None:
    suite = mini_suite(tmp_path / "s", thresholds="corect = 0.5")
    result = qa_eval(recordings, "--suite", str(suite), "--log", str(tmp_path / "run.jsonl"), "--check")
    assert result.exit_code == 6 and "unknown metric(s) in [thresholds]: corect" in result.stderr
    assert result.stdout == "" and not (tmp_path / "run.jsonl").exists()


def recorded_model(folder: Path = RECORDINGS) -> str:
    """The model the recordings in `folder` were made with (read, never hard-coded)."""
    models = {json.loads(p.read_text())["meta"]["model"] for p in folder.glob("[0-9a-f]*.json")}
    assert len(models) == 1, models
    return models.pop()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultServer]:
    """A loopback server that answers as the recorded model did; every request fails until told otherwise."""
    with FaultServer(ReplayResponder(RECORDINGS), fault_rate=1.0, faults=["unavailable"]) as running:
        for name, value in {
            "QA_BACKEND": "server",
            "OPENAI_BASE_URL": running.base_url,
            "QA_MODEL": recorded_model(),
            "QA_CONSTRAIN_QUOTES": "on",
            "QA_MAX_RETRIES": "0",
            "QA_TIMEOUT": "5",
            "QA_SUMMARY_MODE": "extract",
        }.items():  # fmt: skip  (the recorded model extracts its summaries)
            monkeypatch.setenv(name, value)
        yield running


def test_resume_runs_again_the_cases_that_ended_in_a_transport_error(tmp_path: Path, server: FaultServer) -> None:
    suite, log = str(mini_suite(tmp_path / "s")), str(tmp_path / "run.jsonl")
    failed = CliRunner().invoke(cli, ["eval", "--suite", suite, "--log", log], prog_name="qa")
    assert failed.exit_code == 6, failed.output
    assert (
        "6 cases (0 resumed from the log), 5 failed calls, 5 harness errors" in failed.stdout
    )  # the summary calls no model
    server.fault_rate = 0.0  # the server has recovered
    resumed = CliRunner().invoke(cli, ["eval", "--suite", suite, "--log", log], prog_name="qa")
    assert resumed.exit_code == 0, resumed.output
    assert "6 cases (1 resumed from the log, 5 run again after a harness error), 0 failed calls" in resumed.stdout
    again = CliRunner().invoke(cli, ["eval", "--suite", suite, "--log", log], prog_name="qa")
    assert again.exit_code == 0 and "6 cases (6 resumed from the log)" in again.stdout


def test_ctrl_c_prints_the_log_and_the_command_that_resumes(
    tmp_path: Path, recordings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.evals.runner import _Runner

    real_case, started = _Runner.case, []

    async def interrupted_case(self: _Runner, plan: object) -> object:
        started.append(plan)
        if len(started) == 3:
            raise KeyboardInterrupt
        return await real_case(self, plan)

    monkeypatch.setattr(_Runner, "case", interrupted_case)
    suite = str(mini_suite(tmp_path / "s"))
    monkeypatch.chdir(tmp_path)  # the default log goes to ./evals/runs (no pyproject.toml above tmp_path)
    result = qa_eval(recordings, "--suite", suite, "--concurrency", "1")
    assert result.exit_code == 130, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("qa: interrupted: 2 of 6 cases are in the run log ")
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[:5] == ["qa", "--record-mode", "replay", "--recordings", str(recordings)] and "--log" in command
    monkeypatch.setattr(_Runner, "case", real_case)
    resumed = CliRunner().invoke(cli, command[1:], prog_name="qa")
    assert resumed.exit_code == 0, resumed.output
    assert "6 cases (2 resumed from the log)" in resumed.stdout


def test_two_evals_cannot_write_one_log(tmp_path: Path, recordings: Path) -> None:
    log = tmp_path / "run.jsonl"
    with log.open("a") as held:  # another qa eval, mid-run, holds the log
        fcntl.flock(held, fcntl.LOCK_EX)
        result = qa_eval(recordings, "--suite", str(mini_suite(tmp_path / "s")), "--log", str(log))
    assert result.exit_code == 6, result.output
    assert (
        _error_line(result)
        == f"qa: error: {log}: another qa eval is writing this run log; wait for it to finish or use another --log"
    )
    assert log.read_text() == ""  # not truncated, nothing appended


def recorded_backend(folder: Path = RECORDINGS) -> str:
    backends = {json.loads(p.read_text())["meta"]["backend"] for p in folder.glob("[0-9a-f]*.json")}
    assert len(backends) == 1, backends
    return backends.pop()


def test_replay_with_a_key_set_uses_the_backend_and_model_of_the_recordings(
    tmp_path: Path, recordings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-anything")  # auto would resolve to the paid API
    log = tmp_path / "run.jsonl"
    result = qa_eval(recordings, "--suite", str(mini_suite(tmp_path / "s")), "--log", str(log), "--check")
    assert result.exit_code == 0, result.output
    header = json.loads(log.read_text().splitlines()[0])
    assert (header["backend"], header["model"]) == (recorded_backend(), recorded_model())
    assert f"backend {recorded_backend()}, model {recorded_model()}" in result.stderr  # it says what it chose
    assert result.stderr.count("\n") == 1


def test_an_explicit_backend_unlike_the_recordings_says_how_to_select_theirs(tmp_path: Path, recordings: Path) -> None:
    result = CliRunner().invoke(cli, [
        "--backend", "openai", "--record-mode", "replay", "--recordings", str(recordings), "eval",
        "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl"),
    ], prog_name="qa")  # fmt: skip
    assert result.exit_code == 6, result.output
    note = next(line for line in result.stderr.splitlines() if "were made with" in line)
    assert f"backend {recorded_backend()}, model {recorded_model()}" in note and "backend openai" in note
    assert f"--backend {recorded_backend()} --model {recorded_model()}" in note
    harness = result.stderr.split("qa: error: ", 1)[1]
    assert f"--backend {recorded_backend()} --model {recorded_model()}" in harness  # said again next to the misses


def test_a_missing_recordings_folder_fails_before_any_case_runs(tmp_path: Path) -> None:
    result = qa_eval(
        tmp_path / "nope", "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl")
    )
    assert result.exit_code == 5, result.output
    assert _error_line(result).startswith(f"qa: error: no recordings folder {tmp_path / 'nope'}: nothing to replay")
    assert result.stdout == "" and not (tmp_path / "run.jsonl").exists()


def test_record_mode_keeps_no_reply_of_a_case_that_failed(tmp_path: Path, server: FaultServer) -> None:
    server.faults, server.fault_rate = ("refusal",), 1.0  # the model refuses every request
    folder = tmp_path / "rec"
    result = CliRunner().invoke(cli, ["--record-mode", "record", "--recordings", str(folder), "eval",
                                      "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl")])  # fmt: skip
    assert result.exit_code == 0, result.output  # refusals are the model's failures, scored, not harness errors
    assert list(folder.glob("[0-9a-f]*.json")) == []  # nothing a normal run rejects is stored as truth
    assert (
        "5 case(s) ended in an error, so their replies were not recorded" in result.stderr
    )  # the summary calls no model
    assert "q01#1" in result.stderr


def test_record_mode_checks_the_recordings_folder_before_the_first_case(tmp_path: Path, server: FaultServer) -> None:
    server.fault_rate = 0.0
    (tmp_path / "a-file").write_text("")
    result = CliRunner().invoke(cli, ["--record-mode", "record", "--recordings", str(tmp_path / "a-file" / "rec"), "eval",
                                      "--suite", str(mini_suite(tmp_path / "s")), "--log", str(tmp_path / "run.jsonl")])  # fmt: skip
    assert result.exit_code == 5, result.output
    assert _error_line(result).startswith(f"qa: error: cannot record into {tmp_path / 'a-file' / 'rec'}: ")
    assert server.stats.requests == 0 and not (tmp_path / "run.jsonl").exists()


def _error_line(result: Result) -> str:
    """The one error line (an info line such as "replaying with the recordings' model" may come first)."""
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("qa: error:")]
    return line

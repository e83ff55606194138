"""`qa run` driven as a user would: killed halfway and resumed, interrupted, bad input, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from qa.testing import FaultServer
from tests.bulk_support import QA, ROOT, cli_env, ids, make_corpus, output_lines, responder, run_qa


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_lines(path: Path, count: int, proc: subprocess.Popen[str], timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0
        if lines >= count:
            return lines
        if proc.poll() is not None:
            raise AssertionError(f"qa run ended before {count} lines: {proc.communicate()}")
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} lines after {timeout} s")


@pytest.mark.subprocess
def test_a_run_killed_halfway_resumes_with_nothing_done_twice_and_nothing_lost(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 200)
    args = ["run", str(corpus), "--concurrency", "4"]
    with FaultServer(responder, fault_rate=0.0, latency=0.05) as server:
        env = cli_env(server.base_url)
        whole = run_qa([*args, "-o", str(tmp_path / "whole.jsonl")], env)
        assert whole.returncode == 0, whole.stderr
        assert "200 items: 200 results, 0 errors" in whole.stdout

        out = tmp_path / "out.jsonl"
        proc = subprocess.Popen([str(QA), *args, "-o", str(out)], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        _wait_for_lines(out, 100, proc)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        before = ids(out)
        assert 100 <= len(before) < 200, "the kill must land halfway"
        requests = server.stats.requests

        resumed = run_qa([*args, "-o", str(out)], env)
        assert resumed.returncode == 0, resumed.stderr
        assert "200 run now" not in resumed.stdout
        assert f"{200 - len(before)} run now, {len(before)} already done" in resumed.stdout
        assert server.stats.requests - requests == 200 - len(before)  # only the missing items were asked

    after = ids(out)
    assert after[: len(before)] == before  # what the killed run wrote is untouched
    assert sorted(after) == sorted(set(after)) and len(after) == 200  # every id exactly once
    assert output_lines(out) == output_lines(tmp_path / "whole.jsonl")  # the same results as an uninterrupted run


@pytest.mark.subprocess
def test_ctrl_c_exits_130_keeps_what_finished_and_says_how_to_resume(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 40)
    out = tmp_path / "out.jsonl"
    with FaultServer(responder, fault_rate=0.0, latency=0.1) as server:
        env = cli_env(server.base_url)
        # A harness started in the background ignores SIGINT, and Python keeps an ignored SIGINT
        # ignored: the child gets the default back, so Ctrl-C is a KeyboardInterrupt as on a terminal.
        proc = subprocess.Popen([str(QA), "run", str(corpus), "-o", str(out), "--concurrency", "2"], env=env, cwd=ROOT,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_default_sigint)  # fmt: skip
        _wait_for_lines(out, 5, proc)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "run the same command again to resume" in stderr
        assert "Traceback" not in stderr
        kept = ids(out)
        assert 5 <= len(kept) < 40
        resumed = run_qa(["run", str(corpus), "-o", str(out)], env)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(ids(out)) == sorted(f"article-{n:04d}.txt" for n in range(40))


@pytest.mark.subprocess
def test_item_errors_exit_8_with_the_totals_and_json_totals_for_scripts(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 5, poisoned=(1,))
    with FaultServer(responder, fault_rate=0.0) as server:
        done = run_qa(["run", str(corpus), "-o", str(tmp_path / "out.jsonl"), "--json"], cli_env(server.base_url))
    assert done.returncode == 8, done.stderr
    totals = json.loads(done.stdout)
    assert totals["items"] == 5 and totals["results"] == 4 and totals["errors"] == {"OutputValidationError": 1}
    assert totals["usage"]["attempts"] == 4 + 3


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["run", "{tmp}/nowhere", "-o", "{tmp}/o.jsonl"], 3, "no such folder or file"),
        (["run", "{tmp}/bad.jsonl", "-o", "{tmp}/o.jsonl"], 3, "bad.jsonl:2: not a JSON object"),
        (["run", "{tmp}/articles", "-o", "{tmp}/o.jsonl", "--engine", "spark"], 2, "'spark' is not one of"),
        (["run", "{tmp}/articles"], 2, "--output is required"),
        (["run", "{tmp}/articles", "-o", "{tmp}/precious.jsonl"], 3, "was not written by qa run"),
        (["run", "{tmp}/articles", "-o", "{tmp}/o.jsonl", "--ask", " "], 3, "the question is empty"),
        (
            ["--backend", "embedded", "run", "{tmp}/articles", "-o", "{tmp}/o.jsonl", "--engine", "openai-batch"],
            2,
            "Batch API",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_documented_exit_code(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    make_corpus(tmp_path / "articles", 2)
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "text": "Fine."}\n{not json\n', encoding="utf-8")
    (tmp_path / "precious.jsonl").write_text("keep me\n", encoding="utf-8")
    done = run_qa([a.format(tmp=tmp_path) for a in args], cli_env("http://127.0.0.1:9/v1"))
    assert done.returncode == code, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (tmp_path / "precious.jsonl").read_text() == "keep me\n"


@pytest.mark.subprocess
def test_dry_run_prints_tokens_and_cost_per_model_and_calls_nothing(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "articles", 3)
    with FaultServer(responder, fault_rate=0.0) as server:
        done = run_qa(
            ["--model", "gpt-4o-mini", "run", str(corpus), "--ask", "Who voted?", "--dry-run"], cli_env(server.base_url)
        )
        assert server.stats.requests == 0
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("3 items, 0 already done, 0 unreadable: 3 requests")
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert rows["gpt-4o-mini"][1] == "backend" and rows["gpt-4o"][1] == "tiktoken"
    assert rows["gpt-4o-mini"][4].startswith("$") and not (tmp_path / "o.jsonl").exists()

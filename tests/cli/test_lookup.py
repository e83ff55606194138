"""Tests for qa.cli.lookup: finding an article by path, stdin, id, file name or title prefix."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qa.cli.lookup import SEEDS_DIR, find_article, looks_like_path, read_stdin_article
from qa.errors import ArticleError

SEED_FILE = SEEDS_DIR / "000_db386d23d8a38732.txt"


def write(folder: Path, name: str, title: str) -> Path:
    path = folder / name
    path.write_text(f"{title}\n\nFirst paragraph of {title}. It has two sentences.\n", encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write(tmp_path, "001_aaaa1111.txt", "Storm hits coast")
    write(tmp_path, "002_bbbb2222.txt", "Storm warning lifted")
    write(tmp_path, "003_cccc3333.md", "Budget passes")
    return tmp_path


def test_default_is_the_first_file(folder: Path) -> None:
    assert find_article(None, folder).title == "Storm hits coast"
    assert find_article("", folder).title == "Storm hits coast"


def test_default_seed_is_the_shipped_seed() -> None:
    article = find_article()
    assert Path(article.source) == SEED_FILE


def test_a_path_is_loaded(folder: Path) -> None:
    article = find_article(str(folder / "003_cccc3333.md"), folder)
    assert article.title == "Budget passes"


def test_a_missing_path_names_the_path(folder: Path) -> None:
    with pytest.raises(ArticleError, match=r"nowhere/missing\.txt: no such file"):
        find_article("nowhere/missing.txt", folder)


def test_title_prefix_any_case(folder: Path) -> None:
    assert find_article("BUDGET", folder).title == "Budget passes"
    assert find_article("storm h", folder).title == "Storm hits coast"


def test_file_name_and_its_id_part(folder: Path) -> None:
    assert find_article("002", folder).title == "Storm warning lifted"
    assert find_article("cccc", folder).title == "Budget passes"


def test_article_id_prefix(folder: Path) -> None:
    target = find_article("003", folder)
    assert find_article(target.id[:6], folder).id == target.id


def test_ambiguous_prefix_lists_the_candidates(folder: Path) -> None:
    with pytest.raises(ArticleError) as info:
        find_article("storm", folder)
    message = str(info.value)
    assert "matches 2 articles" in message
    assert "Storm hits coast" in message and "Storm warning lifted" in message
    assert "Budget passes" not in message


def test_exact_title_wins_over_longer_titles(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Storm")
    write(tmp_path, "b.txt", "Storm hits coast")
    assert find_article("storm", tmp_path).title == "Storm"


def test_unknown_reference_lists_the_seeds(folder: Path) -> None:
    with pytest.raises(ArticleError) as info:
        find_article("volcano", folder)
    message = str(info.value)
    assert message.startswith("volcano: no such file")
    assert "Budget passes" in message


def test_no_seeds_at_all(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="holds no seed articles"):
        find_article(None, tmp_path / "absent")
    with pytest.raises(ArticleError, match="no such file"):
        find_article("anything", tmp_path)


def test_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = SEED_FILE.read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    article = find_article("-")
    assert article.source == "<stdin>"
    assert article.text == find_article(str(SEED_FILE)).text


def test_stdin_bom_is_dropped_and_bad_bytes_refused() -> None:
    article = read_stdin_article(io.BytesIO(b"\xef\xbb\xbfTitle\n\nBody text here.\n"))
    assert article.title == "Title"
    with pytest.raises(ArticleError, match=r"<stdin>: not UTF-8"):
        read_stdin_article(io.BytesIO(b"Title\n\nBody \xff text.\n"))
    with pytest.raises(ArticleError, match="empty"):
        read_stdin_article(io.BytesIO(b"  \n"))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("a/b", True), ("notes.md", True), ("x.TXT", True), ("china", False), ("0ee5", False)],
)
def test_looks_like_path(ref: str, expected: bool) -> None:
    assert looks_like_path(ref) is expected

"""qa.bulk.corpus: folders, globs and JSONL become items; a bad corpus is one clear CorpusError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.bulk.corpus import read_corpus
from qa.errors import ArticleError, CorpusError
from qa.testing.synthetic import write_articles


def test_a_folder_gives_its_articles_sorted_by_name_and_skips_the_rest(tmp_path: Path) -> None:
    write_articles(tmp_path, 3)
    (tmp_path / "notes.md").write_text("# Notes\n\nA body paragraph here.\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("Hidden\n\nBody.\n", encoding="utf-8")
    (tmp_path / "data.csv").write_text("a,b\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    items = read_corpus(tmp_path)
    assert [i.id for i in items] == ["article-0000.txt", "article-0001.txt", "article-0002.txt", "notes.md"]
    assert items[0].source == str(tmp_path / "article-0000.txt")
    assert items[0].load().title == "Northbridge council backs budget plan number 0"


def test_a_glob_matches_files_recursively_and_keeps_the_path_as_id(tmp_path: Path) -> None:
    write_articles(tmp_path / "a", 2)
    write_articles(tmp_path / "b" / "deep", 1, start=5)
    items = read_corpus(str(tmp_path / "**" / "*.txt"))
    assert [Path(i.id).name for i in items] == ["article-0000.txt", "article-0001.txt", "article-0005.txt"]
    assert items[2].id == str(tmp_path / "b" / "deep" / "article-0005.txt")


def test_jsonl_lines_become_articles_with_their_ids_and_titles(tmp_path: Path) -> None:
    path = tmp_path / "wires.jsonl"
    rows = [
        {"id": "w1", "title": "Port reopens", "text": "The port reopened on Monday after repairs.", "url": "ignored"},
        {"id": 7, "title": None, "text": "Rain\n\nHeavy rain fell across the valley overnight."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    items = read_corpus(path)
    assert [i.id for i in items] == ["w1", "7"]
    assert [i.source for i in items] == [f"{path}:1", f"{path}:2"]
    first = items[0].load()
    assert first.title == "Port reopens"
    assert "The port reopened on Monday after repairs." in first.text
    assert items[1].load().title == "Rain"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("not json", "not a JSON object"),
        ('["a list"]', "expected a JSON object"),
        ('{"title": "t", "text": "x"}', "'id' must be"),
        ('{"id": "", "text": "x"}', "'id' must be"),
        ('{"id": "a", "title": "t"}', "'text' must be a string"),
        ('{"id": "a", "text": "x", "title": 3}', "'title' must be a string or null"),
    ],
)
def test_a_bad_jsonl_line_is_a_corpus_error_naming_the_line(tmp_path: Path, line: str, says: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "ok", "text": "Fine text here."}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        read_corpus(path)
    assert f"{path}:2:" in str(caught.value)
    assert says in str(caught.value)


def test_duplicate_ids_are_refused_with_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"id": "x", "text": "One."}\n{"id": "y", "text": "Two."}\n{"id": "x", "text": "Three."}\n', encoding="utf-8"
    )
    with pytest.raises(CorpusError, match=r"c.jsonl:3: id 'x' is already used on line 1"):
        read_corpus(path)


def test_missing_paths_empty_folders_and_empty_globs_are_corpus_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such folder or file"):
        read_corpus(tmp_path / "nowhere")
    with pytest.raises(CorpusError, match="holds no .txt or .md articles"):
        read_corpus(tmp_path)
    with pytest.raises(CorpusError, match="matches no files"):
        read_corpus(str(tmp_path / "*.txt"))
    (tmp_path / "blank.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="holds no articles"):
        read_corpus(tmp_path / "blank.jsonl")


def test_an_unreadable_article_fails_alone_when_it_is_loaded(tmp_path: Path) -> None:
    paths = write_articles(tmp_path, 2)
    paths[1].write_bytes(b"\x00\x01binary")
    items = read_corpus(tmp_path)  # the corpus itself is fine
    assert items[0].load().paragraphs
    with pytest.raises(ArticleError, match="binary"):
        items[1].load()

"""Read a corpus for `qa run`: a folder, a glob of article files, or JSONL with one article a line.

    read_corpus("articles/")              # every visible .txt/.md file directly inside, by name
    read_corpus("archive/**/*.txt")       # a glob (recursive `**` allowed), sorted
    read_corpus("wires.jsonl")            # {"id": ..., "title": ..., "text": ...} per line

Each article becomes a `CorpusItem`: its id in the corpus (the file's path relative to the
folder, the path as the glob matched it, or the JSONL `id`), where it was read from, and a
`load()` that parses it. Problems with the corpus as a whole (a missing folder, a glob that
matches nothing, a JSONL line that is not an article object, two articles with one id) raise
`CorpusError` before anything runs. A problem with one article's text (empty, binary, not
UTF-8) is that article's own `ArticleError`, raised by `load()`: the run records it and goes
on. JSONL objects may carry other fields (url, date, ...); they are ignored.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from qa.errors import CorpusError
from qa.text.article import Article, load_article, parse_article

__all__ = ["ARTICLE_SUFFIXES", "CorpusItem", "read_corpus"]

ARTICLE_SUFFIXES = (".txt", ".md")
"""Files a folder corpus takes (a glob takes whatever it matches)."""
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class CorpusItem:
    """One article of a corpus, not read yet."""

    id: str
    """The article's id in the corpus: unique, and the key of its results."""
    source: str
    """Where it comes from: a file path, or `file.jsonl:LINE`."""
    load: Callable[[], Article]
    """Read and parse the article; `ArticleError` when its text cannot be used."""


def read_corpus(corpus: str | os.PathLike[str]) -> list[CorpusItem]:
    """The articles of `corpus`, in a stable order (see the module docstring)."""
    text = os.fspath(corpus)
    path = Path(text)
    if path.is_dir():
        return _folder(path)
    if path.is_file():
        if path.suffix.lower() in _JSONL_SUFFIXES:
            return _jsonl(path)
        return [CorpusItem(id=path.name, source=text, load=lambda: load_article(path))]
    if _GLOB_CHARS & set(text):
        return _glob(text)
    raise CorpusError(f"{text}: no such folder or file. Pass a folder of articles, a glob, or a .jsonl file.")


def _file_item(item_id: str, path: Path) -> CorpusItem:
    return CorpusItem(id=item_id, source=str(path), load=lambda: load_article(path))


def _folder(folder: Path) -> list[CorpusItem]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise CorpusError(f"{folder}: cannot list the folder ({exc.strerror}).") from exc
    files = [p for p in entries if p.suffix.lower() in ARTICLE_SUFFIXES and not p.name.startswith(".") and p.is_file()]
    if not files:
        raise CorpusError(f"{folder}: holds no .txt or .md articles. Add some, or pass a glob or a .jsonl file.")
    return [_file_item(p.name, p) for p in files]


def _glob(pattern: str) -> list[CorpusItem]:
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not paths:
        raise CorpusError(f"{pattern}: the glob matches no files.")
    return [_file_item(p, Path(p)) for p in paths]


def _jsonl(path: Path) -> list[CorpusItem]:
    try:
        with path.open("rb") as handle:
            raw_lines = handle.read().split(b"\n")
    except OSError as exc:
        raise CorpusError(f"{path}: cannot be read ({exc.strerror}).") from exc
    items: list[CorpusItem] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        where = f"{path}:{lineno}"
        item_id, title, body = _article_fields(raw, where)
        if item_id in seen:
            raise CorpusError(f"{where}: id {item_id!r} is already used on line {seen[item_id]}; ids must be unique.")
        seen[item_id] = lineno
        text = f"{title}\n\n{body}" if title else body
        items.append(CorpusItem(id=item_id, source=where, load=partial(parse_article, text, where)))
    if not items:
        raise CorpusError(f"{path}: holds no articles (every line is blank).")
    return items


def _article_fields(raw: bytes, where: str) -> tuple[str, str | None, str]:
    """(id, title, text) of one JSONL line; `CorpusError` naming the line otherwise."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise CorpusError(f"{where}: not a JSON object ({exc}).") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: expected a JSON object with id, title and text, got {type(data).__name__}.")
    item_id, title, text = data.get("id"), data.get("title"), data.get("text")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise CorpusError(f"{where}: 'id' must be a non-empty string or an integer.")
    if not isinstance(text, str):
        raise CorpusError(f"{where}: 'text' must be a string (the article's body).")
    if title is not None and not isinstance(title, str):
        raise CorpusError(f"{where}: 'title' must be a string or null.")
    return item_id, (title.strip() or None) if title else None, text

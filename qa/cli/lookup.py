"""Find the article a user means: a path, "-" for stdin, or a seed's id or title prefix.

    find_article("seeds/000_db386d23d8a38732.txt")   # a file
    find_article("-")                                # standard input
    find_article("0ee5")                             # an article id (or its file name) prefix
    find_article("china and col")                    # a title prefix, any case
    find_article(None)                               # the first seed

References other than paths are looked up among the articles in `folder` (default: the
`seeds/` folder of the source checkout qa runs from; seeds are repository data, not in the
wheel, so an installed qa needs an article path or "-"). A reference that matches several articles, or none,
raises `ArticleError` naming the candidates, so the user can pick one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, TextIO

from qa.errors import ArticleError
from qa.text.article import MAX_ARTICLE_BYTES, Article, load_article, load_articles, parse_article

__all__ = ["SEEDS_DIR", "find_article", "looks_like_path", "read_stdin_article"]

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"
"""The folder of seed articles that references are looked up in by default: the checkout's
`seeds/` (absent when qa is installed from a wheel: it is not package data)."""

_NOT_INSTALLED = "seed articles come with a source checkout of qa, not with an installed wheel"

_MAX_LISTED = 8


def find_article(ref: str | None = None, folder: Path = SEEDS_DIR) -> Article:
    """The article `ref` names; with no `ref`, the first article in `folder`."""
    if ref is None or not ref.strip():
        return _first_seed(folder)
    if ref == "-":
        return read_stdin_article()
    path = Path(ref).expanduser()
    if path.exists() or looks_like_path(ref):
        return load_article(path)  # its errors name the path
    return _match_seed(ref.strip(), folder)


def read_stdin_article(stream: BinaryIO | None = None) -> Article:
    """Read one article (UTF-8) from `stream`, default standard input."""
    source: BinaryIO | TextIO = stream if stream is not None else getattr(sys.stdin, "buffer", None) or sys.stdin
    data = source.read(MAX_ARTICLE_BYTES + 1)
    if isinstance(data, str):  # a text stream without a binary buffer (some test harnesses)
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(f"<stdin>: more than {MAX_ARTICLE_BYTES:,} bytes; trim the article.")
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(f"<stdin>: not UTF-8 (byte offset {exc.start}); re-encode it as UTF-8.") from exc
    return parse_article(text, source="<stdin>")


def looks_like_path(ref: str) -> bool:
    """True when `ref` is meant as a file: it has a directory separator or a .txt/.md suffix."""
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return any(s in ref for s in separators) or Path(ref).suffix.lower() in (".txt", ".md")


def _seeds(folder: Path) -> list[Article]:
    """Every article in `folder`, by file name; [] when there is no such folder or no article."""
    if not folder.is_dir():
        return []
    files = [f for f in folder.iterdir() if f.suffix.lower() in (".txt", ".md") and not f.name.startswith(".")]
    return load_articles(folder) if any(f.is_file() for f in files) else []


def _first_seed(folder: Path) -> Article:
    seeds = _seeds(folder)
    if not seeds:
        why = "" if folder.is_dir() else f" (no such folder: {_NOT_INSTALLED})"
        raise ArticleError(
            f"no article given and {folder} holds no seed articles{why}: pass a path to an article, or '-'."
        )
    return seeds[0]


def _keys(article: Article) -> list[str]:
    """What a reference may be a prefix of: the article id, the file name, its id part."""
    stem = Path(article.source).stem.lower()
    keys = [article.id, stem]
    if "_" in stem:
        keys.append(stem.split("_", 1)[1])
    return keys


def _describe(article: Article) -> str:
    return f"{article.id[:8]} {Path(article.source).name} {article.title!r}"


def _match_seed(ref: str, folder: Path) -> Article:
    seeds = _seeds(folder)
    wanted = ref.lower()
    exact = [a for a in seeds if wanted in _keys(a) or a.title.lower() == wanted]
    if len(exact) == 1:
        return exact[0]
    found = exact or [
        a for a in seeds if any(k.startswith(wanted) for k in _keys(a)) or a.title.lower().startswith(wanted)
    ]
    if len(found) == 1:
        return found[0]
    if not found and not folder.is_dir():
        raise ArticleError(
            f"{ref}: no such file (and no seed folder {folder} to look it up in as an id or title: {_NOT_INSTALLED})."
        )
    if not found:
        listed = "; ".join(_describe(a) for a in seeds[:_MAX_LISTED]) or "none"
        more = f" and {len(seeds) - _MAX_LISTED} more" if len(seeds) > _MAX_LISTED else ""
        raise ArticleError(
            f"{ref}: no such file, and no article in {folder} has that id, file name or title (seeds: {listed}{more})."
        )
    listed = "; ".join(_describe(a) for a in found[:_MAX_LISTED])
    more = f" and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
    raise ArticleError(
        f"{ref!r} matches {len(found)} articles in {folder}: {listed}{more}. Give more of the id or title."
    )

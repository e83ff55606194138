"""Load a news article from a file or a string into one canonical, offset-addressable text.

Three layouts are read: the seed format (a ` date YYYY-MM-DD SECTION` line, then headline,
standfirst, photo caption and dateline one per line, a blank line, and body paragraphs), plain
text (title = first line) and Markdown (`# Title`). `Article.text` is the paragraphs joined with
"\\n\\n"; every offset `qa` hands out (paragraphs, sentences, citations) points into it.
Every unusable input raises `ArticleError` with a message that names the file and the fix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from qa.errors import ArticleError

__all__ = ["MAX_ARTICLE_BYTES", "Article", "Paragraph", "Sentence", "load_article", "load_articles", "parse_article"]

MAX_ARTICLE_BYTES = 2_000_000
"""Largest article accepted, in bytes of UTF-8 (a file's size is checked with stat before reading)."""
MAX_TITLE_CHARS = 200
ParagraphKind = Literal["headline", "standfirst", "caption", "dateline", "subheading", "body"]

_HEADER = re.compile(r"^\s*(?:date\s+)?(\d{4}-\d{2}-\d{2})(?:\s+([\w&/ -]{1,40}?))?\s*$", re.IGNORECASE)
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
_CAPTION = re.compile(  # "... / AP", "... (AP Photo/Name)", "Photo: ..."
    r"(?:\s/\s*[A-Z][\w.&'’ -]{0,40}|\((?:[\w ]+ )?Photo\b[^)]*\))$|^(?:Photo|Image|Picture)s?:\s"
)
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE = re.compile(rf"\b(?:{_MONTH} \d{{1,2}},? \d{{4}}|\d{{1,2}} {_MONTH} \d{{4}}|\d{{4}}-\d\d-\d\d)\b")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Lookbehind and possessive quantifiers keep a long run of "!?." linear, not quadratic.
_SENTENCE_END = re.compile(r"""(?<![.!?…])[.!?…]++["'”’)\]]*+(?=\s+(["'“‘(\[]?)[A-Z0-9])""")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")  # "U.S", "a.m", "F"
_WORD = re.compile(r"\s*(\w+)")
# After a ".", _NEVER_SPLIT words never end a sentence; _MAYBE_SPLIT words and initials ("U.S.")
# end one only when a _STARTERS word follows ("... in the U.S. The deal ...").
_NEVER_SPLIT = set(
    [
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "Prof",
        "St",
        "Sen",
        "Rep",
        "Gov",
        "Gen",
        "Col",
        "Lt",
        "Sgt",
        "Capt",
        "Cpl",
        "Maj",
        "Adm",
        "Cmdr",
        "Rev",
        "Hon",
        "Pres",
        "Det",
        "No",
        "Nos",
        "vs",
        "Vs",
        "Mt",
        "Ft",
        "Fig",
        "approx",
        "cf",
        "e.g",
        "i.e",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
    ]
)
_MAYBE_SPLIT = set(["Inc", "Ltd", "Co", "Corp", "Jr", "Sr", "etc", "plc", "Bros", "LLC"])
_STARTERS = set(
    [
        "The",
        "A",
        "An",
        "It",
        "He",
        "She",
        "They",
        "We",
        "I",
        "You",
        "But",
        "And",
        "This",
        "That",
        "These",
        "Those",
        "There",
        "In",
        "On",
        "At",
        "His",
        "Her",
        "Its",
        "Their",
        "Our",
        "However",
        "Meanwhile",
        "So",
        "Yet",
        "If",
        "When",
        "While",
        "After",
        "Before",
        "As",
    ]
)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Paragraph(_Frozen):
    """One paragraph of an article, with its place in `Article.text`."""

    index: int
    """Position among the article's paragraphs, from 0."""
    kind: ParagraphKind
    """What the paragraph is: headline, standfirst, caption, dateline, subheading or body."""
    text: str
    """The paragraph, whitespace collapsed; always equals `article.text[start:end]`."""
    start: int
    """Offset of the first character in `Article.text`."""
    end: int
    """Offset just past the last character in `Article.text`."""


class Sentence(_Frozen):
    """One sentence of an article; `text`, `start` and `end` work as in `Paragraph`."""

    index: int
    """Position among the sentences returned, from 0."""
    paragraph: int
    """Index of the paragraph the sentence belongs to."""
    text: str
    start: int
    end: int


class Article(_Frozen):
    """A parsed article: metadata, typed paragraphs and the canonical text they index."""

    id: str
    """First 16 hex digits of the SHA-256 of the normalised source text; stable across machines."""
    source: str
    """Where the article came from: a path, "<stdin>" or "<string>"."""
    title: str
    """The headline (at most 200 characters)."""
    date: dt.date | None
    """Publication date from the header line, if there is one."""
    section: str | None
    """Section from the header line (e.g. "BIZTECH"), if there is one."""
    paragraphs: list[Paragraph]
    """Every paragraph in reading order."""
    text: str
    """The paragraphs joined with a blank line: the text every offset points into."""

    @model_validator(mode="after")
    def _offsets_match(self) -> Article:
        if self.text != "\n\n".join(p.text for p in self.paragraphs):
            raise ValueError("text must be the paragraphs joined with '\\n\\n'")
        for i, p in enumerate(self.paragraphs):
            if p.index != i or self.text[p.start : p.end] != p.text:
                raise ValueError(f"paragraph {i} has a wrong index or wrong offsets")
        return self

    def body_paragraphs(self) -> list[Paragraph]:
        """Return the body paragraphs (no headline, standfirst, caption, dateline or subheading)."""
        return [p for p in self.paragraphs if p.kind == "body"]

    def sentences(self, kinds: tuple[ParagraphKind, ...] = ("body",)) -> list[Sentence]:
        """Split the paragraphs of the given kinds (body by default) into sentences with offsets."""
        # Split once per article and kinds (every question about an article asks again).
        # The text and the paragraphs' kinds determine the paragraphs, so they make the key.
        key = (self.text, tuple(p.kind for p in self.paragraphs), kinds)
        cached = _SENTENCES.get(key)
        if cached is None:
            out: list[Sentence] = []
            for p in (p for p in self.paragraphs if p.kind in kinds):
                for s, e in _split_sentences(p.text):
                    out.append(
                        Sentence(
                            index=len(out), paragraph=p.index, text=p.text[s:e], start=p.start + s, end=p.start + e
                        )
                    )
            if len(_SENTENCES) >= _SENTENCES_KEPT:
                _SENTENCES.clear()
            cached = _SENTENCES[key] = tuple(out)
        return list(cached)

    def excerpt(self, start: int, end: int) -> str:
        """Return `text[start:end]`; raise ArticleError if the span is not inside the text."""
        if not 0 <= start <= end <= len(self.text):
            raise ArticleError(f"{self.source}: span {start}-{end} is outside the text (0-{len(self.text)}).")
        return self.text[start:end]


_SENTENCES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[Sentence, ...]] = {}
_SENTENCES_KEPT = 64


def _split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences of one whitespace-collapsed paragraph."""
    cuts = [0]
    for m in _SENTENCE_END.finditer(text):
        if m.group(0)[0] == "." and not m.group(1):  # an opening quote after the stop starts a sentence
            token = text[text.rfind(" ", 0, m.start()) + 1 : m.start()].lstrip("\"'“‘([")
            if token in _NEVER_SPLIT:
                continue
            next_word = _WORD.match(text, m.end())
            starter = next_word is not None and next_word.group(1) in _STARTERS
            if (token in _MAYBE_SPLIT or _INITIALS.fullmatch(token)) and not starter:
                continue
        cuts.append(m.end())
    cuts.append(len(text))
    chunks = [(s, text[s:e]) for s, e in itertools.pairwise(cuts) if text[s:e].strip()]
    return [(s + len(c) - len(c.lstrip()), s + len(c.rstrip())) for s, c in chunks]


def _blocks(lines: list[str]) -> list[list[str]]:
    """Group lines into blocks separated by blank lines; a Markdown heading is a block of its own."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line.strip():
            blocks.append([])
        elif _MD_HEADING.match(line):
            blocks += [[line], []]
        else:
            blocks[-1].append(line)
    return [b for b in blocks if b]


def _clean(line: str) -> str:
    """Collapse whitespace and drop Markdown heading marks."""
    heading = _MD_HEADING.match(line)
    return " ".join((heading.group(1) if heading else line).split())


def _body_kind(block: list[str]) -> tuple[ParagraphKind, str]:
    """Headings and short lines with no final stop (`‘$9.2 billion in credit’`) are subheadings."""
    text = " ".join(_clean(line) for line in block)
    bare = text.rstrip("\"'”’)]»*_")
    short = len(block) == 1 and len(text) <= 100 and len(text.split()) <= 12
    no_stop = bare != "" and bare[-1] not in ".!?…:;,"
    is_sub = _MD_HEADING.match(block[0]) is not None or (short and no_stop)
    return ("subheading" if is_sub else "body"), text


def _classify(blocks: list[list[str]], n_front: int | None) -> list[tuple[ParagraphKind, str]]:
    """Headline, standfirst (seed format: within the first `n_front` blocks), caption, dateline; then body."""
    parts: list[tuple[ParagraphKind, str]] = []
    seed = n_front is not None
    lone_line = len(blocks[0]) == 1 and len(blocks[0][0].strip()) <= MAX_TITLE_CHARS and len(blocks) > 1
    if seed or _MD_HEADING.match(blocks[0][0]) or lone_line:
        parts.append(("headline", _clean(blocks.pop(0)[0])))
    while blocks and len(blocks[0]) == 1 and (not seed or len(parts) < (n_front or 0)):
        line = _clean(blocks[0][0])
        kind: ParagraphKind | None = "caption" if len(line) <= 400 and _CAPTION.search(line) else None
        if not kind and len(line) <= 80 and len(line.split()) <= 10 and _DATE.search(line):
            kind = "dateline"
        if not kind and seed and len(parts) < 4 and all(k != "standfirst" for k, _ in parts):
            kind = "standfirst"
        if not kind:
            break
        parts.append((kind, line))
        blocks.pop(0)
    return parts + [_body_kind(b) for b in blocks]


def _too_big(source: str | Path, size: int) -> str:
    return f"{source}: {size:,} bytes is over the {MAX_ARTICLE_BYTES:,}-byte limit. Trim the article."


def _check_text(text: str, source: str) -> str:
    """Reject oversize, binary, non-UTF-8 or empty text; drop a BOM, CRs and stray control chars."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. stdin read with errors="surrogateescape"
        msg = f"{source}: not UTF-8 (bad character at offset {exc.start}). Re-save it as UTF-8."
        raise ArticleError(msg) from exc
    if size > MAX_ARTICLE_BYTES:
        raise ArticleError(_too_big(source, size))
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text or len(_CONTROL.findall(text)) > 0.05 * len(text):
        raise ArticleError(f"{source}: looks like a binary file, not text. Pass a .txt or .md article.")
    if not text.strip():
        raise ArticleError(f"{source}: the article is empty. Put the article text in the file.")
    return _CONTROL.sub(" ", text)


def parse_article(text: str, source: str = "<string>") -> Article:
    """Parse article text (seed format, plain text or Markdown) into an `Article`."""
    text = _check_text(text, source)
    lines = [line.rstrip() for line in text.split("\n")]
    lines = lines[next(i for i, line in enumerate(lines) if line.strip()) :]
    date, section, header = None, None, _HEADER.match(lines[0])
    if header:
        try:
            date = dt.date.fromisoformat(header.group(1))
        except ValueError as exc:
            msg = f"{source}: invalid date {header.group(1)!r} in the header line. Use YYYY-MM-DD."
            raise ArticleError(msg) from exc
        section = header.group(2) or None
        blocks = _blocks(lines[1:])  # the front block holds one paragraph per line
        n_front: int | None = len(blocks[0]) if blocks else 0
        blocks = [[line] for line in blocks[0]] + blocks[1:] if blocks else []
    else:
        blocks, n_front = _blocks(lines), None
    parts = _classify(blocks, n_front) if blocks else []
    parts = [(k, t) for k, t in parts if re.search(r"\w", t)]  # drop rules like `---` and empty headings
    if not any(k == "body" for k, _ in parts):
        raise ArticleError(f"{source}: no body text. Add paragraphs after the headline and a blank line.")
    heads = [t for k, t in parts if k == "headline"]
    paragraphs: list[Paragraph] = []
    for i, (kind, para) in enumerate(parts):
        start = paragraphs[-1].end + 2 if paragraphs else 0
        paragraphs.append(Paragraph(index=i, kind=kind, text=para, start=start, end=start + len(para)))
    digest = hashlib.sha256("\n".join(lines).strip().encode("utf-8")).hexdigest()[:16]
    title = (heads[0] if heads else _clean(lines[0]))[:MAX_TITLE_CHARS].rstrip()
    return Article(
        id=digest,
        source=source,
        title=title,
        date=date,
        section=section,
        paragraphs=paragraphs,
        text="\n\n".join(t for _, t in parts),
    )


def load_article(path: str | Path) -> Article:
    """Read one article file (UTF-8, optional BOM, LF or CRLF line endings) and parse it."""
    p = Path(path)
    try:
        if p.is_dir():
            raise ArticleError(f"{p}: is a directory, not an article file. Pass a .txt or .md file.")
        if (size := p.stat().st_size) > MAX_ARTICLE_BYTES:
            raise ArticleError(_too_big(p, size))
        with p.open("rb") as f:
            data = f.read(MAX_ARTICLE_BYTES + 1)  # bounded: the file may grow, or be a pipe
    except FileNotFoundError as exc:
        raise ArticleError(f"{p}: no such file. Check the path.") from exc
    except OSError as exc:
        raise ArticleError(f"{p}: cannot be read ({exc.strerror}). Check the path and permissions.") from exc
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(_too_big(p, len(data)))
    if b"\x00" in data:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        hint = "it is UTF-16; re-save it as UTF-8" if utf16 else "pass a .txt or .md article"
        raise ArticleError(f"{p}: looks like a binary file, not text ({hint}).")
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + skip
        msg = f"{p}: not UTF-8 (byte 0x{data[at]:02x} at byte offset {at}). Re-save it as UTF-8."
        raise ArticleError(msg) from exc
    return parse_article(text, source=str(p))


def load_articles(folder: str | Path) -> list[Article]:
    """Load every visible *.txt and *.md file directly inside `folder`, sorted by file name."""
    d = Path(folder)
    if not d.is_dir():
        raise ArticleError(f"{d}: not a folder. Pass a folder that holds .txt or .md articles.")
    files = [f for f in d.iterdir() if f.suffix.lower() in (".txt", ".md") and not f.name.startswith(".")]
    files = sorted((f for f in files if f.is_file()), key=lambda f: f.name)
    if not files:
        raise ArticleError(f"{d}: holds no .txt or .md articles. Add some, or pass another folder.")
    return [load_article(f) for f in files]

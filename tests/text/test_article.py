"""Tests for qa.text.article: the seed format, plain text, Markdown, sentences and every input error."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest

from qa.errors import ArticleError
from qa.text.article import (
    MAX_ARTICLE_BYTES,
    Article,
    Paragraph,
    load_article,
    load_articles,
    parse_article,
)

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_db386d23d8a38732.txt"

PLAIN = "Storm hits coast\n\nA storm hit the coast on Monday. Thousands lost power.\n\nRepairs began on Tuesday.\n"
MARKDOWN = (
    "# Storm hits coast #\n\nA storm hit the coast on Monday.\nThousands lost power.\n\n"
    "## What happens next\n\nRepairs began on Tuesday.\n\n---\n"
)


@pytest.fixture(scope="module")
def seed() -> Article:
    return load_article(SEED)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _assert_offsets(article: Article) -> None:
    assert article.text == "\n\n".join(p.text for p in article.paragraphs)
    for i, p in enumerate(article.paragraphs):
        assert p.index == i
        assert article.text[p.start : p.end] == p.text


# --- the seed format ------------------------------------------------------------------------


def test_seed_metadata(seed: Article) -> None:
    assert seed.title == "China and Colombia deepen ties with Belt and Road pact"
    assert seed.date == dt.date(2025, 5, 14)
    assert seed.section == "BIZTECH"
    assert seed.source == str(SEED)
    assert re.fullmatch(r"[0-9a-f]{16}", seed.id)


def test_seed_paragraph_kinds(seed: Article) -> None:
    kinds = [p.kind for p in seed.paragraphs]
    assert kinds[:4] == ["headline", "standfirst", "caption", "dateline"]
    assert kinds[4:] == ["body"] * 4 + ["subheading"] + ["body"] * 7
    p = seed.paragraphs
    assert p[1].text.startswith("China pledges $9.2 billion in credit")
    assert p[2].text == "Beijing pledged to import more high-quality Colombian products. / AP"
    assert p[3].text == "May 14, 2025"
    assert p[8].text == "‘$9.2 billion in credit’"


def test_seed_body_paragraphs(seed: Article) -> None:
    body = seed.body_paragraphs()
    assert len(body) == 11
    assert body[0].text.startswith("China and Colombia have signed a joint cooperation plan")
    assert body[-1].text.endswith("two-way ties first established in 1980.")
    assert all(p.kind == "body" for p in body)


def test_seed_offsets_round_trip(seed: Article) -> None:
    _assert_offsets(seed)


def test_seed_parses_from_string_like_file(seed: Article) -> None:
    again = parse_article(SEED.read_text(encoding="utf-8"), source="<stdin>")
    assert again.id == seed.id
    assert again.text == seed.text
    assert again.source == "<stdin>"


def test_seed_without_caption_and_dateline() -> None:
    text = " date 2025-05-14 BIZTECH\nHeadline here\nA standfirst line.\n\nBody one.\n\nBody two.\n"
    article = parse_article(text)
    assert [p.kind for p in article.paragraphs] == ["headline", "standfirst", "body", "body"]
    assert article.title == "Headline here"


def test_seed_without_caption() -> None:
    text = "date 2025-05-14 WORLD\nHeadline here\nA standfirst line.\nMay 14, 2025\n\nBody one.\n"
    article = parse_article(text)
    assert [p.kind for p in article.paragraphs] == ["headline", "standfirst", "dateline", "body"]
    assert article.section == "WORLD"


def test_seed_header_without_section() -> None:
    article = parse_article("date 2025-01-02\nHeadline\n\nBody.\n")
    assert article.date == dt.date(2025, 1, 2)
    assert article.section is None


# --- ids --------------------------------------------------------------------------------------


def test_id_same_text_same_id() -> None:
    assert parse_article(PLAIN).id == parse_article(PLAIN, source="other").id


def test_id_one_changed_character_changes_id() -> None:
    assert parse_article(PLAIN).id != parse_article(PLAIN.replace("Monday", "Monday!")).id
    assert parse_article(PLAIN).id != parse_article(PLAIN.replace("Thousands", "thousands")).id


def test_id_same_file_in_two_places(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.txt", SEED.read_bytes())
    (tmp_path / "sub").mkdir()
    b = _write(tmp_path / "sub", "renamed.md", SEED.read_bytes())
    assert load_article(a).id == load_article(b).id == load_article(SEED).id


# --- sentences --------------------------------------------------------------------------------


def test_sentences_round_trip_on_offsets(seed: Article) -> None:
    sentences = seed.sentences()
    assert len(sentences) == 12
    for i, s in enumerate(sentences):
        assert s.index == i
        assert seed.text[s.start : s.end] == s.text
        assert seed.paragraphs[s.paragraph].kind == "body"
        assert s.text == s.text.strip()


def test_sentences_keep_decimal_amount_together(seed: Article) -> None:
    hits = [s.text for s in seed.sentences() if "$9.2" in s.text]
    assert hits == [
        "The agreement came on the sidelines of a gathering of Latin American leaders in Beijing during "
        'which Xi also pledged $9.2 billion in credit towards "development".'
    ]


def test_sentences_split_before_opening_quote(seed: Article) -> None:
    texts = [s.text for s in seed.sentences()]
    first = '"The history of our foreign relations is changing," he wrote on X.'
    assert first in texts
    assert texts[texts.index(first) + 1].startswith('"From now on, Colombia')


def test_sentences_of_other_kinds(seed: Article) -> None:
    standfirst = seed.sentences(kinds=("standfirst",))
    assert [s.paragraph for s in standfirst] == [1]
    assert standfirst[0].text == seed.paragraphs[1].text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("The U.S. Senate voted. It passed.", ["The U.S. Senate voted.", "It passed."]),
        ("Aid went to the U.S. The rest stayed.", ["Aid went to the U.S.", "The rest stayed."]),
        ("Mr. Petro met Dr. Li. Talks went well.", ["Mr. Petro met Dr. Li.", "Talks went well."]),
        ("Sales rose 3.5% to $9.2 billion. It fell.", ["Sales rose 3.5% to $9.2 billion.", "It fell."]),
        ('"We agree." Officials nodded.', ['"We agree."', "Officials nodded."]),
        ('"Why?" she asked. Nobody knew!', ['"Why?" she asked.', "Nobody knew!"]),
        ("John F. Kennedy spoke. Then he left.", ["John F. Kennedy spoke.", "Then he left."]),
        ("It starts at 9 a.m. Friday. Be there.", ["It starts at 9 a.m. Friday.", "Be there."]),
        ("Acme Inc. said profits rose. Shares fell.", ["Acme Inc. said profits rose.", "Shares fell."]),
        ("It ranked No. 1 in Jan. 2025 overall.", ["It ranked No. 1 in Jan. 2025 overall."]),
        (
            "A paragraph that trails off without any final stop because the writer forgot it",
            ["A paragraph that trails off without any final stop because the writer forgot it"],
        ),
    ],
)
def test_sentence_splitting_cases(body: str, expected: list[str]) -> None:
    article = parse_article(f"Headline\n\n{body}\n\nA second paragraph here.")
    sentences = [s for s in article.sentences() if s.paragraph == 1]
    assert [s.text for s in sentences] == expected
    assert all(article.text[s.start : s.end] == s.text for s in sentences)


def test_excerpt(seed: Article) -> None:
    p = seed.paragraphs[3]
    assert seed.excerpt(p.start, p.end) == "May 14, 2025"
    assert seed.excerpt(0, 0) == ""
    with pytest.raises(ArticleError, match=re.escape(str(SEED))):
        seed.excerpt(0, len(seed.text) + 1)
    with pytest.raises(ArticleError):
        seed.excerpt(5, 4)
    with pytest.raises(ArticleError):
        seed.excerpt(-1, 4)


# --- plain text and Markdown ---------------------------------------------------------------


def test_plain_text() -> None:
    article = parse_article(PLAIN)
    assert article.title == "Storm hits coast"
    assert article.date is None and article.section is None
    assert [p.kind for p in article.paragraphs] == ["headline", "body", "body"]
    assert article.paragraphs[1].text == "A storm hit the coast on Monday. Thousands lost power."
    _assert_offsets(article)


def test_plain_text_title_is_trimmed_and_capped() -> None:
    long_line = "  " + "word " * 80 + "end.  "
    article = parse_article(long_line + "\nSecond line of the same paragraph.\n\nAnother paragraph.")
    assert len(article.title) <= 200
    assert article.title == " ".join(long_line.split())[:200].rstrip()
    assert [p.kind for p in article.paragraphs] == ["body", "body"]


def test_plain_text_hard_wrapped_lines_join_into_one_paragraph() -> None:
    article = parse_article("Title\n\nFirst line\nsecond line\n  third line.\n")
    assert article.body_paragraphs()[0].text == "First line second line third line."


def test_plain_text_dateline_after_title() -> None:
    article = parse_article("Title\n\n14 May 2025\n\nBody text here.")
    assert [p.kind for p in article.paragraphs] == ["headline", "dateline", "body"]


def test_markdown() -> None:
    article = parse_article(MARKDOWN)
    assert article.title == "Storm hits coast"
    assert [p.kind for p in article.paragraphs] == ["headline", "body", "subheading", "body"]
    assert article.paragraphs[1].text == "A storm hit the coast on Monday. Thousands lost power."
    assert article.paragraphs[2].text == "What happens next"
    _assert_offsets(article)


def test_markdown_heading_directly_followed_by_text(tmp_path: Path) -> None:
    path = _write(tmp_path, "story.md", b"## Title\nBody starts right away.\n")
    article = load_article(path)
    assert article.title == "Title"
    assert [p.kind for p in article.paragraphs] == ["headline", "body"]


# --- encodings and line endings ------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        lambda b: b.replace(b"\n", b"\r\n"),
        lambda b: b"\xef\xbb\xbf" + b,
        lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"),
        lambda b: b.replace(b"\n", b"\r"),
    ],
    ids=["crlf", "bom", "bom+crlf", "cr"],
)
def test_crlf_and_bom_match_lf(tmp_path: Path, variant: Callable[[bytes], bytes]) -> None:
    lf = load_article(SEED)
    other = load_article(_write(tmp_path, "x.txt", variant(SEED.read_bytes())))
    assert other.text == lf.text
    assert other.paragraphs == lf.paragraphs
    assert other.id == lf.id
    assert "\r" not in other.text and "\ufeff" not in other.text


def test_bom_in_string_input() -> None:
    assert parse_article("\ufeff" + PLAIN).text == parse_article(PLAIN).text


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\t\n \r\n", "empty"),
        ("nul.txt", b"Title\n\nSome text\x00\x00\x01 more", "binary"),
        ("noise.txt", bytes(range(1, 32)) * 20 + b"text", "binary"),
        ("utf16.txt", "Title\n\nBody.".encode("utf-16"), "UTF-16"),
        ("latin1.txt", "Title\n\nCaf\u00e9 opens.".encode("latin-1"), "byte offset 10"),
        ("nobody.txt", b"date 2025-05-14 BIZTECH\nOnly a headline\n", "no body"),
        ("baddate.txt", b"date 2025-13-40 BIZTECH\nHeadline\n\nBody.\n", "YYYY-MM-DD"),
    ],
)
def test_bad_files_raise_article_error_naming_the_file(tmp_path: Path, name: str, data: bytes, fragment: str) -> None:
    path = _write(tmp_path, name, data)
    with pytest.raises(ArticleError) as info:
        load_article(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_bom_offset_counts_from_file_start(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom-latin1.txt", b"\xef\xbb\xbfAb\xff")
    with pytest.raises(ArticleError, match="byte offset 5"):
        load_article(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(ArticleError, match=re.escape(str(path))):
        load_article(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="directory") as info:
        load_article(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_huge_file_rejected_by_size_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(10_000_000)  # sparse: 10 MB on stat, nothing written

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_open)
    with pytest.raises(ArticleError, match="limit") as info:
        load_article(path)
    assert str(path) in str(info.value)


def test_file_just_over_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.txt", b"Title\n\n" + b"word " * (MAX_ARTICLE_BYTES // 5))
    with pytest.raises(ArticleError, match="limit"):
        load_article(path)


def test_string_errors() -> None:
    with pytest.raises(ArticleError, match="<stdin>"):
        parse_article("", source="<stdin>")
    with pytest.raises(ArticleError, match="limit"):
        parse_article("x" * (MAX_ARTICLE_BYTES + 1))
    with pytest.raises(ArticleError, match="UTF-8"):
        parse_article("Title\n\nBad \udcff byte.")
    with pytest.raises(ArticleError, match="binary"):
        parse_article("Title\n\nA\x00B")


def test_stray_control_characters_become_spaces() -> None:
    article = parse_article("Title\n\nOne\x0btwo\x07three, and a long enough line of ordinary text.")
    assert article.body_paragraphs()[0].text == "One two three, and a long enough line of ordinary text."


# --- folders ----------------------------------------------------------------------------------


def test_load_articles(tmp_path: Path) -> None:
    _write(tmp_path, "b.md", MARKDOWN.encode())
    _write(tmp_path, "a.txt", PLAIN.encode())
    _write(tmp_path, "c.TXT", PLAIN.replace("Storm", "Flood").encode())
    _write(tmp_path, ".hidden.txt", PLAIN.encode())
    _write(tmp_path, "notes.json", b"{}")
    (tmp_path / "dir.txt").mkdir()
    articles = load_articles(tmp_path)
    assert [Path(a.source).name for a in articles] == ["a.txt", "b.md", "c.TXT"]
    assert articles[2].title == "Flood hits coast"


@pytest.mark.parametrize("setup", ["empty", "only-hidden", "missing"])
def test_load_articles_errors(tmp_path: Path, setup: str) -> None:
    folder = tmp_path / "articles"
    if setup != "missing":
        folder.mkdir()
    if setup == "only-hidden":
        _write(folder, ".x.txt", PLAIN.encode())
    with pytest.raises(ArticleError, match=re.escape(str(folder))):
        load_articles(folder)


def test_load_articles_names_the_bad_file(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", PLAIN.encode())
    bad = _write(tmp_path, "b.txt", b"")
    with pytest.raises(ArticleError, match=re.escape(str(bad))):
        load_articles(tmp_path)


# --- the models -----------------------------------------------------------------------------


def test_models_are_frozen_and_strict(seed: Article) -> None:
    with pytest.raises(pydantic.ValidationError):
        seed.title = "changed"
    with pytest.raises(pydantic.ValidationError):
        Paragraph(index=0, kind="body", text="x", start=0, end=1, extra=1)
    with pytest.raises(pydantic.ValidationError):
        Paragraph(index=0, kind="footnote", text="x", start=0, end=1)


def test_article_rejects_wrong_offsets(seed: Article) -> None:
    data = seed.model_dump()
    data["paragraphs"][1]["start"] += 1
    with pytest.raises(pydantic.ValidationError):
        Article.model_validate(data)
    assert Article.model_validate(seed.model_dump()) == seed
    assert Article.model_validate_json(seed.model_dump_json()) == seed


def test_seed_single_line_body_after_front_block_stays_body() -> None:
    article = parse_article("date 2025-05-14 X\nHeadline\nA standfirst.\n\nOnly one body paragraph.\n")
    assert [p.kind for p in article.paragraphs] == ["headline", "standfirst", "body"]

from __future__ import annotations

import pytest

from qa.article import parse_article
from qa.chunking import pack, pieces, select_relevant, span_text
from qa.errors import ContextLengthError


def words(text: str) -> int:
    return len(text.split())


LONG = parse_article(
    "A long story\n\n"
    + "\n\n".join(
        f"Paragraph {i} talks about {'coffee exports' if i == 17 else 'weather'} and nothing else at all today." for i in range(40)
    )
)


def test_pieces_follow_paragraphs_and_cover_the_body() -> None:
    spans = pieces(LONG, words, 50)
    assert len(spans) == len(LONG.paragraphs)
    assert all(LONG.text[s:e] == p.text for (s, e), p in zip(spans, LONG.paragraphs, strict=True))


def test_an_oversized_paragraph_is_cut_at_sentences() -> None:
    article = parse_article("Title here\n\n" + " ".join(f"Sentence number {i} is here." for i in range(30)))
    title, *body = pieces(article, words, 12)
    assert article.text[title[0] : title[1]] == "Title here"
    assert len(body) == 30
    assert all(words(article.text[s:e]) <= 12 for s, e in body)
    assert "".join(article.text[s:e] for s, e in body).strip() == article.paragraphs[1].text


def test_pack_makes_consecutive_chunks_within_budget() -> None:
    spans = pieces(LONG, words, 50)
    chunks = pack(LONG, spans, words, 60)
    assert len(chunks) > 1
    assert [s for chunk in chunks for s in chunk] == spans  # nothing lost, order kept
    assert all(sum(words(LONG.text[s:e]) + 2 for s, e in chunk) <= 60 for chunk in chunks)


def test_pack_refuses_a_piece_larger_than_the_budget() -> None:
    with pytest.raises(ContextLengthError):
        pack(LONG, pieces(LONG, words, 100), words, 5)


def test_select_relevant_keeps_the_matching_paragraph_in_reading_order() -> None:
    spans = pieces(LONG, words, 50)
    chosen = select_relevant(LONG, spans, "What about coffee exports?", words, 40)
    assert "coffee exports" in span_text(LONG, chosen)
    assert chosen == sorted(chosen)
    assert sum(words(LONG.text[s:e]) + 2 for s, e in chosen) <= 40

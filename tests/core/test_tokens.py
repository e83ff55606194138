"""Token counting: the paragraph-wise cached counter stays within its stated bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

import qa
from qa.backends.backend import open_backend
from qa.core.tokens import paragraph_counter, tiktoken_counter
from qa.tasks.answer import answer_steps
from qa.tasks.answer_many import batch_steps
from qa.tasks.summarize import summary_steps
from tests.conftest import EMBEDDED_TEST_MODEL

ROOT = Path(__file__).resolve().parents[2]


def prompt_texts() -> list[str]:
    """Real prompts (answer, batched answers and summary: system and numbered article) and the seed article itself."""
    article = qa.load_article(ROOT / "seeds" / "000_db386d23d8a38732.txt")
    backend = open_backend(
        qa.Settings.load(env={}, backend="openai", api_key="sk-test-not-real-0000000000", record_mode="off")
    )
    texts = [article.text, (ROOT / "seeds" / "000_db386d23d8a38732.txt").read_text()]
    for steps in (
        answer_steps(article, "Who signed the plan?", backend),
        batch_steps(article, ["Who signed the plan?", "How much credit was pledged?"], backend),
        summary_steps(article, backend),
    ):
        texts += [message["content"] for message in next(steps).body["messages"]]
        steps.close()
    assert sum("[1] " in t for t in texts) == 3  # every prompt shows the article as numbered sentences
    return texts


def _counter(name: str):
    if name == "cl100k":
        return tiktoken_counter("gpt-4o-mini")
    pytest.importorskip("llama_cpp", reason="the embedded model needs the qa[local] extra")
    from qa.backends.embedded import load_model

    return load_model(EMBEDDED_TEST_MODEL).count_tokens  # loaded when the test runs, not at collection


@pytest.mark.parametrize("name", ["cl100k", pytest.param("SmolLM2", marks=pytest.mark.embedded)])
def test_paragraph_counts_never_fall_below_the_whole_count(name: str) -> None:
    count = _counter(name)
    counter = paragraph_counter(count)
    for text in prompt_texts():
        whole, by_paragraph = count(text), counter(text)
        paragraphs = text.count("\n\n") + 1
        assert whole <= by_paragraph <= whole + paragraphs, (name, text[:60])


def test_short_texts_are_counted_whole_and_each_paragraph_once() -> None:
    seen: list[str] = []

    def count(text: str) -> int:
        seen.append(text)
        return len(text.split())

    counter = paragraph_counter(count)
    assert counter("one two three") == 3
    article = "\n\n".join(f"Paragraph {i} " + "word " * 60 for i in range(10))
    first = counter(article + "\n\nQuestion: who?")
    seen.clear()
    second = counter(article + "\n\nQuestion: when exactly?")
    assert seen == ["Question: when exactly?"]  # the article's paragraphs came from the cache
    assert second == first + 1

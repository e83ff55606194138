"""The article as numbered sentences: what a model cites, and how a citation becomes a quote.

A model cites evidence by sentence number, not by copying text: `evidence_sentences`
numbers the body sentences and subheadings of an article from 1, in reading order, the same way for every call about the same article. The prompt shows
them as `[n] sentence` lines inside the article's marker block (`numbered_block`), and
the response schema limits every sentence number to an enum of these numbers (0 meaning
"no sentence says"), so on grammar backends and strict `json_schema` a reply cannot name
a sentence that does not exist. A cited number becomes a `Citation` whose quote is the
sentence itself and whose offsets point into `Article.text`: verbatim on every backend.

Photo captions and datelines are not numbered: they are not statements of the story.
Neither are the headline and standfirst (see `EVIDENCE_KINDS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from qa.core.prompts import article_block
from qa.core.structured import TokenLogprob
from qa.schemas import MAX_QUOTE_CHARS, Citation
from qa.text.article import Article, ParagraphKind, Sentence
from qa.text.support import content_terms

__all__ = [
    "EVIDENCE_KINDS",
    "answer_logprob",
    "answer_logprob_sum",
    "answer_sentence",
    "chosen_number_probability",
    "citation_for",
    "evidence_sentences",
    "no_evidence_probability",
    "numbered_block",
    "yes_probability",
]

EVIDENCE_KINDS: tuple[ParagraphKind, ...] = ("subheading", "body")
"""What is numbered: the body and its subheadings. The headline and standfirst summarise the
story in other words (a standfirst's "China pledges $9.2 billion in credit as Colombia
enters..." reads as if the credit went to Colombia); small models cite them first when the
body says it precisely, so they are left out, unless an article has nothing else."""


def evidence_sentences(article: Article) -> list[Sentence]:
    """The sentences a model may cite; sentence number n is `evidence_sentences(a)[n - 1]`."""
    return article.sentences(EVIDENCE_KINDS) or article.sentences(("headline", "standfirst", "subheading", "body"))


def numbered_block(article: Article, numbers: Sequence[int] | None = None) -> str:
    """The article as `[n] sentence` lines (all, or only `numbers`) inside its marker block.

    Sentences of one paragraph share a line group; paragraphs are separated by a blank
    line, so the model still sees the article's structure. The block depends only on the
    article (and `numbers`), so it is byte-identical for every question about it.
    """
    sentences = evidence_sentences(article)
    keep = set(numbers) if numbers is not None else None
    lines: list[str] = []
    paragraph = None
    for n, sentence in enumerate(sentences, 1):
        if keep is not None and n not in keep:
            continue
        if paragraph is not None and sentence.paragraph != paragraph:
            lines.append("")
        paragraph = sentence.paragraph
        lines.append(f"[{n}] {sentence.text}")
    return article_block("\n".join(lines))


"""A citation quotes at most this much of its sentence (`Citation.quote`'s bound): a longer
sentence is quoted from its start, cut at a word, with offsets that still match."""


def citation_for(article: Article, number: int) -> Citation:
    """The citation for sentence `number`: its exact text and offsets in `article.text`."""
    sentence = evidence_sentences(article)[number - 1]
    text = sentence.text
    if len(text) > MAX_QUOTE_CHARS:
        cut = text.rfind(" ", 0, MAX_QUOTE_CHARS)
        text = text[: cut if cut > 0 else MAX_QUOTE_CHARS].rstrip()
    return Citation(quote=text, start=sentence.start, end=sentence.start + len(text))


MISCOUNT = 2
"""How far from the cited number a citation may move to the sentence that holds the answer."""


def answer_sentence(sentences: Sequence[str], cited: int, answer: str) -> int:
    """The number of the sentence that holds `answer`: `cited`, unless that sentence shares no
    content word with the answer and one at most `MISCOUNT` places away has them all.

    Models miscount numbered lists: a 1.5B model answered "2013" citing the sentence just
    before the one that says 2013, and "$9.2 billion" citing the one just after. The move is
    local on purpose: an answer whose words are only far from the cited sentence is a
    disagreement between the model's evidence and its answer, left for abstention to judge.
    """
    terms = content_terms(answer)
    if not terms or not 1 <= cited <= len(sentences) or terms & content_terms(sentences[cited - 1]):
        return cited
    near = range(max(1, cited - MISCOUNT), min(len(sentences), cited + MISCOUNT) + 1)
    holders = [n for n in near if terms <= content_terms(sentences[n - 1])]
    return min(holders, key=lambda n: (abs(n - cited), n)) if holders else cited


def no_evidence_probability(
    logprobs: Sequence[TokenLogprob] | None, field: str = "sentence", nth: int = 0
) -> float | None:
    """The model's probability that no sentence answers, read where it chose the number.

    Finds the `nth` place where the reply starts the value of `"field":` and, among the
    digits the model considered there, the share of "0" (the number meaning "no
    sentence": no other sentence number starts with 0). None when the reply carries no
    logprobs or the place cannot be found.
    """
    entry = _number_entry(logprobs, field, nth)
    return None if entry is None else _digit_share(entry, "0") or 0.0


def chosen_number_probability(
    logprobs: Sequence[TokenLogprob] | None, field: str = "sentence", nth: int = 0
) -> float | None:
    """The share of the digit the model wrote first, among the digits it considered there:
    how sure it was of the sentence it cited (None without logprobs)."""
    entry = _number_entry(logprobs, field, nth)
    return None if entry is None else _digit_share(entry, entry.token.lstrip(' ":\n\t')[:1])


def yes_probability(logprobs: Sequence[TokenLogprob] | None, field: str = "verdict") -> float | None:
    """The share of "yes" among "yes" and "no" where the reply starts the value of `"field":`
    (None without logprobs, or when neither word was considered there)."""
    entry = _value_entry(logprobs, field, 0, str.isalpha)
    if entry is None:
        return None
    words: dict[str, float] = {}
    for token, logprob in (*entry.top, (entry.token, entry.logprob)):
        head = token.lstrip(' ":\n\t').lower()
        for word in ("yes", "no"):
            if head and (word.startswith(head) or head.startswith(word)):  # "y", "yes", "Yes"
                words[word] = max(words.get(word, -math.inf), logprob)
    total = sum(math.exp(lp) for lp in words.values())
    return math.exp(words["yes"]) / total if "yes" in words and total > 0 else (0.0 if words else None)


def answer_logprob(logprobs: Sequence[TokenLogprob] | None, field: str = "answer", nth: int = 0) -> float | None:
    """Mean log-probability of the tokens inside the `nth` string value of `"field"`: how
    sure the model was of the words of its answer (None without logprobs or an answer)."""
    inside = _value_logprobs(logprobs, field, nth)
    return sum(inside) / len(inside) if inside else None


def answer_logprob_sum(logprobs: Sequence[TokenLogprob] | None, field: str = "answer", nth: int = 0) -> float | None:
    """Total log-probability of the answer's tokens (`answer_logprob` times their number):
    the log-probability of the whole answer, which a long unsure answer keeps low."""
    inside = _value_logprobs(logprobs, field, nth)
    return sum(inside) if inside else None


def _value_logprobs(logprobs: Sequence[TokenLogprob] | None, field: str, nth: int) -> list[float]:
    """The log-probabilities of the tokens inside the `nth` string value of `"field"` ([] if none)."""
    if not logprobs:
        return []
    starts, text = [], ""
    for entry in logprobs:
        starts.append(len(text))
        text += entry.token
    key, at = f'"{field}"', -1
    for _ in range(nth + 1):
        at = text.find(key, at + 1)
        if at < 0:
            return []
    colon = text.find(":", at + len(key))
    opening = text.find('"', colon + 1) if colon >= 0 else -1
    if opening < 0:
        return []
    closing = opening + 1
    while closing < len(text) and not (text[closing] == '"' and text[closing - 1] != "\\"):
        closing += 1
    if closing <= opening + 1:
        return []
    return [
        e.logprob
        for e, start in zip(logprobs, starts, strict=True)
        if start < closing and start + len(e.token) > opening + 1
    ]


def _number_entry(logprobs: Sequence[TokenLogprob] | None, field: str, nth: int) -> TokenLogprob | None:
    """The token where the `nth` value of `"field":` starts with a digit."""
    return _value_entry(logprobs, field, nth, str.isdigit)


def _value_entry(
    logprobs: Sequence[TokenLogprob] | None, field: str, nth: int, starts: Callable[[str], bool]
) -> TokenLogprob | None:
    """The token where the `nth` value of `"field":` starts with a character `starts` accepts."""
    if not logprobs:
        return None
    text = ""
    key = f'"{field}"'
    seen = 0
    armed = False
    for entry in logprobs:
        before = text
        text += entry.token
        if not armed and text.count(key) > before.count(key):
            armed = True
            seen += 1
        if not armed:
            continue
        stripped = entry.token.lstrip(' ":\n\t')
        if stripped and starts(stripped[0]):
            if seen - 1 == nth:
                return entry
            armed = False
    return None


def _digit_share(entry: TokenLogprob, digit: str) -> float | None:
    """The probability of `digit` among the digits the model considered at `entry` (None if it did not)."""
    digits: dict[str, float] = {}
    for token, logprob in (*entry.top, (entry.token, entry.logprob)):
        head = token.lstrip(' ":\n\t')
        if head and head[0].isdigit():
            digits[head[0]] = max(digits.get(head[0], -math.inf), logprob)
    total = sum(math.exp(lp) for lp in digits.values())
    return math.exp(digits[digit]) / total if digit in digits and total > 0 else None

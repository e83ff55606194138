"""Short answers: the words of the cited sentence that answer a question of fact.

Asked for "only the exact words", a small model still often answers a question of fact
with more than the fact: the fact wrapped in the question's own words ("Cameron
congratulated the SNP while vowing ..." for "Who congratulated the SNP while vowing ...?"),
or "700 beds" for "How many beds ...?". `short_answer` makes such an answer a span of its
cited sentence and cuts the question's words from its ends:

1. **verified**: the answer's words, in order, are words of the sentence; the answer is
   then the sentence's own characters (its case, its quote marks);
2. **repaired**: otherwise, the shortest run of the sentence's words that holds every
   word of the answer (function words aside; words compared by their first five letters);
3. **free**: otherwise (words the sentence does not have, a computed figure) the model's
   own words stay, as they always do for why and how questions, whose answer is a phrase
   of the model's.

Then the words at either end that only restate the question are cut ("700 beds" -> "700"
for "How many beds"), with three guards: a number or a negation is never cut, a name is
never cut inside ("Henry of Navarre" stays whole for "What was Henry IV known as?"), and
something the question does not say must remain.

Measured by replaying recorded answers (no model call changes), SQuAD HasAns F1 with short
answers off -> on: Qwen2.5-Coder-1.5B 0.724 -> 0.748 on squad-tune (where the rules were
tuned), 0.735 -> 0.756 on squad-dev; the 0.5B 0.487 -> 0.513; the seed 0.523 -> 0.553
(1.5B). BENCHMARKS.md has the commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from qa.text.support import content_stems, is_stop_word, stem

__all__ = ["ShortAnswer", "asks_for_fact", "short_answer", "word_runs"]

SpanForm = Literal["verified", "repaired", "free"]

_TOKEN = re.compile(r"\S+")
_EDGE = "\"'“”‘’()[]{},.;:!?«»"
_WHY_HOW = re.compile(
    r"^\W*(why|how)\b(?!\s+(many|much|long|old|far|large|big|small|often|tall|high|few|early|late|fast|deep|wide|heavy))",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"['’]s$")
_PAIRS = (("(", ")"), ("[", "]"), ('"', '"'), ("“", "”"), ("‘", "’"))
_NEVER_CUT = frozenset({"not", "no", "never", "nor", "without"})
_NAME_JOINERS = frozenset({"of", "the", "v", "v.", "on", "de", "du", "la", "von", "van", "der", "for", "and"})


@dataclass(frozen=True)
class ShortAnswer:
    """An answer as shown: its text and how it relates to the cited sentence."""

    text: str
    form: SpanForm
    trimmed: bool
    """True when words that restate the question were cut from its ends."""


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    word: str  # the token without the punctuation around it, as written


def asks_for_fact(question: str) -> bool:
    """False for why and how questions ("how many" and the like ask for a fact)."""
    return _WHY_HOW.match(question) is None


def _tokens(text: str, *, possessive: bool = False) -> list[_Token]:
    """The words of `text` without the punctuation around them, and without a possessive 's
    unless `possessive`."""
    out = []
    for match in _TOKEN.finditer(text):
        raw = match.group()
        core = raw.strip(_EDGE) if possessive else _POSSESSIVE.sub("", raw.strip(_EDGE)).strip(_EDGE)
        if core:
            start = match.start() + raw.index(core)
            out.append(_Token(start, start + len(core), core))
    return out


def word_runs(sentence: str) -> list[tuple[str, str]]:
    """The sentence's words (without the punctuation around them; "Colombia's" whole) and, for
    each, the exact text between it and the next word ("" after the last): a run of these,
    joined by their separators, is a span of the sentence."""
    tokens = _tokens(sentence, possessive=True)
    return [
        (sentence[t.start : t.end], sentence[t.end : tokens[k + 1].start] if k + 1 < len(tokens) else "")
        for k, t in enumerate(tokens)
    ]


def _key(word: str) -> str:
    return word.lower().replace("’", "'")


def _locate(answer: list[_Token], sentence: list[_Token]) -> tuple[int, int] | None:
    """Where the answer's words stand, in order, among the sentence's."""
    want = [_key(t.word) for t in answer]
    words = [_key(t.word) for t in sentence]
    for i in range(len(words) - len(want) + 1):
        if words[i : i + len(want)] == want:
            return i, i + len(want)
    return None


def _meaning(word: str) -> set[str]:
    """The comparable form of a word: its stem, or nothing for a function word."""
    key = _key(word)
    return set() if is_stop_word(key) else {stem(key)}


def _repair(answer: list[_Token], sentence: list[_Token]) -> tuple[int, int] | None:
    """The shortest run of the sentence holding every meaningful word of the answer."""
    want = set().union(*(_meaning(t.word) for t in answer))
    have = [_meaning(t.word) for t in sentence]
    if not want or not want <= set().union(*have):
        return None
    best: tuple[int, int] | None = None
    for i in range(len(sentence)):
        got: set[str] = set()
        for j in range(i, len(sentence)):
            got |= have[j] & want
            if got == want:
                if best is None or j + 1 - i < best[1] - best[0]:
                    best = (i, j + 1)
                break
    return best


def _capital(word: str) -> bool:
    return word[:1].isupper()


def _names(tokens: list[_Token]) -> dict[int, tuple[int, int]]:
    """Token index -> (start, end) of the name it belongs to: capitalised words, possibly
    joined by of/the/v... ("Treaty on the Functioning of the European Union")."""
    names: dict[int, tuple[int, int]] = {}
    k = 0
    while k < len(tokens):
        if not _capital(tokens[k].word):
            k += 1
            continue
        end = k + 1
        while True:
            nxt = end
            while nxt < len(tokens) and tokens[nxt].word.lower() in _NAME_JOINERS:
                nxt += 1
            if nxt < len(tokens) and _capital(tokens[nxt].word):
                end = nxt + 1
            else:
                break
        for x in range(k, end):
            names[x] = (k, end)
        k = end
    return names


def _trim(tokens: list[_Token], question: str) -> tuple[int, int]:
    """The run of `tokens` left once words restating `question` are cut from both ends."""
    asked = content_stems(question)

    def of_question(k: int) -> bool:
        stems = content_stems(tokens[k].word)
        return bool(stems) and stems <= asked

    def cuttable(k: int) -> bool:
        key = _key(tokens[k].word)
        if key in _NEVER_CUT or key[:1].isdigit():
            return False
        return of_question(k) or (not content_stems(tokens[k].word) and is_stop_word(key))

    def says_more(a: int, b: int) -> bool:
        return any(content_stems(tokens[k].word) - asked for k in range(a, b)) or any(
            tokens[k].word[:1].isdigit() for k in range(a, b)
        )

    names = _names(tokens)
    first, last = 0, len(tokens)
    cut = first
    while cut < last and cuttable(cut):
        cut += 1
    if cut < last:
        cut = min(cut, names.get(cut, (cut, cut))[0])  # back to the start of a name it lands in
    if cut > first and any(of_question(k) for k in range(first, cut)) and says_more(cut, last):
        first = cut
    cut = last
    while cut > first and cuttable(cut - 1):
        cut -= 1
    if first < cut < last:
        cut = max(cut, names.get(cut - 1, (cut, cut))[1])  # on to the end of a name it lands in
    if cut < last and any(of_question(k) for k in range(cut, last)) and says_more(first, cut):
        last = cut
    return first, last


def short_answer(question: str, answer: str, sentence: str) -> ShortAnswer:
    """`answer` as a span of `sentence` where it can be, without the words of `question`
    at its ends; a why or how question's answer is kept as the model wrote it."""
    words = _tokens(answer)
    if not words or not asks_for_fact(question):
        return ShortAnswer(answer, "free", False)
    in_sentence = _tokens(sentence)
    form: SpanForm = "verified"
    span = _locate(words, in_sentence)
    if span is None:
        form = "repaired"
        span = _repair(words, in_sentence)
    if span is None:
        form, text, tokens = "free", answer, words
    else:
        text, tokens = sentence, in_sentence[span[0] : span[1]]
    first, last = _trim(tokens, question)
    start, end = _balanced(text, tokens[first].start, tokens[last - 1].end)
    return ShortAnswer(text[start:end], form, (first, last) != (0, len(tokens)))


def _balanced(text: str, start: int, end: int) -> tuple[int, int]:
    """`start`, `end` widened by one character where that closes a bracket or quote left
    open inside ("Warsaw City Council (Rada Miasta)", not "... (Rada Miasta")."""
    for opening, closing in _PAIRS:
        part = text[start:end]
        if opening == closing:
            if part.count(opening) % 2 and end < len(text) and text[end] == closing:
                end += 1
        elif part.count(opening) > part.count(closing) and end < len(text) and text[end] == closing:
            end += 1
        elif part.count(closing) > part.count(opening) and start > 0 and text[start - 1] == opening:
            start -= 1
    return start, end

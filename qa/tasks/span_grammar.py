"""A llama.cpp grammar that makes an answer a span of the sentence it cites, while decoding.

`QA_SHORT_ANSWERS=constrained`, on backends that decode with llama.cpp grammars (the
embedded model; llama.cpp servers in the grammar mode): the reply
`{"sentence": N, "answer": "..."}` is generated under a grammar in which, once N is
written, the answer can only be a run of the words of sentence N or of a sentence at most
two places from it (models miscount numbered lists), joined as the sentence joins them
(`qa.text.spans.word_runs`), and N = 0 only allows the empty answer. So an answer is
the article's own words by construction; `qa.text.spans.short_answer` then cuts the
question's words from its ends as for any answer.

The grammar has one rule per word: the run that starts there, each further word optional,
up to the answer's maximum length (200 characters).
Why and how questions are not constrained: their answer is a phrase of the model's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from qa.schemas import MAX_ANSWER_CHARS
from qa.tasks.evidence import MISCOUNT
from qa.text.spans import word_runs

__all__ = ["span_grammar"]


def _raw(text: str) -> str:
    """A GBNF literal that matches `text` exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(text: str) -> str:
    """A GBNF literal for `text` as it is written inside a JSON string (escaped)."""
    return _raw(json.dumps(text, ensure_ascii=False)[1:-1])


def _word(word: str) -> str:
    """A GBNF element for a word whose first letter may be written in either case ("from" for
    the "From" that opens a quote): the answer is shown as the sentence writes it anyway."""
    first, rest = word[0], word[1:]
    if first.lower() == first.upper() or len(first.lower()) != 1 or len(first.upper()) != 1:
        return _literal(word)
    head = f"[{first.upper()}{first.lower()}]"
    return f"{head} {_literal(rest)}" if rest else head


def _run(runs: list[tuple[str, str]], start: int, max_chars: int) -> str:
    """The words from `start` on, each optional after the first, as long as the run stays
    within `max_chars` (the answer's maxLength): nested, so a run cannot skip a word."""
    first, gap = runs[start]
    used = len(first)
    parts = [_word(first)]
    depth = 0
    for word, next_gap in runs[start + 1 :]:
        used += len(gap) + len(word)
        if used > max_chars:
            break
        parts.append(f"({_literal(gap)} {_word(word)}")
        depth += 1
        gap = next_gap
    return " ".join(parts) + ")?" * depth


def span_grammar(
    sentences: Sequence[str], numbers: Sequence[int], *, reach: int = MISCOUNT, max_chars: int = MAX_ANSWER_CHARS
) -> str:
    """GBNF for an evidence-first reply whose answer is a run of words of the cited sentence,
    or of a shown sentence at most `reach` places from it.

    `sentences` are the article's evidence sentences (numbered from 1); `numbers` those shown
    to the model, the only ones the reply may cite. A shown sentence with no words cannot be
    cited. Models miscount numbered lists: the answer may come from a sentence next to the
    one written, and `qa.tasks.evidence.answer_sentence` then moves the citation there. A run
    is at most `max_chars` long, the schema's bound on an answer."""
    key = _raw('"answer"')
    choices = [f'"0" space "," space {key} space ":" space "\\"\\"" space']
    rules: list[str] = []
    shown = [n for n in numbers if word_runs(sentences[n - 1])]
    for number in shown:
        runs = word_runs(sentences[number - 1])
        starts = [f"s{number}-w{i}" for i in range(len(runs))]
        for i, name in enumerate(starts):
            rules.append(f"{name} ::= {_run(runs, i, max_chars)}")
        rules.append(f"s{number} ::= " + " | ".join(starts))
    for number in shown:
        near = " | ".join(f"s{n}" for n in shown if abs(n - number) <= reach)
        choices.append(f'"{number}" space "," space {key} space ":" space "\\"" ({near}) "\\"" space')
    head = [
        f'root ::= "{{" space {_raw(chr(34) + "sentence" + chr(34))} space ":" space reply "}}" space',
        "reply ::= " + " | ".join(f"({choice})" for choice in choices),
        'space ::= " "?',
    ]
    return "\n".join(head + rules) + "\n"

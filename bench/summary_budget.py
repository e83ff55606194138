"""Extractive summaries against their length: what each word budget buys, beside lead-3. No model.

    .venv/bin/python bench/summary_budget.py                          # the three styles as they are
    .venv/bin/python bench/summary_budget.py --standard 70 120 170    # `standard` at other budgets
    .venv/bin/python bench/summary_budget.py --bound                  # and the best any choice can do

Each row is one style (and budget) on one part of the suites: the seed article, the six
wiki articles the summary code was tuned on, the two held out from tuning (European Union
law, Imperialism). It gives completeness and words a summary, lead-3's (the first three
body sentences) and the completeness of the lead cut at the summary's own length, all
scored as `qa eval` scores them (`qa.evals.summary_scorers`, `summary_words` counting the
headline, summary, key points and figures). Faithfulness is not shown: an extractive
summary is the article's own words.

`--bound` searches exhaustively for the fewest words any extractive summary of the same
shape can take to carry a number of key facts: the article's headline and standfirst (or
its first sentence) as they are, then at least three key points, each an article sentence
whole or compressed, and up to four figures as `qa.text.extract.find_figures` writes them. It is
an upper bound on what choosing better could reach, not a method: it reads the labels.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import qa  # noqa: E402
from qa import summary as summary_module  # noqa: E402
from qa.evals.dataset import KeyFact, load_suite  # noqa: E402
from qa.evals.summary_scorers import match_fact, score_summary, summary_sentences  # noqa: E402
from qa.tasks.evidence import evidence_sentences  # noqa: E402
from qa.text.article import Article  # noqa: E402
from qa.text.extract import compress, find_figures  # noqa: E402

HELD_OUT = {"european-union-law", "imperialism"}


def cases() -> Iterator[tuple[str, str, Article, list[KeyFact]]]:
    """(part, name, article, key facts) for every summary case of the seed and wiki suites."""
    for suite_name in ("seed", "wiki"):
        suite = load_suite(ROOT / "evals" / suite_name / "suite.toml")
        for name in suite.article_ids():
            part = "seed" if suite_name == "seed" else ("wiki held-out 2" if name in HELD_OUT else "wiki tuned 6")
            yield part, name or suite_name, qa.load_article(suite.path_of(name)), suite.facts_for(name)


def words(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


def measure(style: str) -> dict[str, list[tuple[float, float, float, float, float]]]:
    out: dict[str, list[tuple[float, float, float, float, float]]] = {}
    for part, _, article, facts in cases():
        result = summary_module.extractive_summary(article, style=style)
        body = [s.text for s in article.sentences(("body",))]
        ours = words([text for _, text in summary_sentences(result)])
        lead3 = " ".join(body[:3])
        same = " ".join(" ".join(body).split()[:ours])
        out.setdefault(part, []).append(
            (
                score_summary(result, article.text, facts).completeness.value or 0.0,
                float(ours),
                score_summary(lead3, article.text, facts).completeness.value or 0.0,
                float(len(lead3.split())),
                score_summary(same, article.text, facts).completeness.value or 0.0,
            )
        )
    return out


def bound(article: Article, facts: list[KeyFact], most_words: int | None) -> dict[int, int]:
    """n -> the fewest words (at most `most_words`) for at least n key facts, over summaries of qa's shape."""
    sentences = evidence_sentences(article)
    heads = [s.text for s in article.sentences(("headline",))][:1]
    firsts = [s.text for s in article.sentences(("standfirst",))][:1] or [compress(sentences[0].text)]
    fixed = heads + firsts
    base = frozenset(f.id for f in facts for text in fixed if match_fact(text, f))
    base_words = words(fixed)
    start = 0 if article.sentences(("standfirst",)) else 1

    def carried(text: str) -> frozenset[str]:
        return frozenset(f.id for f in facts if match_fact(text, f))

    points = [
        (n, len(form.split()), carried(form))
        for n, s in enumerate(sentences[start:], start)
        for form in {s.text, compress(s.text)}
    ]
    fillers = sorted((p for p in points if not p[2] - base), key=lambda p: p[1])[:3]  # a point that adds no fact
    points = [p for p in points if p[2] - base] + fillers
    figures = [
        (len(f"{f.meaning}: {f.value}".split()), carried(f"{f.meaning}: {f.value}"))
        for f in find_figures(sentences, range(1, len(sentences) + 1), limit=100)
    ]
    figures = [f for f in figures if f[1] - base]
    best: dict[int, int] = {}
    for k in (3, 4, 5):
        for chosen in itertools.combinations(points, k):
            if len({p[0] for p in chosen}) < k:
                continue
            for m in range(0, 5):
                for extra in itertools.combinations(figures, m):
                    total = base_words + sum(p[1] for p in chosen) + sum(f[0] for f in extra)
                    if most_words is not None and total > most_words:
                        continue
                    got = len(base.union(*(p[2] for p in chosen), *(f[1] for f in extra)))
                    if got not in best or total < best[got]:
                        best[got] = total
    return {n: min(w for m, w in best.items() if m >= n) for n in best}  # at least n facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--standard", type=int, nargs="*", default=[], help="also measure `standard` at these budgets")
    parser.add_argument(
        "--bound", action="store_true", help="the exhaustive bound on the seed and at lead-3 length on wiki"
    )
    args = parser.parse_args()
    runs = [(style, summary_module.WORD_BUDGET[style]) for style in ("brief", "standard", "bullets")]
    runs += [("standard", budget) for budget in args.standard]
    print("| style (budget) | part | completeness / words | lead-3 | lead at the same length |")
    print("|---|---|---|---|---|")
    saved = dict(summary_module.WORD_BUDGET)
    for style, budget in runs:
        summary_module.WORD_BUDGET[style] = budget
        try:
            for part, rows in measure(style).items():
                c, w, lc, lw, same = (statistics.mean(column) for column in zip(*rows, strict=True))
                print(
                    f"| {style} ({budget}) | {part} (n={len(rows)}) | {c:.3f} / {w:.1f} | {lc:.3f} / {lw:.1f} | {same:.3f} |"
                )
        finally:
            summary_module.WORD_BUDGET.update(saved)
    if args.bound:
        print("\nThe fewest words for each number of key facts (exhaustive, reads the labels):\n")
        for part, name, article, facts in cases():
            body = [s.text for s in article.sentences(("body",))]
            limit = None if part == "seed" else len(" ".join(body[:3]).split())
            best = bound(article, facts, limit)
            shown = ", ".join(f"{n}/{len(facts)} in {w}" for n, w in sorted(best.items()))
            where = "any length" if limit is None else f"at most lead-3's {limit} words"
            print(f"- {part}, {name} ({where}): {shown}")


if __name__ == "__main__":
    main()

"""Build the squad-dev suite from SQuAD 2.0 development data (see ATTRIBUTION.md).

    python evals/squad-dev/build.py ../shared/data/squad2-dev-a.jsonl

Deterministic (seeded): from each of the 8 Wikipedia articles it takes 5 paragraphs, and
from each paragraph up to 4 answerable and 4 unanswerable questions, so about half the
suite is unanswerable. Each paragraph becomes one article file (title line, blank line,
paragraph, as the plain-text article format reads it). The paragraphs not taken are
written to `tune.jsonl` beside this file's output only when `--tune PATH` is given: that
is the development split calibration is fitted on, never the gated suite.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARAGRAPHS_PER_TITLE = 5
PER_KIND = 4
SEED = 2026


def slug(title: str, paragraph: int) -> str:
    return f"{re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')}-p{paragraph:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--tune", type=Path, help="also write the paragraphs not taken, as JSONL, here")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.source.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_paragraph: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for row in rows:
        by_paragraph[row["title"], row["paragraph"]].append(row)
    rng = random.Random(SEED)
    titles = sorted({t for t, _ in by_paragraph})
    chosen: list[tuple[str, int]] = []
    for title in titles:
        candidates = sorted(
            key
            for key, qs in by_paragraph.items()
            if key[0] == title
            and sum(q["is_impossible"] for q in qs) >= 2
            and sum(not q["is_impossible"] for q in qs) >= 2
        )
        chosen += rng.sample(candidates, min(PARAGRAPHS_PER_TITLE, len(candidates)))
    articles = HERE / "articles"
    articles.mkdir(exist_ok=True)
    for old in articles.glob("*.txt"):
        old.unlink()
    lines = []
    for title, paragraph in sorted(chosen):
        qs = by_paragraph[title, paragraph]
        context = qs[0]["context"]
        name = slug(title, paragraph)
        (articles / f"{name}.txt").write_text(f"{title}\n\n{context.strip()}\n", encoding="utf-8")
        answerable = sorted((q for q in qs if not q["is_impossible"]), key=lambda q: q["id"])
        impossible = sorted((q for q in qs if q["is_impossible"]), key=lambda q: q["id"])
        picked = rng.sample(answerable, min(PER_KIND, len(answerable))) + rng.sample(
            impossible, min(PER_KIND, len(impossible))
        )
        for q in sorted(picked, key=lambda q: q["id"]):
            golds = list(dict.fromkeys(a.strip() for a in q["answers"] if re.sub(r"[\W_]+", "", a)))
            lines.append(
                json.dumps(
                    {
                        "id": q["id"][-24:],
                        "question": q["question"].strip(),
                        "answerable": not q["is_impossible"],
                        "answers": golds,
                        "article": name,
                        "notes": f"SQuAD 2.0 dev {q['id']}",
                    },
                    ensure_ascii=False,
                )
            )
    (HERE / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.tune:
        taken = set(chosen)
        tune = [r for r in rows if (r["title"], r["paragraph"]) not in taken]
        args.tune.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in tune), encoding="utf-8")
    print(f"{len(chosen)} paragraphs, {len(lines)} questions")


if __name__ == "__main__":
    main()

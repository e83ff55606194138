"""Fit the abstention calibrator of one model from eval run logs of development questions.

    .venv/bin/python evals/calibrate.py RUN.jsonl [RUN.jsonl ...] [--write]

Each question record of the logs carries the model's candidate answer and its signals
(`qa.tasks.abstention.AnswerSignals`). The signals are measured again from the suite's own
article (so a new signal needs no new model run), each candidate is labelled right or
wrong with the suite's scorer (an unanswerable question has no right answer), and a
logistic model is fitted (L2-regularised, full-batch gradient descent, pure Python).

The threshold maximises SQuAD 2.0 accuracy on these questions (an answerable question
counts when its answer is kept and right, an unanswerable one when it is abstained on)
among the thresholds that keep at least `--keep-right` (default 90%) of the answers that
are right: on a balanced set a weak model would otherwise abstain on nearly everything,
which is safe and useless. (At 80% the 1.5B withheld the right answer to the demo's own
question, at confidence 0.34 under a threshold of 0.36: a user asking about the article
should get the answers the model has right, and abstention should catch what it can of
the rest.) It prints the fit, the accuracy at that threshold, and a risk-coverage
table; `--write` saves `qa/calibration/<model>.json`, which `qa.tasks.abstention.calibrator_for`
loads. Only development data belongs here (e.g. SQuAD paragraphs outside evals/squad-dev).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import qa
from qa.evals import load_suite
from qa.evals.log import read_log
from qa.evals.scorers import candidate_score
from qa.tasks.abstention import FEATURES, AnswerSignals, Calibrator, _slug, feature_vector, measure
from qa.tasks.evidence import evidence_sentences
from qa.text.retrieval import rank_sentences

ROOT = Path(__file__).resolve().parent.parent


def examples(paths: list[Path]) -> tuple[str, list[tuple[AnswerSignals, bool, bool]]]:
    """(model, [(signals, candidate right, answerable)]) from the logs' question records."""
    rows: list[tuple[AnswerSignals, bool, bool]] = []
    model = ""
    for path in paths:
        log = read_log(path)
        model = model or log.header.model
        suite = load_suite(log.header.suite_path)
        cases = {q.id: q for q in suite.questions}
        articles: dict[str | None, tuple[list[str]]] = {}
        for record in log.records:
            if record.kind != "question" or record.result is None or record.question_id not in cases:
                continue
            signals = getattr(record.result, "signals", None)
            if signals is None:
                continue
            case = cases[record.question_id]
            if case.article not in articles:
                article = qa.load_article(suite.path_of(case.article))
                articles[case.article] = ([s.text for s in evidence_sentences(article)],)
            (texts,) = articles[case.article]
            fresh = measure(
                case.question,
                signals.candidate,
                signals.sentence,
                texts,
                signals.p_none,
                rank_sentences(texts, case.question),
                p_sentence=signals.p_sentence,
                answer_logprob=signals.answer_logprob,
                answer_logprob_sum=signals.answer_logprob_sum,
                p_verified=signals.p_verified,
                cited=signals.cited,
            )
            scored = candidate_score(case, record.result, official=suite.scoring == "squad")
            right = scored is not None and scored.value == 1.0
            rows.append((fresh, right, case.answerable))
    return model, rows


def measured(rows: list[tuple[AnswerSignals, bool, bool]], checked: bool) -> tuple[str, ...]:
    """The features to fit: all with `checked` (the answer check's too), else all but it."""
    if checked and not any(s.p_verified is not None for s, _, _ in rows):
        raise SystemExit("--checked needs logs of a run with the answer check (QA_VERIFY=on)")
    return tuple(f for f in FEATURES if checked or f != "p_verified")


def fit(
    rows: list[tuple[AnswerSignals, bool, bool]],
    features: tuple[str, ...] = FEATURES,
    l2: float = 0.01,
    steps: int = 3000,
    rate: float = 0.5,
    standardise: bool = False,
) -> tuple[list[float], float]:
    """Weights and bias of the logistic model, in the features' own units.

    With `standardise` it is fitted on features scaled to mean 0 and spread 1, so the L2
    penalty weighs every feature alike: a signal that moves in a narrow range (the answer
    check's probability, mostly 0.45 to 0.75) is not shrunk more than one that spans 0 to 1.
    (The plain calibrations predate it and are fitted as they were, so they reproduce.)"""
    raw = [feature_vector(s, names=features) for s, _, _ in rows]
    ys = [1.0 if right else 0.0 for _, right, _ in rows]
    n = len(raw)
    centre = [sum(col) / n if standardise else 0.0 for col in zip(*raw, strict=True)]
    spread = [
        1.0 if not standardise else max(1e-6, math.sqrt(sum((v - c) ** 2 for v in col) / n))
        for col, c in zip(zip(*raw, strict=True), centre, strict=True)
    ]
    xs = [[(v - c) / d for v, c, d in zip(x, centre, spread, strict=True)] for x in raw]
    w, b = [0.0] * len(features), 0.0
    for _ in range(steps):
        gw, gb = [0.0] * len(w), 0.0
        for x, y in zip(xs, ys, strict=True):
            z = b + sum(wi * xi for wi, xi in zip(w, x, strict=True))
            p = 1 / (1 + math.exp(-max(-30, min(30, z))))
            for i, xi in enumerate(x):
                gw[i] += (p - y) * xi
            gb += p - y
        w = [wi - rate * (gi / n + l2 * wi) for wi, gi in zip(w, gw, strict=True)]
        b -= rate * gb / n
    weights = [wi / d for wi, d in zip(w, spread, strict=True)]
    return weights, b - sum(wi * c for wi, c in zip(weights, centre, strict=True))


def accuracy(
    rows: list[tuple[AnswerSignals, bool, bool]], calibrator: Calibrator, threshold: float
) -> tuple[float, float, float]:
    """(overall, answerable, unanswerable) SQuAD 2.0 accuracy when keeping answers at `threshold`."""
    ans = [(calibrator.confidence(s) >= threshold and s.sentence != 0 and right) for s, right, a in rows if a]
    una = [(calibrator.confidence(s) < threshold or s.sentence == 0) for s, _, a in rows if not a]
    total = ans + una
    return sum(total) / len(total), sum(ans) / max(1, len(ans)), sum(una) / max(1, len(una))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help="save qa/calibration/<model>.json")
    parser.add_argument(
        "--checked", action="store_true",
        help="fit with the answer check's probability (logs of a QA_VERIFY=on run); saves <model>.verify.json",
    )  # fmt: skip
    parser.add_argument("--model", help="the model name to save it under (default: the logs' model)")
    parser.add_argument(
        "--keep-right", type=float, default=0.9,
        help="the threshold must keep at least this share of the right answers (default 0.9): right beats safe",
    )  # fmt: skip
    args = parser.parse_args()
    model, rows = examples(args.logs)
    model = args.model or model
    if not rows:
        raise SystemExit("no question records with signals in these logs")
    features = measured(rows, args.checked)
    # The checked fit learns from candidates only (a reply citing no sentence is abstained on
    # whatever its confidence, and has no check to learn from); the plain fits predate that.
    candidates = [r for r in rows if r[0].sentence != 0 and r[0].candidate.strip()] if args.checked else rows
    weights, bias = fit(candidates, features, standardise=args.checked)
    probe = Calibrator(model=model, weights=tuple(weights), bias=bias, threshold=0.5, source="", features=features)
    grid = [i / 100 for i in range(0, 100)]
    ceiling = accuracy(rows, probe, 0.0)[1]  # answerable accuracy when never abstaining
    allowed = [t for t in grid if accuracy(rows, probe, t)[1] >= args.keep_right * ceiling] or [0.0]
    best = max(allowed, key=lambda t: (accuracy(rows, probe, t)[0], -t))
    overall, on_ans, on_una = accuracy(rows, probe, best)
    print(
        f"{model}: {len(rows)} questions ({sum(a for *_, a in rows)} answerable), candidates right: {sum(r for _, r, _ in rows)}"
    )
    print("weights:", {f: round(w, 3) for f, w in zip(features, weights, strict=True)}, "bias", round(bias, 3))
    print(f"threshold {best:.2f}: accuracy {overall:.3f} (answerable {on_ans:.3f}, unanswerable {on_una:.3f})")
    print(f"never abstain: {accuracy(rows, probe, 0.0)}")
    print("threshold  overall  answerable  unanswerable")
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        o, a, u = accuracy(rows, probe, t)
        print(f"  {t:.1f}      {o:.3f}    {a:.3f}       {u:.3f}")
    if args.write:
        suites = ", ".join(sorted({f"evals/{read_log(p).header.suite}" for p in args.logs}))
        with_logprobs = [feature_vector(s, names=features) for s, _, _ in candidates if s.p_none is not None]
        means = (
            tuple(round(sum(col) / len(col), 5) for col in zip(*with_logprobs, strict=True)) if with_logprobs else None
        )
        calibrator = Calibrator(
            model=model, weights=tuple(round(w, 5) for w in weights), bias=round(bias, 5), threshold=best,
            source=f"evals/calibrate.py on {len(rows)} development questions ({suites})", means=means,
            features=features,
        )  # fmt: skip
        out = ROOT / "qa" / "calibration" / f"{_slug(model)}{'.verify' if args.checked else ''}.json"
        out.write_text(json.dumps(calibrator.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

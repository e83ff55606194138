"""Tests for qa.evals.dataset: load errors name file, line and field; the seed labels stay honest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from qa.errors import DatasetError
from qa.evals.dataset import QuestionCase, Suite, load_key_facts, load_questions, load_suite
from qa.evals.normalize import extract_quantities, loosen, normalize_text, quantity_supported
from qa.evals.scorers import match_fact, numbers_present, score_answer
from qa.schemas import Answer, AnswerResult, Grounding, Provenance, Usage

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "evals" / "seed" / "suite.toml"

GOOD_Q = {"id": "q1", "question": "Where?", "answerable": True, "answers": ["Beijing"]}
GOOD_F = {
    "id": "f1",
    "fact": "Xi pledged $9.2 billion.",
    "aliases": ["credit"],
    "numbers": ["$9.2 billion"],
    "importance": "core",
}


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def load_error(loader: Callable[[Path], object], path: Path) -> str:
    with pytest.raises(DatasetError) as info:
        loader(path)
    return str(info.value)


# --- load errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "line_and_field"),
    [
        (
            {**GOOD_Q, "id": "q2", "answers": []},
            ":2: field 'answers': an answerable question needs at least one answer",
        ),
        (
            {**GOOD_Q, "id": "q2", "answerable": False},
            ":2: field 'answers': an unanswerable question must have no answers",
        ),
        ({**GOOD_Q, "id": "q2", "answerable": False, "answers": [], "aliases": ["x"]}, ":2: field 'aliases'"),
        ({**GOOD_Q, "id": "q2", "numbers": ["February"]}, ":2: field 'numbers'"),
        ({**GOOD_Q, "id": "q2", "colour": "red"}, ":2: field 'colour': Extra inputs are not permitted"),
        ({**GOOD_Q, "id": "q2", "answers": ["the"]}, ":2: field 'answers': answer 'the' is empty after normalisation"),
        ({**GOOD_Q, "id": "q2", "care": "Date Arithmetic!"}, ":2: field 'care'"),
        ({k: v for k, v in GOOD_Q.items() if k != "question"} | {"id": "q2"}, ":2: field 'question': Field required"),
        ({**GOOD_Q, "id": "q2", "answers": [7]}, ":2: field 'answers.0'"),
    ],
)
def test_question_errors_name_file_line_and_field(tmp_path: Path, bad: dict[str, object], line_and_field: str) -> None:
    path = write_lines(tmp_path / "questions.jsonl", [GOOD_Q, bad])
    message = load_error(load_questions, path)
    assert f"{path}{line_and_field}" in message


def test_invalid_json_and_non_objects(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [GOOD_Q, '{"id": "q2", "question": ', "[1, 2]"])
    message = load_error(load_questions, path)
    assert f"{path}:2: invalid JSON" in message
    assert f"{path}:3: expected a JSON object, got list" in message


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [GOOD_Q, "", {**GOOD_Q, "question": "Again?"}])
    assert f"{path}:3: field 'id': duplicate id 'q1' (first on line 1)" in load_error(load_questions, path)


def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "q.jsonl", [{**GOOD_Q, "answers": []}, {**GOOD_Q, "id": "q2"}, "not json"])
    message = load_error(load_questions, path)
    assert f"{path}:1:" in message and f"{path}:3:" in message and f"{path}:2:" not in message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert "no cases" in load_error(load_questions, write_lines(tmp_path / "empty.jsonl", [""]))
    assert "cannot be read" in load_error(load_questions, tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("bad", "line_and_field"),
    [
        (
            {**GOOD_F, "id": "f2", "patterns": ["(unclosed"]},
            ":2: field 'patterns': '(unclosed' is not a valid regular expression",
        ),
        ({**GOOD_F, "id": "f2", "aliases": []}, ":2: field 'patterns': a key fact needs at least one alias or pattern"),
        ({**GOOD_F, "id": "f2", "importance": "vital"}, ":2: field 'importance'"),
        ({**GOOD_F, "id": "f2", "numbers": ["many"]}, ":2: field 'numbers'"),
    ],
)
def test_key_fact_errors_name_file_line_and_field(tmp_path: Path, bad: dict[str, object], line_and_field: str) -> None:
    path = write_lines(tmp_path / "key_facts.jsonl", [GOOD_F, bad])
    assert f"{path}{line_and_field}" in load_error(load_key_facts, path)


def write_suite(folder: Path, toml: str) -> Path:
    write_lines(folder / "questions.jsonl", [GOOD_Q])
    write_lines(folder / "key_facts.jsonl", [GOOD_F])
    (folder / "article.txt").write_text("Xi pledged $9.2 billion in credit in Beijing.", encoding="utf-8")
    suite = folder / "suite.toml"
    suite.write_text(toml, encoding="utf-8")
    return suite


def test_load_suite_with_explicit_root(tmp_path: Path) -> None:
    suite = load_suite(
        write_suite(tmp_path, '[suite]\nname = "t"\narticle = "article.txt"\n[thresholds]\ncorrect = 0.5\n'),
        root=tmp_path,
    )
    assert (suite.name, suite.thresholds, len(suite.questions), len(suite.key_facts)) == ("t", {"correct": 0.5}, 1, 1)
    assert "Beijing" in suite.read_article()


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[suite\nname = "t"', "invalid TOML"),
        ('[suite]\nname = "t"\narticle = "nope.txt"\n', "field 'suite.article'"),
        ('[suite]\nname = "t"\narticle = "article.txt"\nflavour = "x"\n', "field 'suite.flavour'"),
        ('[suite]\nname = "t"\narticle = "article.txt"\n[thresholds]\ncorrect = nan\n', "field 'thresholds'"),
        (
            '[suite]\nname = "t"\narticle = "article.txt"\n[thresholds]\ncorrect = "high"\n',
            "field 'thresholds.correct'",
        ),
    ],
)
def test_suite_errors(tmp_path: Path, toml: str, expected: str) -> None:
    path = write_suite(tmp_path, toml)
    with pytest.raises(DatasetError) as info:
        load_suite(path, root=tmp_path)
    assert str(path) in str(info.value) and expected in str(info.value)


# --- the shipped seed suite ------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> Suite:
    return load_suite(SEED)


def test_seed_suite_shape(seed: Suite) -> None:
    assert seed.name == "seed"
    assert seed.article_path == ROOT / "seeds" / "000_db386d23d8a38732.txt"
    assert len(seed.questions) >= 40
    assert sum(not q.answerable for q in seed.questions) >= 10
    assert sum(q.care is not None for q in seed.questions) >= 5
    assert {"date-arithmetic", "figure-scope", "speaker"} <= {q.care for q in seed.questions}
    assert len(seed.key_facts) >= 15
    assert all(q.notes for q in seed.questions), "every label says why"
    assert isinstance(seed.thresholds, dict)


def _article_tokens(article: str) -> set[str]:
    return set(normalize_text(article).split()) | set(loosen(article).split())


def _stated(text: str, article: str) -> bool:
    have = extract_quantities(article)
    return all(quantity_supported(q, have) for q in extract_quantities(text))


def test_seed_answers_are_supported_by_the_article(seed: Suite) -> None:
    article = seed.read_article()
    tokens = _article_tokens(article)
    for case in seed.questions:
        if not case.answerable or case.care == "date-arithmetic":
            continue  # derived figures are checked by the notes, not the text
        for answer in case.answers:
            missing = set(normalize_text(answer).split()) - tokens
            assert not missing or not set(loosen(answer).split()) - tokens, (
                f"{case.id}: {answer!r} has words not in the article: {missing}"
            )
        for text in [*case.golds, *case.numbers]:
            assert _stated(text, article), f"{case.id}: a number in {text!r} is not in the article"


def test_every_seed_gold_passes_its_own_number_gate(seed: Suite) -> None:
    for case in seed.questions:
        for gold in case.golds:
            assert numbers_present(gold, case.numbers), f"{case.id}: alias {gold!r} can never be scored correct"


def test_seed_golds_do_not_start_with_a_preposition(seed: Suite) -> None:
    # 'in February' would let 'in March' pass on token F1 (0.5); containment already accepts
    # 'in February' when the gold is 'February'.
    for case in seed.questions:
        for gold in case.golds:
            assert normalize_text(gold).split()[0] not in {"in", "on", "at", "to", "towards", "from", "by"}, (
                case.id,
                gold,
            )


def _as_result(case: QuestionCase, text: str) -> AnswerResult:
    return AnswerResult(
        question=case.question,
        answer=Answer(answer=text, status="answered", citations=[]),
        grounding=Grounding(
            verified=1, repaired=0, dropped=[], abstained=False, unsupported_answer=False, unsupported_key_points=[]
        ),
        usage=Usage.zero(),
        provenance=Provenance(prompt="ask", prompt_version="1+00000000", backend="test", model="m"),
    )


def test_every_seed_gold_scores_correct(seed: Suite) -> None:
    for case in seed.questions:
        for gold in case.golds:
            assert score_answer(case, _as_result(case, gold), None)["correct"].verdict == "correct", (case.id, gold)


def test_seed_key_facts_are_in_the_article_and_self_consistent(seed: Suite) -> None:
    article = seed.read_article()
    for fact in seed.key_facts:
        assert match_fact(article, fact) is not None, f"{fact.id} is not recognised in the article"
        assert match_fact(fact.fact, fact) is not None, f"{fact.id}: its own statement is not recognised"
        for text in [*fact.aliases, *fact.numbers]:
            assert _stated(text, article), f"{fact.id}: a number in {text!r} is not in the article"
    assert {f.importance for f in seed.key_facts} == {"core", "supporting"}


def test_seed_tricky_labels(seed: Suite) -> None:
    by_care: dict[str, list[QuestionCase]] = {}
    for case in seed.questions:
        by_care.setdefault(case.care or "", []).append(case)
    speaker = by_care["speaker"][0]
    assert "Gustavo Petro" in speaker.answers and not any("Xi" in g.split() for g in speaker.golds)
    scope = [c for c in by_care["figure-scope"] if c.answerable]
    assert scope and not any("colombia" in normalize_text(g).split() for g in scope[0].golds)
    assert any(not c.answerable for c in by_care["figure-scope"]), "the Colombia-share question must be unanswerable"
    arithmetic = {tuple(c.numbers) for c in by_care["date-arithmetic"]}
    assert {("12",), ("14",)} <= arithmetic  # 2025 - 2013; Aug 2022 -> Oct 2023

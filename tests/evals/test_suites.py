"""Suites of several articles, official SQuAD scoring, the bare reference and risk-coverage."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import DatasetError
from qa.evals import load_suite
from qa.evals.dataset import QuestionCase
from qa.evals.runner import plan_cases
from qa.evals.scorers import candidate_score, score_answer
from qa.schemas import Answer, AnswerResult, Grounding, Provenance, Usage
from qa.tasks.abstention import AnswerSignals
from qa.tasks.reference import is_abstention

ROOT = Path(__file__).resolve().parents[2]


def _result(text: str, status: str = "answered", candidate: str | None = None, sentence: int = 1) -> AnswerResult:
    signals = None
    if candidate is not None:
        signals = AnswerSignals(sentence=sentence, candidate=candidate, p_none=None, retrieval=1.0, rank=1,
                                question_overlap=1.0, question_unseen=0.0, answer_support=1.0, type_fit=0)  # fmt: skip
    return AnswerResult(
        question="q",
        answer=Answer(answer=text, status=status, citations=[]),
        grounding=Grounding(
            verified=0,
            repaired=0,
            dropped=[],
            abstained=status != "answered",
            unsupported_answer=False,
            unsupported_key_points=[],
        ),
        usage=Usage.zero(),
        provenance=Provenance(prompt="answer", prompt_version="2", backend="embedded", model="m"),
        signals=signals,
    )


def _suite(tmp_path: Path, toml: str, questions: str = "", facts: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "one.txt").write_text("One\n\nThe first article says 42.\n")
    (tmp_path / "articles" / "two.txt").write_text("Two\n\nThe second article says 7.\n")
    (tmp_path / "questions.jsonl").write_text(questions)
    (tmp_path / "key_facts.jsonl").write_text(facts)
    (tmp_path / "suite.toml").write_text(toml)
    return tmp_path / "suite.toml"


def test_the_shipped_suites_load():
    seed = load_suite(ROOT / "evals/seed/suite.toml")
    squad = load_suite(ROOT / "evals/squad-dev/suite.toml")
    wiki = load_suite(ROOT / "evals/wiki/suite.toml")
    assert seed.article_ids() == [None] and seed.scoring == "qa"
    assert len(squad.questions) >= 300 and squad.scoring == "squad" and squad.reference == "bare"
    unanswerable = sum(not q.answerable for q in squad.questions)
    assert abs(unanswerable - len(squad.questions) / 2) <= 5
    assert len({q.article.rsplit("-p", 1)[0] for q in squad.questions if q.article}) == 8
    assert len(wiki.article_ids()) >= 5 and wiki.questions == []
    assert all(len(wiki.facts_for(a)) >= 8 for a in wiki.article_ids())


def test_a_multi_article_suite_plans_one_summary_per_article_and_groups_questions(tmp_path):
    questions = (
        '{"id": "a", "question": "What?", "answerable": true, "answers": ["42"], "article": "one"}\n'
        '{"id": "b", "question": "What?", "answerable": true, "answers": ["7"], "article": "two"}\n'
        '{"id": "c", "question": "Who?", "answerable": false, "answers": [], "article": "one"}\n'
    )
    facts = '{"id": "f", "fact": "It says 7.", "aliases": ["says 7"], "importance": "core", "article": "two"}\n'
    suite = load_suite(
        _suite(tmp_path, '[suite]\nname = "t"\narticles = "articles"\nreference = "bare"\n', questions, facts)
    )
    plan = [p.case_id for p in plan_cases(suite, 1)]
    assert plan == ["a#1", "c#1", "b#1", "bare-a#1", "bare-c#1", "bare-b#1", "summary-two#1"]
    assert suite.read_article("two").startswith("Two")


def test_an_unknown_article_and_a_missing_choice_are_dataset_errors(tmp_path):
    bad = '{"id": "a", "question": "What?", "answerable": true, "answers": ["42"], "article": "three"}\n'
    with pytest.raises(DatasetError, match="unknown article 'three'"):
        load_suite(_suite(tmp_path, '[suite]\nname = "t"\narticles = "articles"\nkey_facts = ""\n', bad))
    other = tmp_path / "x"
    other.mkdir()
    with pytest.raises(DatasetError, match="exactly one of"):
        load_suite(_suite(other, '[suite]\nname = "t"\nkey_facts = ""\n', bad))


def test_official_squad_scoring_uses_only_normalize_answer():
    case = QuestionCase(id="q", question="How much?", answerable=True, answers=["$9.2 billion"])
    official = score_answer(case, _result("9.2 billion dollars"), official=True)
    ours = score_answer(case, _result("9.2 billion dollars"))
    assert official["em"].value == 0.0 and official["f1"].value < 1.0
    assert ours["correct"].value == 1.0  # qa's own scoring folds money forms
    assert score_answer(case, _result("the $9.2 billion"), official=True)["em"].value == 1.0
    abstained = score_answer(case, _result("", "not_in_article"), official=True)
    assert abstained["f1"].value == 0.0 and abstained["correct"].value == 0.0


def test_the_candidate_is_scored_even_when_the_answer_abstained():
    case = QuestionCase(id="q", question="How much?", answerable=True, answers=["$9.2 billion"])
    assert candidate_score(case, _result("", "not_in_article", candidate="$9.2 billion")).value == 1.0
    assert candidate_score(case, _result("", "not_in_article", candidate="Panama")).value == 0.0
    none = QuestionCase(id="u", question="Who?", answerable=False, answers=[])
    assert candidate_score(none, _result("x", candidate="Xi")).value == 0.0
    assert candidate_score(case, _result("x")) is None


def test_a_bare_reply_that_declines_is_an_abstention():
    for text in ("unanswerable", "Unanswerable.", "The text does not say.", "It is not mentioned in the text", ""):
        assert is_abstention(text), text
    for text in ("Rollo", "in 911", "the Normans, who were not Franks"):
        assert not is_abstention(text), text

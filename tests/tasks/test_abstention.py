"""Abstention signals and the calibrated rule."""

from __future__ import annotations

import json
import math

import pytest

from qa.tasks.abstention import (
    FEATURES,
    Calibrator,
    answer_type_fit,
    calibrator_for,
    echoes_question,
    feature_vector,
    measure,
    unseen_share,
)
from qa.text.retrieval import rank_sentences

SENTENCES = [
    "China and Colombia signed a cooperation plan on Wednesday.",
    "Xi pledged $9.2 billion in credit to the region.",
    "The initiative was launched in 2013.",
]


def test_type_fit_reads_the_question_word():
    assert answer_type_fit("How much credit did Xi pledge?", "$9.2 billion") == 1
    assert answer_type_fit("How many countries joined?", "Panama") == -1
    assert answer_type_fit("When was it launched?", "2013") == 1
    assert answer_type_fit("When was it launched?", "the ministry") == -1
    assert answer_type_fit("Who pledged the credit?", "Xi Jinping") == 1
    assert answer_type_fit("Why did Panama leave?", "pressure") == 0


def test_unseen_share_counts_question_words_the_article_never_uses():
    assert unseen_share("What interest rate will the credit carry?", SENTENCES) > 0.5
    assert unseen_share("When was the initiative launched?", SENTENCES) == 0.0


def test_measure_reads_the_cited_sentence():
    q = "How much credit did Xi pledge?"
    signals = measure(q, "$9.2 billion", 2, SENTENCES, 0.01, rank_sentences(SENTENCES, q))
    assert signals.rank == 1 and signals.retrieval == 1.0
    assert signals.answer_support == 1.0 and signals.type_fit == 1
    assert signals.question_overlap > 0.3
    wrong = measure(q, "$9.2 billion", 3, SENTENCES, 0.01, rank_sentences(SENTENCES, q))
    assert wrong.retrieval < 1.0 and wrong.answer_support < 1.0
    outside = measure(q, "x", 9, SENTENCES, None, rank_sentences(SENTENCES, q))
    assert outside.rank == len(SENTENCES) + 1 and outside.retrieval == 0.0


def test_the_calibrator_is_a_logistic_model_of_the_features():
    q = "How much credit did Xi pledge?"
    good = measure(q, "$9.2 billion", 2, SENTENCES, 0.01, rank_sentences(SENTENCES, q))
    bad = measure(
        "What interest rate will it carry?",
        "2013",
        3,
        SENTENCES,
        0.9,
        rank_sentences(SENTENCES, "What interest rate will it carry?"),
    )
    zero = Calibrator(model="m", weights=(0.0,) * len(feature_vector(good)), bias=0.0, threshold=0.5, source="")
    assert zero.confidence(good) == 0.5
    generic = calibrator_for("a-model-with-no-calibration-file")
    assert generic.confidence(good) > generic.confidence(bad)
    assert 0.0 < generic.confidence(bad) < 1.0


def test_an_answer_made_of_the_questions_words_echoes_it():
    question = "Which country is Colombia's largest trading partner?"
    assert echoes_question(question, "Colombia")
    assert echoes_question(question, "Colombia's largest partners")  # plural, possessive and stems fold
    assert not echoes_question(question, "the United States")
    assert not echoes_question(question, "Colombia and the United States")  # it adds a word
    assert not echoes_question(question, "")  # nothing to judge
    assert not echoes_question("How many countries joined in 2013?", "150")
    assert echoes_question("What happened in 2013?", "2013")


def test_a_reply_without_logprobs_is_judged_with_the_development_means_of_its_logprob_features():
    q = "How much credit did Xi pledge?"
    ranking = rank_sentences(SENTENCES, q)
    bare = measure(q, "$9.2 billion", 2, SENTENCES, None, ranking)
    weights = tuple(1.0 if name in ("log_p_none", "p_sentence", "answer_logprob") else 0.0 for name in FEATURES)
    means = tuple(0.5 for _ in FEATURES)
    plain = Calibrator(model="m", weights=weights, bias=-1.0, threshold=0.5, source="")
    imputed = Calibrator(model="m", weights=weights, bias=-1.0, threshold=0.5, source="", means=means)
    assert abs(plain.confidence(bare) - 1 / (1 + math.exp(1.0))) < 1e-9  # without means, a missing logprob counts as 0
    assert abs(imputed.confidence(bare) - 1 / (1 + math.exp(-(-1.0 + 1.5)))) < 1e-9  # three features at 0.5
    sure = measure(q, "$9.2 billion", 2, SENTENCES, 1e-6, ranking, p_sentence=0.5, answer_logprob=-2.5)
    assert abs(imputed.confidence(sure) - plain.confidence(sure)) < 1e-9  # present logprobs are used as they are


def test_a_calibration_names_the_inputs_it_was_fitted_on_and_uses_only_those():
    q = "How much credit did Xi pledge?"
    signals = measure(q, "$9.2 billion", 2, SENTENCES, 0.01, rank_sentences(SENTENCES, q), p_verified=0.8)
    unchecked = measure(q, "$9.2 billion", 2, SENTENCES, 0.01, rank_sentences(SENTENCES, q))
    assert feature_vector(signals, names=("retrieval", "p_verified")) == [signals.retrieval, 0.8]
    checked = Calibrator(
        model="m", weights=(0.0, 2.0), bias=-1.0, threshold=0.5, source="", means=(0.0, 0.25),
        features=("retrieval", "p_verified"),
    )  # fmt: skip
    assert checked.confidence(signals) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 1.6))))
    assert checked.confidence(unchecked) == pytest.approx(1 / (1 + math.exp(-(-1.0 + 0.5))))  # the mean stands in
    assert checked.to_json()["features"] == ["retrieval", "p_verified"]


def test_a_calibration_file_is_loaded_with_its_own_features_and_refused_for_unknown_ones(tmp_path, monkeypatch):
    import qa.tasks.abstention as abstention

    files = tmp_path / "calibration"
    files.mkdir()
    plain = {"model": "m-sub", "features": ["retrieval"], "weights": [1.0], "bias": -1.0, "threshold": 0.3,
             "source": "test", "means": [0.5]}  # fmt: skip
    checked = plain | {"features": ["retrieval", "p_verified"], "weights": [1.0, 2.0], "means": [0.5, 0.5]}
    checked |= {"threshold": 0.4}
    bad = plain | {"model": "m-new", "features": ["retrieval", "a_signal_from_the_future"], "weights": [1.0, 1.0]}
    (files / "m-sub.json").write_text(json.dumps(plain), encoding="utf-8")
    (files / "m-sub.verify.json").write_text(json.dumps(checked), encoding="utf-8")
    (files / "m-plain.json").write_text(json.dumps(plain | {"model": "m-plain"}), encoding="utf-8")
    (files / "m-new.json").write_text(json.dumps(bad), encoding="utf-8")
    monkeypatch.setattr(abstention.resources, "files", lambda package: files)
    abstention.calibrator_for.cache_clear()
    try:
        assert abstention.calibrator_for("m-sub").features == ("retrieval",)
        loaded = abstention.calibrator_for("m-sub", checked=True)
        assert loaded.features == ("retrieval", "p_verified") and loaded.threshold == 0.4
        assert abstention.calibrator_for("m-plain", checked=True).features == (
            "retrieval",
        )  # no checked fit: the plain
        assert abstention.calibrator_for("m-new") is abstention._GENERIC
    finally:
        abstention.calibrator_for.cache_clear()

"""Summary statements checked against their evidence: numbers, names, words, debris."""

from qa.text.statements import debris, statement_problems

EVIDENCE = ["Xi pledged $9.2 billion in credit to Latin American and Caribbean countries."]
ARTICLE = "China and Colombia signed a plan. " + EVIDENCE[0]


def test_a_faithful_compression_passes():
    assert statement_problems("Xi pledged $9.2 billion in credit to Latin American countries.", EVIDENCE, ARTICLE) == []


def test_a_number_not_in_the_evidence_is_a_problem():
    problems = statement_problems("Xi pledged $12 billion in credit.", EVIDENCE, ARTICLE)
    assert any("numbers not in its evidence: 12" in p for p in problems)


def test_a_name_not_in_the_article_is_a_problem():
    problems = statement_problems("Xi pledged credit to Europe.", EVIDENCE, ARTICLE)
    assert any("names not in the article: europe" in p for p in problems)


def test_a_claim_made_of_other_words_is_a_problem():
    problems = statement_problems("The agreement is part of a strategy of expansion and dominance.", EVIDENCE, ARTICLE)
    assert any("of its words are in its evidence" in p for p in problems)
    assert statement_problems("Xi pledged credit.", EVIDENCE, ARTICLE, lexical=False) == []


def test_json_debris_is_found():
    assert debris("he wrote on X.}, {") is not None
    assert debris('"key_points": [') is not None
    assert debris("A clean sentence, with a comma.") is None
    assert any("debris" in p for p in statement_problems('Xi pledged credit."}, {"point": "', EVIDENCE, ARTICLE))

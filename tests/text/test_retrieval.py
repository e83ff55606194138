"""BM25 over sentences: what the abstention signals and the relevance hint rest on."""

from qa.text.retrieval import rank_sentences

SENTENCES = [
    "China and Colombia signed a cooperation plan.",
    "The plan was hailed as historic by the ministry.",
    "Xi pledged $9.2 billion in credit to the region.",
    "Panama left the pact in February.",
]


def test_the_sentence_that_shares_the_rare_words_ranks_first():
    scores = rank_sentences(SENTENCES, "How much credit did Xi pledge?")
    assert scores.ranked()[0] == 3
    assert scores.rank(3) == 1
    assert scores.relative(3) == 1.0
    assert 0.0 <= scores.relative(1) < 1.0


def test_neighbours_share_a_little_of_the_score():
    scores = rank_sentences(SENTENCES, "When did Panama leave the pact?")
    assert scores.ranked()[0] == 4
    assert scores.scores[2] > 0  # the sentence before gets a share of its neighbour's score
    assert scores.scores[0] == 0.0


def test_a_question_with_nothing_in_common_scores_zero_everywhere():
    scores = rank_sentences(SENTENCES, "Who won the football match?")
    assert max(scores.scores) == 0.0
    assert scores.relative(1) == 0.0
    assert scores.rank(99) == len(SENTENCES) + 1

"""The article and what is computed from its text alone, with no model (layer 1).

- `article`: parse and load an article (headline, paragraphs, numbered sentences);
- `grounding`: find a quote in the article and verify it (exact, then repaired);
- `support`: lexical support of a statement by its evidence (content words, names, numbers);
- `spans`: a question of fact's answer as the words of its cited sentence that answer it;
- `retrieval`: BM25 ranking of sentences against a question;
- `extract`: key sentences for a summary (lead, centrality) and their compression;
- `statements`: the checks every summary statement passes.

May import: the base modules (`qa.errors`, `qa.settings`, `qa.schemas`) only.
"""

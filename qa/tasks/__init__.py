"""The tasks: each is one module of `Steps`, run by a driver (layer 3).

- `answer`: one question, evidence first (sentence number, then a short answer), with
  calibrated abstention (`abstention`) and the citation derived from the sentence
  (`evidence`);
- `answer_many`: several questions in one call, each answer verified on its own;
- `summarize`: extract the key sentences, then write from them (or keep them, extractive);
- `reference`: the bare model with a plain prompt, the eval's baseline;
- `common`: what every task shares (question checks, provenance, quotable sentences,
  the schema shown in the prompt).

A new task is one module here, one template in `prompts/`, one line in `qa.api`.
May import: the base modules, `qa.text`, `qa.core`, `qa.backends`. Never `qa.api` or above.
"""

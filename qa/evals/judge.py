"""An optional model judge for the summary sentences the deterministic check cannot decide.

`score_summary` finds only two kinds of error (a number or a name the article lacks); a
sentence with neither is undecided. `ModelJudge` asks a model about such a sentence with
the `judge` prompt (prompts/judge.toml: the rules in the system message, the article in
its marker block, the sentence after it) and the structured output `JudgeVerdict`
{supported, quote}, through the same structured-call loop as every other task. The quote
must be found in the article (checked locally, re-asked once if not); a "supported"
verdict whose quote cannot be found is treated as undecided, never as a pass. A judge that
fails (a QAError) leaves the sentence undecided with the error as the reason, so a judge
failure is never silently scored as wrong. Each judged sentence reports `decided_by: judge`.

The judge's recordings live in their own folder (the run's folder + '-judge', e.g.
evals/recordings/seed-judge/), so re-recording the judge never touches the task's.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from qa.backends.backend import Backend
from qa.backends.driver import run
from qa.core.constraints import output_budget, response_schema
from qa.core.prompts import article_block, load_prompt
from qa.core.structured import Steps, StructuredSpec, structured_call
from qa.schemas import Usage
from qa.tasks.common import missing_quotes, quote_choices, schema_text
from qa.text.article import Article
from qa.text.grounding import locate_quote

__all__ = ["JudgeVerdict", "ModelJudge", "judge_recordings", "judge_steps"]


class JudgeVerdict(BaseModel):
    """The judge's answer about one summary sentence."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    supported: bool
    """True only if the article states what the sentence says."""
    quote: Annotated[str, Field(max_length=400)]
    """The article sentence that supports it (or the closest one), copied word for word."""


def judge_recordings(folder: Path) -> Path:
    """The judge's recordings folder beside a run's: `<folder>-judge`."""
    return folder.parent / f"{folder.name}-judge"


def judge_steps(article: Article, sentence: str, backend: Backend) -> Steps[tuple[JudgeVerdict, Usage]]:
    """Steps that ask the judge about `sentence`; they end in its verdict and the usage."""
    schema = response_schema(JudgeVerdict, quote_choices(article, article.text, backend))
    prompt = load_prompt("judge").render(
        article_block=article_block(article.text), sentence=sentence.strip(), schema=schema_text(backend, schema)
    )
    spec = StructuredSpec(
        prompt=prompt,
        response_model=JudgeVerdict,
        schema=schema,
        max_tokens=output_budget(schema),
        check=lambda verdict: missing_quotes(article, [verdict.quote]) if verdict.supported else [],
    )
    return (yield from structured_call(spec, backend))


class ModelJudge:
    """A `SentenceJudge` backed by a model: `judge(sentence, article_text) -> (verdict, why)`.

    Thread-safe; `usage` sums every call it made, failed ones included.
    """

    def __init__(self, article: Article, backend: Backend) -> None:
        """Judge sentences about `article` with `backend` (`qa.api.backend_for(settings)`)."""
        self.article = article
        self.backend = backend
        self.usage = Usage.zero()
        self._lock = threading.Lock()

    def _add(self, usage: Usage | None) -> None:
        if usage is not None:
            with self._lock:
                self.usage = self.usage + usage

    def __call__(self, sentence: str, article_text: str) -> tuple[bool | None, str]:
        """The judge's verdict on `sentence` and its evidence; raises QAError if the call fails."""
        from qa.errors import QAError

        try:
            verdict, usage = run(judge_steps(self.article, sentence, self.backend), self.backend)
        except QAError as exc:
            self._add(exc.usage)
            raise
        self._add(usage)
        found = locate_quote(article_text, verdict.quote, None, None) if verdict.quote.strip() else None
        if verdict.supported and found is None:
            return None, f"its supporting quote is not in the article: {verdict.quote[:80]!r}"
        return verdict.supported, f"quote {verdict.quote[:120]!r}"

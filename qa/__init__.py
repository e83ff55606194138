"""qa: trustworthy, schema-shaped summaries and grounded answers about news articles.

    import qa
    article = qa.load_article("seeds/000_db386d23d8a38732.txt")
    summary = qa.summarize(article)
    answer = qa.ask(article, "Who leads Colombia?")
    report = qa.run("articles/", "summaries.jsonl")   # a corpus, resumable (see qa.bulk)

Public names load on first use (PEP 562), so `import qa` and `qa --help` stay fast: the
openai SDK and the embedded model are imported only when a model is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "APICallError": "qa.errors",
    "Answer": "qa.schemas",
    "AnswerResult": "qa.schemas",
    "Article": "qa.article",
    "ArticleError": "qa.errors",
    "BackendError": "qa.errors",
    "BackendUnavailableError": "qa.errors",
    "BatchAPIError": "qa.errors",
    "BrokenReplyError": "qa.errors",
    "Citation": "qa.schemas",
    "ConfigError": "qa.errors",
    "ContextLengthError": "qa.errors",
    "Conversation": "qa.api",
    "CorpusError": "qa.errors",
    "DatasetError": "qa.errors",
    "EvalError": "qa.errors",
    "Grounding": "qa.schemas",
    "InputError": "qa.errors",
    "ModelDownloadError": "qa.errors",
    "ModelIntegrityError": "qa.errors",
    "ModelLoadError": "qa.errors",
    "OutputValidationError": "qa.errors",
    "Paragraph": "qa.article",
    "PromptError": "qa.errors",
    "Provenance": "qa.schemas",
    "QAError": "qa.errors",
    "QuestionError": "qa.errors",
    "RecordingCorruptError": "qa.errors",
    "RecordingError": "qa.errors",
    "RefusalError": "qa.errors",
    "ReplayMissError": "qa.errors",
    "RunRecord": "qa.bulk.records",
    "RunReport": "qa.bulk.runner",
    "SecretLeakError": "qa.errors",
    "Settings": "qa.settings",
    "StructuredOutputUnsupportedError": "qa.errors",
    "Summary": "qa.schemas",
    "SummaryResult": "qa.schemas",
    "TruncatedOutputError": "qa.errors",
    "Usage": "qa.schemas",
    "aask": "qa.api",
    "aask_many": "qa.api",
    "ask": "qa.api",
    "ask_many": "qa.api",
    "asummarize": "qa.api",
    "estimate_run": "qa.bulk.estimate",
    "load_article": "qa.article",
    "load_articles": "qa.article",
    "load_prompt": "qa.prompts",
    "parse_article": "qa.article",
    "run": "qa.bulk.runner",
    "summarize": "qa.api",
    "verify_answer": "qa.grounding",
    "verify_summary": "qa.grounding",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("qa", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


if TYPE_CHECKING:
    from qa.api import Conversation, aask, aask_many, ask, ask_many, asummarize, summarize
    from qa.article import Article, Paragraph, load_article, load_articles, parse_article
    from qa.bulk.estimate import estimate_run
    from qa.bulk.records import RunRecord
    from qa.bulk.runner import RunReport, run
    from qa.errors import (
        APICallError,
        ArticleError,
        BackendError,
        BackendUnavailableError,
        BatchAPIError,
        BrokenReplyError,
        ConfigError,
        ContextLengthError,
        CorpusError,
        DatasetError,
        EvalError,
        InputError,
        ModelDownloadError,
        ModelIntegrityError,
        ModelLoadError,
        OutputValidationError,
        PromptError,
        QAError,
        QuestionError,
        RecordingCorruptError,
        RecordingError,
        RefusalError,
        ReplayMissError,
        SecretLeakError,
        StructuredOutputUnsupportedError,
        TruncatedOutputError,
    )
    from qa.grounding import verify_answer, verify_summary
    from qa.prompts import load_prompt
    from qa.schemas import Answer, AnswerResult, Citation, Grounding, Provenance, Summary, SummaryResult, Usage
    from qa.settings import Settings

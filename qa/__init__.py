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
    "Article": "qa.text.article",
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
    "Paragraph": "qa.text.article",
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
    "load_article": "qa.text.article",
    "load_articles": "qa.text.article",
    "load_prompt": "qa.core.prompts",
    "parse_article": "qa.text.article",
    "run": "qa.bulk.runner",
    "summarize": "qa.api",
    "verify_answer": "qa.text.grounding",
    "verify_summary": "qa.text.grounding",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("qa", _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


# `name as name`: an explicit re-export for type checkers, which cannot read the computed __all__.
if TYPE_CHECKING:
    from qa.api import Conversation as Conversation
    from qa.api import aask as aask
    from qa.api import aask_many as aask_many
    from qa.api import ask as ask
    from qa.api import ask_many as ask_many
    from qa.api import asummarize as asummarize
    from qa.api import summarize as summarize
    from qa.bulk.estimate import estimate_run as estimate_run
    from qa.bulk.records import RunRecord as RunRecord
    from qa.bulk.runner import RunReport as RunReport
    from qa.bulk.runner import run as run
    from qa.core.prompts import load_prompt as load_prompt
    from qa.errors import APICallError as APICallError
    from qa.errors import ArticleError as ArticleError
    from qa.errors import BackendError as BackendError
    from qa.errors import BackendUnavailableError as BackendUnavailableError
    from qa.errors import BatchAPIError as BatchAPIError
    from qa.errors import BrokenReplyError as BrokenReplyError
    from qa.errors import ConfigError as ConfigError
    from qa.errors import ContextLengthError as ContextLengthError
    from qa.errors import CorpusError as CorpusError
    from qa.errors import DatasetError as DatasetError
    from qa.errors import EvalError as EvalError
    from qa.errors import InputError as InputError
    from qa.errors import ModelDownloadError as ModelDownloadError
    from qa.errors import ModelIntegrityError as ModelIntegrityError
    from qa.errors import ModelLoadError as ModelLoadError
    from qa.errors import OutputValidationError as OutputValidationError
    from qa.errors import PromptError as PromptError
    from qa.errors import QAError as QAError
    from qa.errors import QuestionError as QuestionError
    from qa.errors import RecordingCorruptError as RecordingCorruptError
    from qa.errors import RecordingError as RecordingError
    from qa.errors import RefusalError as RefusalError
    from qa.errors import ReplayMissError as ReplayMissError
    from qa.errors import SecretLeakError as SecretLeakError
    from qa.errors import StructuredOutputUnsupportedError as StructuredOutputUnsupportedError
    from qa.errors import TruncatedOutputError as TruncatedOutputError
    from qa.schemas import Answer as Answer
    from qa.schemas import AnswerResult as AnswerResult
    from qa.schemas import Citation as Citation
    from qa.schemas import Grounding as Grounding
    from qa.schemas import Provenance as Provenance
    from qa.schemas import Summary as Summary
    from qa.schemas import SummaryResult as SummaryResult
    from qa.schemas import Usage as Usage
    from qa.settings import Settings as Settings
    from qa.text.article import Article as Article
    from qa.text.article import Paragraph as Paragraph
    from qa.text.article import load_article as load_article
    from qa.text.article import load_articles as load_articles
    from qa.text.article import parse_article as parse_article
    from qa.text.grounding import verify_answer as verify_answer
    from qa.text.grounding import verify_summary as verify_summary

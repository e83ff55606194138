"""Every error `qa` raises on purpose.

Third-party errors (openai, httpx2, llama_cpp, pydantic, OS errors) are translated at
the boundary where they happen (`raise SomeQAError(...) from exc`) and never leak to a
caller. Each class carries `exit_code`, the status the CLI exits with.

    QAError                          base of everything below (exit 1)
    ├── ConfigError                  a setting or environment variable is unusable (exit 2)
    ├── InputError                   the user's input cannot be used (exit 3)
    │   ├── ArticleError             article file empty, binary, not UTF-8, too big, missing
    │   ├── QuestionError            question empty or too long
    │   └── CorpusError              `qa run`: corpus unreadable, a bad JSONL line, duplicate ids
    ├── PromptError                  a template is missing, malformed, or given wrong variables (exit 3)
    ├── BackendError                 the model or its server failed (exit 4)
    │   ├── BackendUnavailableError  optional extra not installed, server unreachable
    │   ├── ModelLoadError           a GGUF file is missing or cannot be loaded
    │   │   └── ModelIntegrityError  a model file's size or sha256 is not the registry's pin
    │   ├── ModelDownloadError       `qa models pull` could not fetch a model from the Hub
    │   ├── APICallError             the server answered with an error after the SDK's retries
    │   │   └── BrokenReplyError     a 200 reply cut off mid-stream or not JSON (sent again once)
    │   ├── ContextLengthError       the prompt cannot fit the model's context window
    │   ├── TruncatedOutputError     the model stopped at max_tokens (finish_reason "length")
    │   ├── RefusalError             the model refused to answer
    │   ├── OutputValidationError    the output never matched the schema within the attempts
    │   ├── BatchAPIError            the OpenAI Batch API failed a request, or the whole batch
    │   └── StructuredOutputUnsupportedError  a server takes no structured-output mode qa knows
    ├── RecordingError               recorded responses cannot be used (exit 5)
    │   ├── RecordingCorruptError    a recording file cannot be parsed
    │   ├── ReplayMissError          replay mode and no recording matches the request
    │   └── SecretLeakError          a write would have stored something that looks like a key
    └── EvalError                    the eval harness cannot run: bad dataset, bad baseline (exit 6)
        └── DatasetError             a dataset line is invalid (names file and line)

Errors raised after model calls were made carry `usage` (a `qa.schemas.Usage` summed over
every attempt), so the cost of a failure is never lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.schemas import Usage

__all__ = [
    "APICallError",
    "ArticleError",
    "BackendError",
    "BackendUnavailableError",
    "BatchAPIError",
    "BrokenReplyError",
    "ConfigError",
    "ContextLengthError",
    "CorpusError",
    "DatasetError",
    "EvalError",
    "InputError",
    "ModelDownloadError",
    "ModelIntegrityError",
    "ModelLoadError",
    "OutputValidationError",
    "PromptError",
    "QAError",
    "QuestionError",
    "RecordingCorruptError",
    "RecordingError",
    "RefusalError",
    "ReplayMissError",
    "SecretLeakError",
    "StructuredOutputUnsupportedError",
    "TruncatedOutputError",
]


class QAError(Exception):
    """Base class of every error `qa` raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def __str__(self) -> str:
        return self.message


class ConfigError(QAError):
    """A setting or environment variable has a value `qa` cannot use."""

    exit_code = 2


class InputError(QAError):
    """The user's input (article, question) cannot be used as given."""

    exit_code = 3


class ArticleError(InputError):
    """An article file is missing, empty, binary, not UTF-8 or too large."""


class QuestionError(InputError):
    """A question is empty or longer than the limit."""


class CorpusError(InputError):
    """A `qa run` corpus cannot be read: a missing folder, a glob that matches nothing, a
    JSONL line that is not an article object, two articles with one id. The message names
    the file and line."""


class PromptError(QAError):
    """A prompt template is missing or malformed, or was rendered with wrong variables."""

    exit_code = 3


class BackendError(QAError):
    """The model, or the server in front of it, failed."""

    exit_code = 4


class BackendUnavailableError(BackendError):
    """The chosen backend cannot be used here: an optional extra is missing or a server is unreachable."""


class ModelLoadError(BackendError):
    """A local GGUF model file is missing, unreadable or corrupt."""


class ModelIntegrityError(ModelLoadError):
    """A model file's size or sha256 is not the value pinned in `qa.backends.embedded.registry`.

    The message names the file and both hashes (or sizes). A cached file that fails is
    deleted, never loaded; the next use rebuilds it.
    """


class ModelDownloadError(BackendError):
    """`qa models pull` could not fetch a model from the Hugging Face Hub (network, missing
    repository, revision or file). A partial download is kept and resumed by the next pull."""


class APICallError(BackendError):
    """The server answered with an error (after the SDK's own transport retries)."""

    def __init__(self, message: str, *, status_code: int | None = None, usage: Usage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.status_code = status_code


class BrokenReplyError(APICallError):
    """The server said 200 but its reply was cut off mid-stream or was not valid JSON.

    A glitch on the way, not an answer: `qa` sends the same request once more (the SDK
    retries only error statuses and failed connections) before raising this."""


class ContextLengthError(BackendError):
    """The prompt cannot be made to fit the model's context window."""


class TruncatedOutputError(BackendError):
    """The model hit `max_tokens` (finish_reason "length"); its output is incomplete."""

    def __init__(self, message: str, *, partial: str = "", usage: Usage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.partial = partial


class RefusalError(BackendError):
    """The model refused to produce the requested output."""

    def __init__(self, message: str, *, refusal: str = "", usage: Usage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.refusal = refusal


class OutputValidationError(BackendError):
    """The model's output did not match the schema within the allowed attempts."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        last_output: str,
        errors: list[str],
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message, usage=usage)
        self.attempts = attempts
        self.last_output = last_output
        self.errors = errors


class BatchAPIError(BackendError):
    """The OpenAI Batch API did not produce a usable reply for a request: the request is in
    the batch's error file, or the batch failed, expired or was cancelled before it ran."""

    def __init__(self, message: str, *, code: str | None = None, usage: Usage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.code = code


class StructuredOutputUnsupportedError(BackendError):
    """A server rejected or ignored every structured-output mode qa tried (see `qa.backends.negotiate`).

    The message is one line: the server and model, each mode tried with what happened,
    and the setting that forces a mode (`QA_STRUCTURED_MODE`). Also raised when a forced
    or negotiated mode cannot express the schema a task sends.
    """

    def __init__(self, message: str, *, tried: list[tuple[str, str]] | None = None, usage: Usage | None = None) -> None:
        super().__init__(message, usage=usage)
        self.tried = tried or []


class RecordingError(QAError):
    """Recorded responses cannot be used."""

    exit_code = 5


class RecordingCorruptError(RecordingError):
    """A recording file cannot be parsed; the message names the file."""


class ReplayMissError(RecordingError):
    """Replay mode found no recording for a request.

    The message names the prompt template and version, shows a field-level diff against
    the nearest recorded request, and gives the command that re-records it.
    """

    def __init__(self, message: str, *, diff: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.diff = diff or []


class SecretLeakError(RecordingError):
    """A recording write was refused because it contained something that looks like a key."""


class EvalError(QAError):
    """The eval harness cannot run: a dataset, baseline or run log is invalid."""

    exit_code = 6


class DatasetError(EvalError):
    """A dataset line is invalid; the message names the file and the line."""

"""SDK errors become `qa` errors here, at the I/O edge, so the steps only ever see `QAError`s.

The drivers (`qa.backends.driver`) and the server probes (`qa.backends.negotiate`) call the
openai SDK; whatever it raises after its own retries is translated by `translate` before
it reaches a task's steps.
"""

from __future__ import annotations

import json

import openai

from qa.errors import APICallError, BrokenReplyError, ContextLengthError, QAError
from qa.schemas import Usage

__all__ = ["translate"]


def translate(exc: BaseException, usage: Usage | None = None) -> QAError:
    """Translate what a model call raised (an openai SDK error, after its own retries) into a `qa` error.

    The SDK wraps whatever a transport raises in `APIConnectionError`; a `qa` error found
    in that chain (a replay miss, a model that would not load) is returned as itself. A
    reply the SDK could not decode (`json.JSONDecodeError`, `UnicodeDecodeError`) is a
    `BrokenReplyError`; any other exception is not the server's doing and is raised as is.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, QAError):
            cause.usage = cause.usage or usage
            return cause
        cause = cause.__cause__ or cause.__context__

    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):  # the SDK lets these through as is
        return BrokenReplyError(f"the model server sent a reply that is not valid JSON: {exc}", usage=usage)
    if not isinstance(exc, openai.OpenAIError):  # any other ValueError is a bug of ours, not the server's
        raise exc
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", "") or exc)
    if isinstance(exc, openai.BadRequestError) and "context" in text.lower():
        return ContextLengthError(f"the prompt does not fit the model's context: {text}", usage=usage)
    if isinstance(exc, openai.APITimeoutError):
        return APICallError(f"the model server did not answer in time: {text}", usage=usage)
    if isinstance(exc, openai.APIConnectionError):
        return APICallError(f"cannot reach the model server: {text}", usage=usage)
    if isinstance(exc, openai.AuthenticationError):
        return APICallError("the API key was rejected (check OPENAI_API_KEY)", status_code=status, usage=usage)
    return APICallError(
        f"the model server answered with an error ({status or 'no status'}): {text}", status_code=status, usage=usage
    )

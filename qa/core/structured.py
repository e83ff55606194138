"""One structured model call: ask, check the finish reason, validate, re-ask with the error.

Written once, as a generator that yields `ChatRequest`s and receives `Completion`s (no
I/O here); `qa.backends.driver` runs it synchronously or asynchronously. One owner per failure:
- transport failures (429, 5xx, timeouts, resets) belong to the openai SDK's own retries;
  what survives them is thrown into the generator and becomes `APICallError`;
- tenacity retries only invalid output (bad JSON, schema mismatch, and, once, the meaning
  checks a caller passes, such as "this quote is not in the article"), re-asking with the
  error text on a copy of the messages: the caller's messages are never touched;
- `finish_reason == "length"` is never resent as is: one re-ask asks for shorter output,
  a second truncation raises `TruncatedOutputError`;
- a refusal raises `RefusalError` at once;
- a 200 reply that was cut off mid-stream or is not JSON (`BrokenReplyError`) is a glitch
  on the way, which no one else retries: the same request is sent once more, as one of
  the attempts.
Usage is summed over every attempt, returned on success and attached to every error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from qa.core.prompts import RenderedPrompt
from qa.core.tokens import estimate_cost
from qa.errors import (
    BrokenReplyError,
    OutputValidationError,
    QAError,
    RefusalError,
    TruncatedOutputError,
)
from qa.schemas import Usage
from qa.settings import Settings

__all__ = [
    "TOP_LOGPROBS",
    "ChatRequest",
    "Completion",
    "Steps",
    "StructuredSpec",
    "Target",
    "TokenLogprob",
    "structured_call",
    "structured_reply",
    "usage_of",
]


class _Profile(Protocol):
    @property
    def local(self) -> bool:
        """The model runs on this machine (its calls cost nothing)."""
        ...

    @property
    def logprobs(self) -> bool:
        """The backend returns token log-probabilities when asked."""
        ...


class Target(Protocol):
    """What the steps need of a backend to build a request and price its usage.

    `qa.backends.Backend` is one; the steps never import it, so this layer stays below the
    backends (and a test can drive steps with any object of this shape).
    """

    @property
    def kind(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def profile(self) -> _Profile: ...

    def structured_fields(self, name: str, schema: dict[str, Any], *, grammar: str | None = None) -> dict[str, Any]:
        """The request body fields that ask for `schema` in the backend's structured-output mode
        (or for `grammar`, a llama.cpp grammar, where the backend takes one)."""
        ...


T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

TOP_LOGPROBS = 10
"""Alternatives asked for at each generated position when a spec wants logprobs."""

# A schema-valid reply whose meaning checks fail (a quote not in the article) is re-asked
# once: a model that cannot ground its answer twice rarely does on a third try, and the
# grounding step turns what is left into an abstention.
MAX_MEANING_REASKS = 1

REASK = (
    "Your reply could not be used: {problems}\n"
    "Reply again with one JSON object that fixes these problems and follows the same rules."
)
SHORTER = (
    "Your reply was cut off at the length limit. Reply again with a shorter JSON object: "
    "fewer items and shorter strings."
)


@dataclass(frozen=True)
class ChatRequest:
    """Keyword arguments for `chat.completions.create`, and metadata headers."""

    body: dict[str, Any]
    headers: dict[str, str]
    stream: bool = False
    schema_name: str = ""
    """The name the schema is sent under."""
    schema: dict[str, Any] | None = None
    """The JSON schema the body asks for, so that it can be asked for in another mode
    (`Backend.rebuild`) when a server rejects this one."""


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token's log-probability and the most likely alternatives at its place."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Completion:
    """What one model call produced, whether streamed or not."""

    content: str | None
    refusal: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    logprobs: tuple[TokenLogprob, ...] | None = None
    """Per-token log-probabilities, when they were asked for and the backend returned them."""


Steps = Generator[ChatRequest, Completion, T]


@dataclass(frozen=True)
class StructuredSpec(Generic[M]):
    """What to ask: the rendered prompt, the model to validate into, the schema sent."""

    prompt: RenderedPrompt
    response_model: type[M]
    schema: dict[str, Any]
    max_tokens: int
    check: Callable[[M], list[str]] | None = field(default=None)
    logprobs: bool = False
    """Ask for token log-probabilities (where the backend gives them): abstention uses them."""
    grammar: str | None = None
    """A llama.cpp grammar (GBNF) narrower than `schema`, sent instead of it where the backend
    decodes with one (`Backend.takes_grammar`); elsewhere `schema` is sent. Replies are
    validated against `response_model` either way."""


class _Reask(Exception):
    """Internal: this attempt's output was unusable; tenacity asks again."""


def usage_of(backend: Target, completion: Completion | None) -> Usage:
    """One call's usage (zero without a completion), priced for the backend's model."""
    if completion is None:
        return Usage.zero()
    return _usage(backend, completion)


def _usage(backend: Target, completion: Completion) -> Usage:
    return Usage(
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        total_tokens=completion.prompt_tokens + completion.completion_tokens,
        attempts=1,
        cost_usd=estimate_cost(
            backend.model, completion.prompt_tokens, completion.completion_tokens, local=backend.profile.local
        ),
    )


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_reply(model: type[M], text: str) -> M:
    """Validate a reply into `model`, forgiving what models commonly get wrong.

    A ```json fence around the object is removed, and raw control characters inside
    strings (a literal newline, which JSON forbids) are accepted: the content is valid,
    only its escaping is not, and a re-ask for it would cost a whole call.
    """
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if not any(err["type"] == "json_invalid" for err in exc.errors()):
            raise
        try:
            data = json.loads(body, strict=False)
        except ValueError:
            raise exc from None
        return model.model_validate(data)


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "the reply"
        out.append(f"{where}: {err['msg']}")
    return out


def _request(spec: StructuredSpec[Any], backend: Target, messages: list[dict[str, str]], stream: bool) -> ChatRequest:
    body: dict[str, Any] = {
        "model": backend.model,
        "messages": messages,
        # response_format, or a grammar: see `Backend.structured_fields` and `qa.backends.negotiate`
        **backend.structured_fields(spec.prompt.name, spec.schema, grammar=spec.grammar),
        "max_tokens": spec.max_tokens,
        "temperature": backend.settings.temperature,
    }
    if (
        backend.settings.seed is not None
    ):  # only when set, so unseeded requests (and their recordings) stay as they were
        body["seed"] = backend.settings.seed
    if spec.logprobs and backend.profile.logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = TOP_LOGPROBS
    headers = {
        "x-qa-prompt": spec.prompt.name,
        "x-qa-prompt-version": spec.prompt.version,
        "x-qa-backend": backend.kind,
    }
    return ChatRequest(body=body, headers=headers, stream=stream, schema_name=spec.prompt.name, schema=spec.schema)


def structured_call(spec: StructuredSpec[M], backend: Target, *, stream: bool = False) -> Steps[tuple[M, Usage]]:
    """Steps that end in a validated `spec.response_model` and the summed usage."""
    result, usage, _ = yield from structured_reply(spec, backend, stream=stream)
    return result, usage


def structured_reply(
    spec: StructuredSpec[M], backend: Target, *, stream: bool = False
) -> Steps[tuple[M, Usage, Completion]]:
    """`structured_call`, also returning the completion the result was read from (its logprobs)."""
    messages = [dict(m) for m in spec.prompt.messages]
    usage = Usage.zero()
    errors: list[str] = []
    last_output = ""
    truncated = False
    resent = False
    meaning_reasks = 0
    max_attempts = max(1, backend.settings.max_attempts)
    retrying = Retrying(stop=stop_after_attempt(max_attempts), retry=retry_if_exception_type(_Reask), reraise=True)
    try:
        for attempt in retrying:
            with attempt:
                final = attempt.retry_state.attempt_number >= max_attempts
                try:
                    completion = yield _request(spec, backend, messages, stream)
                except QAError as error:  # thrown in by the driver: a call's error, translated at the I/O edge
                    error.usage = error.usage or usage
                    if isinstance(error, BrokenReplyError) and not resent and not final:
                        resent = True
                        errors.append(f"sent again: {error}")
                        raise _Reask() from error
                    raise
                usage = usage + _usage(backend, completion)
                if completion.refusal:
                    raise RefusalError(
                        f"the model refused: {completion.refusal}", refusal=completion.refusal, usage=usage
                    )
                last_output = completion.content or ""
                if completion.finish_reason == "length":
                    if truncated or final:
                        raise TruncatedOutputError(
                            f"the model's output was cut off at max_tokens={spec.max_tokens}",
                            partial=last_output,
                            usage=usage,
                        )
                    truncated = True
                    messages = [*messages, {"role": "user", "content": SHORTER}]
                    errors.append("output cut off at the length limit")
                    raise _Reask()
                try:
                    result = parse_reply(spec.response_model, last_output)
                except ValidationError as exc:
                    problems = _problems(exc)
                else:
                    problems = spec.check(result) if spec.check else []
                    if not problems or final or meaning_reasks >= MAX_MEANING_REASKS:
                        # Meaning problems left now are the grounding step's to report (and abstain on).
                        return result, usage, completion
                    meaning_reasks += 1
                errors.extend(problems)
                messages = [
                    *messages,
                    {"role": "assistant", "content": last_output},
                    {"role": "user", "content": REASK.format(problems="; ".join(problems))},
                ]
                raise _Reask()
    except _Reask:
        pass
    raise OutputValidationError(
        f"the model's output did not match the {spec.response_model.__name__} schema after {usage.attempts} attempt(s): "
        + "; ".join(errors[-3:]),
        attempts=usage.attempts,
        last_output=last_output,
        errors=errors,
        usage=usage,
    )

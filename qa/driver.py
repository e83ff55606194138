"""Run `Steps` (see `qa.structured`) against a backend, synchronously or asynchronously.

The logic lives in the steps; the two drivers below only carry requests to the openai
client and completions back, so the sync and async APIs cannot drift apart. A streamed
call passes each content delta to `on_text` as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import openai

from qa.backends import Backend
from qa.errors import APICallError, QAError
from qa.structured import ChatRequest, Completion, Steps
from qa.tokens import message_tokens

__all__ = ["TextCallback", "arun", "run"]

T = TypeVar("T")
# What a model call may raise: the SDK's errors (after its retries), JSON it could not
# decode (the SDK lets json.JSONDecodeError through), and qa's own (a cut stream).
_CALL_ERRORS = (openai.OpenAIError, ValueError, QAError)
TextCallback = Callable[[str], None]


class _Accumulator:
    """Builds a `Completion` from a response or from stream chunks."""

    def __init__(self, request: ChatRequest, backend: Backend, on_text: TextCallback | None) -> None:
        self.request = request
        self.backend = backend
        self.on_text = on_text
        self.parts: list[str] = []
        self.refusal: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Any = None

    def add_chunk(self, chunk: Any) -> None:
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is not None and delta.content:
                self.parts.append(delta.content)
                if self.on_text is not None:
                    self.on_text(delta.content)
            if delta is not None and getattr(delta, "refusal", None):
                self.refusal.append(delta.refusal)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def from_response(self, response: Any) -> Completion:
        choice = response.choices[0]
        self.parts = [choice.message.content or ""]
        self.refusal = [choice.message.refusal] if getattr(choice.message, "refusal", None) else []
        self.finish_reason = choice.finish_reason
        self.usage = response.usage
        if self.on_text is not None and self.parts[0]:
            self.on_text(self.parts[0])
        return self.completion()

    def completion(self) -> Completion:
        if self.request.stream and self.finish_reason is None:
            # A cut stream ends like a finished one; only the missing finish_reason tells.
            raise APICallError("the response stream was cut off before the model finished")
        content = "".join(self.parts)
        if self.usage is not None:
            prompt, generated = self.usage.prompt_tokens, self.usage.completion_tokens
        else:  # servers that omit usage: count it ourselves rather than report zero
            prompt = message_tokens(self.request.body["messages"], self.backend.count_tokens)
            generated = self.backend.count_tokens(content)
        return Completion(
            content=content,
            refusal="".join(self.refusal) or None,
            finish_reason=self.finish_reason,
            prompt_tokens=prompt,
            completion_tokens=generated,
        )


def _kwargs(request: ChatRequest) -> dict[str, Any]:
    extra: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if request.stream else {}
    return {**request.body, **extra, "extra_headers": request.headers}


def run(steps: Steps[T], backend: Backend, on_text: TextCallback | None = None) -> T:
    """Drive `steps` to completion with the backend's synchronous client."""
    try:
        request = next(steps)
        while True:
            acc = _Accumulator(request, backend, on_text)
            try:
                response = backend.client.chat.completions.create(**_kwargs(request))
                if request.stream:
                    with response:
                        for chunk in response:
                            acc.add_chunk(chunk)
                    completion = acc.completion()
                else:
                    completion = acc.from_response(response)
            except _CALL_ERRORS as exc:  # the steps translate it, with the usage so far
                request = steps.throw(exc)
            else:
                request = steps.send(completion)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()


async def arun(steps: Steps[T], backend: Backend, on_text: TextCallback | None = None) -> T:
    """Drive `steps` to completion with the backend's asynchronous client."""
    try:
        request = next(steps)
        while True:
            acc = _Accumulator(request, backend, on_text)
            try:
                response = await backend.aclient.chat.completions.create(**_kwargs(request))
                if request.stream:
                    async with response:
                        async for chunk in response:
                            acc.add_chunk(chunk)
                    completion = acc.completion()
                else:
                    completion = acc.from_response(response)
            except _CALL_ERRORS as exc:  # the steps translate it, with the usage so far
                request = steps.throw(exc)
            else:
                request = steps.send(completion)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        steps.close()

"""Run `Steps` (see `qa.core.structured`) against a backend, synchronously or asynchronously.

The logic lives in the steps; the two drivers below only carry requests to the openai
client and completions back, so the sync and async APIs cannot drift apart. A streamed
call passes each content delta to `on_text` as it arrives, after an empty one that marks
the start of the attempt (a re-ask or a resend streams a new reply from the start).

In replay and auto modes a plain call whose reply is recorded is answered from the
recordings directly (`Backend.recorded_reply`), keyed on the very body the client would
send; everything else, misses included, goes through the client and its recording
transport. tests/backends/test_replay_direct.py checks both routes give the same results.

Three things belong to no single step, so the drivers do them:
- a server profile's structured-output mode is negotiated (`qa.backends.negotiate`) when its first
  task starts, before the steps build a prompt; a failure to negotiate is raised at the
  first send, so errors in a task's own input still come first;
- a server that rejects the structured-output mode it negotiated (`qa.backends.negotiate`) gets
  the same request again in its next mode, and every later request of that run too (the
  prompt then shows the schema if the new mode needs it); this is not an attempt, as no
  model answered. A rejected mode that QA_STRUCTURED_MODE forces ends the call with a
  one-line `StructuredOutputUnsupportedError` that says so;
- the result's `provenance.structured_mode` is set to the mode the backend used
  (`stamp_provenance`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio.to_thread
import openai

from qa.backends.backend import Backend, sdk_arguments
from qa.backends.negotiate import fallback_request, forced_rejection, known, mode_of, negotiate
from qa.backends.sdk_errors import translate
from qa.core.structured import ChatRequest, Completion, Steps, TokenLogprob
from qa.core.tokens import message_tokens
from qa.errors import BrokenReplyError, QAError
from qa.schemas import Provenance

__all__ = ["TextCallback", "arun", "run", "stamp_provenance"]

T = TypeVar("T")
# What a model call may raise: the SDK's errors (after its retries), JSON it could not
# decode (the SDK lets json.JSONDecodeError through), and qa's own (a cut stream).
_CALL_ERRORS = (openai.OpenAIError, ValueError, QAError)
TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class _Usage:
    """The two usage figures a completion needs (the SDK's `CompletionUsage` has them too)."""

    prompt_tokens: int
    completion_tokens: int


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
        self.logprobs: list[TokenLogprob] | None = None

    def add_logprobs(self, logprobs: Any) -> None:
        content = getattr(logprobs, "content", None) if logprobs is not None else None
        if content is None:
            return
        self.logprobs = self.logprobs or []
        for entry in content:
            top = tuple((alt.token, float(alt.logprob)) for alt in (entry.top_logprobs or []))
            self.logprobs.append(TokenLogprob(token=entry.token, logprob=float(entry.logprob), top=top))

    def _whole(self, content: str | None, refusal: str | None, finish_reason: str | None, usage: Any) -> Completion:
        """The completion of a whole (not streamed) reply, shown to `on_text` at once."""
        self.parts = [content or ""]
        self.refusal = [refusal] if refusal else []
        self.finish_reason = finish_reason
        self.usage = usage
        if self.on_text is not None and self.parts[0]:
            self.on_text(self.parts[0])
        return self.completion()

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
            self.add_logprobs(getattr(choice, "logprobs", None))

    def from_response(self, response: Any) -> Completion:
        choice = response.choices[0]
        self.add_logprobs(getattr(choice, "logprobs", None))
        refusal = getattr(choice.message, "refusal", None)
        return self._whole(choice.message.content, refusal, choice.finish_reason, response.usage)

    def from_recording(self, body: dict[str, Any]) -> Completion:
        """`from_response` for a chat completion as JSON, read from the recordings (see `_replayed`).

        Read as the JSON it is (the SDK's response model would validate every logprob entry
        again, a third of a replayed call's time) with the same defaults as the SDK's models:
        a field that is absent reads as None.
        """
        choice = body["choices"][0]
        message = choice.get("message") or {}
        content = (choice.get("logprobs") or {}).get("content")
        if content is not None:
            self.logprobs = [
                TokenLogprob(
                    token=entry["token"],
                    logprob=float(entry["logprob"]),
                    top=tuple((alt["token"], float(alt["logprob"])) for alt in entry.get("top_logprobs") or []),
                )
                for entry in content
            ]
        usage = body.get("usage")
        counts = _Usage(usage["prompt_tokens"], usage["completion_tokens"]) if usage else None
        return self._whole(message.get("content"), message.get("refusal"), choice.get("finish_reason"), counts)

    def completion(self) -> Completion:
        if self.request.stream and self.finish_reason is None:
            # A cut stream ends like a finished one; only the missing finish_reason tells.
            raise BrokenReplyError("the response stream was cut off before the model finished")
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
            logprobs=None if self.logprobs is None else tuple(self.logprobs),
        )


def _after_error(steps: Steps[Any], modes: _Modes, request: ChatRequest, exc: BaseException) -> ChatRequest:
    """The next request after a failed call: the same one in another mode, or the steps' answer to the error."""
    try:
        retry = modes.retry(request, exc)
    except QAError as unsupported:  # the server rejected its last mode, or the forced one
        return steps.throw(unsupported)
    return retry if retry is not None else steps.throw(translate(exc))


def _kwargs(request: ChatRequest) -> dict[str, Any]:
    extra: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if request.stream else {}
    return {**sdk_arguments(request.body), **extra, "extra_headers": request.headers}


def _replayed(request: ChatRequest, acc: _Accumulator) -> Completion | None:
    """The completion for `request` read straight from the recordings, or None.

    Plain calls only: streamed ones replay chunk by chunk through the client.
    """
    if request.stream:
        return None
    body = acc.backend.recorded_reply(request.body)
    return None if body is None else acc.from_recording(body)


class _Modes:
    """Puts a run's requests in the structured-output mode the server takes (see `qa.backends.negotiate`)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.moved = False

        self.deferred: QAError | None = None

    def pending(self) -> bool:
        """True until the backend's server has been negotiated with (when it needs to be)."""
        return self.backend.negotiates and known(self.backend) is None

    def negotiate_first(self) -> None:
        """Negotiate before the steps build their first prompt, so it is built in the right mode.

        A failure (an unreachable server, no mode at all) is kept for the first send: a
        task that fails on its own input first still says so first.
        """
        if self.pending():
            try:
                negotiate(self.backend)
            except QAError as exc:
                self.deferred = exc

    def failure(self) -> QAError | None:
        """The negotiation failure to throw into the steps instead of sending (once), if any."""
        failure, self.deferred = self.deferred, None
        return failure

    def retry(self, request: ChatRequest, exc: BaseException) -> ChatRequest | None:
        """`request` in the next mode if `exc` rejected its mode, else None (may raise the last rejection)."""
        if not self.backend.negotiates:
            forced = forced_rejection(self.backend, exc)
            if forced is not None:
                raise forced from exc
            return None
        retry = fallback_request(request, self.backend, exc)
        self.moved = self.moved or retry is not None
        return retry

    def current(self, request: ChatRequest) -> ChatRequest:
        """A request the steps built, in the mode the server takes.

        The steps build requests in the backend's mode at the time: the profile's guess
        before the first negotiation, and the prompt shows the schema only when that mode
        needed it. Such a request, and every later one of a run whose server was moved on
        to another mode, is rebuilt; any other is sent as built, byte for byte.
        """
        if request.schema is None or not self.backend.negotiates:
            return request
        if self.moved or mode_of(request.body) != self.backend.structured_mode:
            self.moved = True
            return self.backend.rebuild(request)
        return request


def stamp_provenance(result: T, backend: Backend) -> T:
    """`result` with `provenance.structured_mode` set on it (or on each result of a list).

    `run` and `arun` do this; whatever else drives steps to their end (the Batch API
    engine) calls it on the result too."""
    for item in result if isinstance(result, list) else [result]:
        provenance = getattr(item, "provenance", None)
        if isinstance(provenance, Provenance) and not provenance.structured_mode:
            provenance.structured_mode = backend.structured_mode
    return result


def run(steps: Steps[T], backend: Backend, on_text: TextCallback | None = None) -> T:
    """Drive `steps` to completion with the backend's synchronous client."""
    modes = _Modes(backend)
    modes.negotiate_first()
    try:
        request = next(steps)
        while True:
            if (failure := modes.failure()) is not None:
                request = steps.throw(failure)
                continue
            request = modes.current(request)
            acc = _Accumulator(request, backend, on_text)
            try:
                completion = _replayed(request, acc)
                if completion is None and request.stream:
                    if on_text is not None:
                        on_text("")  # a new attempt starts: see qa.core.streaming
                    response = backend.client.chat.completions.create(**_kwargs(request))
                    with response:
                        for chunk in response:
                            acc.add_chunk(chunk)
                    completion = acc.completion()
                elif completion is None:
                    completion = acc.from_response(backend.client.chat.completions.create(**_kwargs(request)))
            except _CALL_ERRORS as exc:  # translated here; the steps add the usage so far
                request = _after_error(steps, modes, request, exc)
            else:
                request = steps.send(completion)
    except StopIteration as stop:
        result: T = stop.value  # StopIteration.value is untyped: it is what `steps` returns, a T
        return stamp_provenance(result, backend)
    finally:
        steps.close()


async def arun(steps: Steps[T], backend: Backend, on_text: TextCallback | None = None) -> T:
    """Drive `steps` to completion with the backend's asynchronous client."""
    modes = _Modes(backend)
    if modes.pending():
        await anyio.to_thread.run_sync(modes.negotiate_first)  # the probes use the sync client: off the event loop
    try:
        request = next(steps)
        while True:
            if (failure := modes.failure()) is not None:
                request = steps.throw(failure)
                continue
            request = modes.current(request)
            acc = _Accumulator(request, backend, on_text)
            try:
                completion = _replayed(request, acc)
                if completion is None and request.stream:
                    if on_text is not None:
                        on_text("")  # a new attempt starts: see qa.core.streaming
                    response = await backend.aclient.chat.completions.create(**_kwargs(request))
                    async with response:
                        async for chunk in response:
                            acc.add_chunk(chunk)
                    completion = acc.completion()
                elif completion is None:
                    completion = acc.from_response(await backend.aclient.chat.completions.create(**_kwargs(request)))
            except _CALL_ERRORS as exc:  # translated here; the steps add the usage so far
                request = _after_error(steps, modes, request, exc)
            else:
                request = steps.send(completion)
    except StopIteration as stop:
        result: T = stop.value  # StopIteration.value is untyped: it is what `steps` returns, a T
        return stamp_provenance(result, backend)
    finally:
        steps.close()

"""httpx2 transports that answer OpenAI chat-completion requests from the embedded model.

    client = openai.OpenAI(base_url="http://embedded/v1", api_key="unused",
                           http_client=httpx2.Client(transport=LocalModelTransport()))

Served: `POST /v1/chat/completions` and `GET /v1/models` on any host; anything else is a
404 with an OpenAI-style error body. The model loads on the first request, so building a
transport is cheap. `ModelLoadError`/`BackendUnavailableError` raised by that load pass
through the SDK unchanged (openai 3.x wraps only httpx2 errors), so callers see the
typed `qa` error, not a retried connection error.

Requests: system/developer/user/assistant messages (text only), temperature, top_p,
max_tokens (or max_completion_tokens), stop, seed, frequency/presence penalties,
`repeat_penalty` (an extra field, default 1.1: small models loop without it), n=1, and
stream with `stream_options.include_usage`. A parameter the backend cannot honour
(tools, n>1, images...) is a 400 naming it, never silently dropped. `logprobs` with
`top_logprobs` (up to 20) are computed from the model's own logits (see `qa.backends.embedded.logprobs`).
max_tokens is capped to what fits the context; a prompt that leaves no room is a 400
with code "context_length_exceeded" and both token counts.

Structured output: every `response_format` JSON flavour becomes a llama.cpp grammar (see
`qa.backends.embedded.grammar`), so the output is valid by construction; a schema the converter
cannot handle is a 400, and keywords it ignores are listed in the
`x-qa-schema-unenforced` response header rather than dropped silently. A `grammar` field
(GBNF, llama.cpp server's extension) is taken as it is, after llama.cpp has parsed it.

Responses: chat.completion objects with usage from llama's counts, `finish_reason`
"stop" or "length", `message.refusal: null` and `system_fingerprint`
"qa-embedded:<model>". Streams are `text/event-stream` chunks generated lazily while
the consumer reads; the model lock is held for the generation and released when it
ends or the stream is closed early. A streamed usage chunk counts the streamed text
with the model's tokenizer. Generation failures are a 500 error body (mid-stream: an
SSE error event, which the SDK raises as `APIError`) with `x-should-retry: false`.

A request made from a thread whose own earlier stream still holds the model (a loop left
with `break` and the stream not closed) is a 409, not a deadlock.

The request logic lives once, in `_ChatService`; the async transport runs the same
blocking code in worker threads (`anyio.to_thread`), one hop per streamed chunk: no
background task can outlive the consumer, and `aclose()` releases the model at once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import anyio.to_thread
import httpx2
from pydantic import Field, ValidationError

from qa.backends.embedded.grammar import UnsupportedSchemaError, check_gbnf, grammar_for
from qa.backends.embedded.logprobs import LogprobRecorder
from qa.backends.embedded.model import LocalModel, load_model
from qa.schemas import StrictModel

__all__ = ["AsyncLocalModelTransport", "LocalModelTransport"]

_NO_RETRY = {"x-should-retry": "false"}


class _TextPart(StrictModel):
    """A text part of a message's content list (images and audio are not supported)."""

    type: Literal["text"]
    text: str


class _Message(StrictModel):
    """One chat message; a developer message counts as a system message."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[_TextPart]
    name: str | None = None
    # An assistant message dumped from an earlier response carries these as null.
    refusal: None = None
    tool_calls: None = None
    function_call: None = None
    audio: None = None
    annotations: list[Any] | None = None

    def for_llama(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class _StreamOptions(StrictModel):
    """`stream_options`: whether a final usage chunk is sent."""

    include_usage: bool = False
    include_obfuscation: bool | None = None  # no effect: nothing here travels over a network


class _ChatRequest(StrictModel):
    """The body of `POST /v1/chat/completions`, with OpenAI's names and defaults."""

    messages: list[_Message] = Field(min_length=1)
    model: str | None = None  # ignored: this transport serves one model
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    repeat_penalty: float = Field(1.1, gt=0)
    response_format: dict[str, Any] | None = None
    grammar: str | None = None  # llama.cpp's extension: a GBNF grammar, instead of a response_format
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: Literal[1] = 1
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    # Accepted with no effect on a local model:
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None


class _HTTPError(Exception):
    """Ends a request early with an OpenAI-style error body."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        kind = "invalid_request_error" if status < 500 else "server_error"
        self.body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        self.status = status


@dataclass
class _Reply:
    """What `_ChatService.handle` decided: a JSON body or a stream of SSE bytes."""

    status: int = 200
    body: Any = None
    stream: _Stream | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Stream:
    """The SSE bytes of one streamed completion; owns the model lock until llama is done."""

    def __init__(
        self,
        model: LocalModel,
        pieces: Iterator[Any],
        first: Any,
        n_prompt: int,
        usage: bool,
        logprobs: Callable[[str], dict[str, Any] | None] = lambda text: None,
    ) -> None:
        self._model, self._pieces, self._locked, self._logprobs = model, pieces, True, logprobs
        self._events = self._produce(first, n_prompt, usage)

    def next_chunk(self) -> bytes | None:
        """The next SSE event, or None at the end."""
        return next(self._events, None)

    def close(self) -> None:
        """Stop generating (if still running) and release the model."""
        self._events.close()
        self._unlock()

    def __del__(self) -> None:
        self._unlock()

    def _unlock(self) -> None:
        if self._locked:
            self._locked = False
            getattr(self._pieces, "close", lambda: None)()
            self._model.lock.release()

    def _produce(self, first: Any, n_prompt: int, include_usage: bool) -> Generator[bytes, None, None]:
        base = _envelope(self._model, "chat.completion.chunk")
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            return _sse({**base, "choices": [choice], **extra})

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        parts: list[str] = []
        finish, failure = "stop", None
        try:
            piece = first
            while piece is not None:
                text, finish = piece["choices"][0]["text"], piece["choices"][0]["finish_reason"] or finish
                if text:
                    parts.append(text)
                    yield chunk({"content": text})
                piece = next(self._pieces, None)
        except GeneratorExit:  # closed early between tokens: llama's state is consistent
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised below, once llama's state is reset
            failure = exc
            self._model.llama.reset()
        except BaseException:  # KeyboardInterrupt: the context may be mid-evaluation
            self._model.llama.reset()
            raise
        finally:
            self._unlock()
        if failure is not None:
            yield _sse(_generation_failed(failure).body)
            return
        # Log-probabilities travel with the last chunk: a position's chosen token is known
        # only once the next one has been computed.
        yield chunk({}, finish, self._logprobs("".join(parts)))
        if include_usage:
            yield _sse({**base, "choices": [], "usage": _usage(n_prompt, self._model.count_tokens("".join(parts)))})
        yield b"data: [DONE]\n\n"


class _ChatService:
    """The request handling both transports share: route, validate, generate (blocking)."""

    def __init__(self, model_loader: Callable[[], LocalModel]) -> None:
        self._loader = model_loader
        self._model: LocalModel | None = None

    def model(self) -> LocalModel:
        """The model, loaded on first use (the loader's own cache makes this load once)."""
        if self._model is None:
            self._model = self._loader()
        return self._model

    def handle(self, request: httpx2.Request, *, guard_reentry: bool) -> _Reply:
        """Answer one request; `guard_reentry` refuses a request from a thread that holds the model."""
        route = (request.method, request.url.path)
        try:
            if route == ("GET", "/v1/models"):
                return _Reply(body=self._models())
            if route != ("POST", "/v1/chat/completions"):
                raise _HTTPError(404, f"Unknown request URL: {route[0]} {route[1]}", code="unknown_url")
            chat = _parse_request(request.content)
            model = self.model()
            kwargs, headers = _generation_kwargs(model, chat)
            if guard_reentry and model.lock.held_by_current_thread():
                raise _HTTPError(409, "the embedded model is busy with a stream this thread has not finished: "
                                 "read it to the end or close it first", code="model_busy")  # fmt: skip
        except _HTTPError as err:
            return _Reply(err.status, err.body, headers=dict(_NO_RETRY))
        reply = self._generate(model, kwargs, chat)
        reply.headers.update(headers)
        return reply

    def _generate(self, model: LocalModel, kwargs: dict[str, Any], chat: _ChatRequest) -> _Reply:
        model.lock.acquire()
        try:
            if chat.stream:
                pieces = iter(model.llama.create_completion(**kwargs, stream=True))
                first = next(pieces, None)  # evaluates the prompt, so its failures are a plain 500
            else:
                # stream=False: one response (a TypedDict); llama_cpp's return type also allows an iterator
                result = cast(dict[str, Any], model.llama.create_completion(**kwargs, stream=False))
        except BaseException as exc:
            model.llama.reset()
            model.lock.release()
            if not isinstance(exc, Exception):
                raise
            return _generation_failed(exc)
        if not chat.stream:
            model.lock.release()
            return _Reply(body=_completion_body(model, result, _logprobs(kwargs, chat, result["choices"][0]["text"])))
        usage = bool(chat.stream_options and chat.stream_options.include_usage)
        stream = _Stream(model, pieces, first, len(kwargs["prompt"]), usage, lambda text: _logprobs(kwargs, chat, text))
        return _Reply(stream=stream, headers={"content-type": "text/event-stream", "cache-control": "no-cache"})

    def _models(self) -> dict[str, Any]:
        model = self.model()
        entry = {"id": model.name, "object": "model", "created": int(model.path.stat().st_mtime), "owned_by": "qa"}
        return {"object": "list", "data": [entry]}


class LocalModelTransport(httpx2.BaseTransport):
    """Serves OpenAI chat completions from the embedded model, in-process (sync client)."""

    def __init__(self, model_loader: Callable[[], LocalModel] = load_model) -> None:
        self._service = _ChatService(model_loader)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer `request` from the model; streams are generated as they are read."""
        request.read()
        reply = self._service.handle(request, guard_reentry=True)
        if reply.stream is None:
            return httpx2.Response(reply.status, json=reply.body, headers=reply.headers)
        return httpx2.Response(reply.status, headers=reply.headers, stream=_SyncSSE(reply.stream))


class AsyncLocalModelTransport(httpx2.AsyncBaseTransport):
    """The same as `LocalModelTransport` for async clients; generation runs in worker threads."""

    def __init__(self, model_loader: Callable[[], LocalModel] = load_model) -> None:
        self._service = _ChatService(model_loader)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Answer `request` without blocking the event loop."""
        await request.aread()
        reply = await anyio.to_thread.run_sync(lambda: self._service.handle(request, guard_reentry=False))
        if reply.stream is None:
            return httpx2.Response(reply.status, json=reply.body, headers=reply.headers)
        return httpx2.Response(reply.status, headers=reply.headers, stream=_AsyncSSE(reply.stream))


class _SyncSSE(httpx2.SyncByteStream):
    def __init__(self, stream: _Stream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self._stream.next_chunk()) is not None:
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _AsyncSSE(httpx2.AsyncByteStream):
    def __init__(self, stream: _Stream) -> None:
        self._stream = stream

    async def __aiter__(self) -> Any:
        while (chunk := await anyio.to_thread.run_sync(self._stream.next_chunk)) is not None:
            yield chunk

    async def aclose(self) -> None:
        self._stream.close()


def _parse_request(content: bytes) -> _ChatRequest:
    try:
        return _ChatRequest.model_validate_json(content)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "body"
            if error["type"] == "extra_forbidden":
                problems.append(f"unsupported parameter '{where}' (the embedded backend cannot honour it)")
            else:
                problems.append(f"{where}: {error['msg']}")
        raise _HTTPError(400, "invalid request: " + "; ".join(problems[:5]), code="invalid_request") from exc


def _generation_kwargs(model: LocalModel, chat: _ChatRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """Arguments for `llama.create_completion`, and response headers about the schema."""
    try:
        tokens, stop, criteria = model.render_chat([message.for_llama() for message in chat.messages])
    except Exception as exc:  # the model's Jinja chat template may reject a message sequence
        raise _HTTPError(400, f"the model's chat template rejected the messages: {exc}", param="messages") from exc
    if len(tokens) >= model.n_ctx:
        raise _HTTPError(
            400,
            f"This model's maximum context length is {model.n_ctx} tokens. However, your messages resulted in "
            f"{len(tokens)} tokens, leaving no room for a reply. Please reduce the length of the messages.",
            code="context_length_exceeded",
            param="messages",
        )
    room = model.n_ctx - len(tokens)
    requested = chat.max_completion_tokens or chat.max_tokens or room
    user_stop = [chat.stop] if isinstance(chat.stop, str) else list(chat.stop or [])
    unenforced: set[str] = set()
    if chat.grammar is not None:
        grammar = _own_grammar(chat, model)
    else:
        try:
            grammar, unenforced = grammar_for(chat.response_format, model.llama)
        except UnsupportedSchemaError as exc:
            raise _HTTPError(
                400, f"response_format: {exc}", code="unsupported_schema", param="response_format"
            ) from exc
    kwargs = {
        "prompt": tokens, "max_tokens": min(requested, room), "temperature": chat.temperature,
        "top_p": chat.top_p, "stop": user_stop + stop, "seed": chat.seed, "repeat_penalty": chat.repeat_penalty,
        "frequency_penalty": chat.frequency_penalty, "presence_penalty": chat.presence_penalty,
        "stopping_criteria": criteria, "grammar": grammar,
    }  # fmt: skip
    if chat.logprobs:
        kwargs["logits_processor"] = [LogprobRecorder(model.llama, max(1, chat.top_logprobs or 0), len(tokens))]
    return kwargs, ({"x-qa-schema-unenforced": ",".join(sorted(unenforced))} if unenforced else {})


def _own_grammar(chat: _ChatRequest, model: LocalModel) -> Any:
    """The request's own GBNF `grammar` (as llama.cpp's server takes it), parsed by llama.cpp first."""
    if chat.response_format is not None and chat.response_format.get("type", "text") != "text":
        raise _HTTPError(400, "give either 'grammar' or 'response_format', not both", param="grammar")
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        check_gbnf(chat.grammar or "", model.llama)
    except UnsupportedSchemaError as exc:
        raise _HTTPError(400, f"grammar: {exc}", code="invalid_grammar", param="grammar") from exc
    return LlamaGrammar.from_string(chat.grammar or "", verbose=False)


def _envelope(model: LocalModel, kind: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()),
        "model": model.name, "system_fingerprint": f"qa-embedded:{model.name}",
    }  # fmt: skip


def _logprobs(kwargs: dict[str, Any], chat: _ChatRequest, text: str) -> dict[str, Any] | None:
    """The `logprobs` field of a choice: None unless the request asked for them."""
    if not chat.logprobs:
        return None
    recorder: LogprobRecorder = kwargs["logits_processor"][0]
    return {"content": recorder.content(text, chat.top_logprobs or 0), "refusal": None}


def _completion_body(
    model: LocalModel, result: dict[str, Any], logprobs: dict[str, Any] | None = None
) -> dict[str, Any]:
    choice = result["choices"][0]
    message = {"role": "assistant", "content": choice["text"], "refusal": None}
    usage = result["usage"]
    return {
        **_envelope(model, "chat.completion"),
        "choices": [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": choice["finish_reason"]}],
        "usage": _usage(usage["prompt_tokens"], usage["completion_tokens"]),
    }


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _generation_failed(exc: Exception) -> _Reply:
    error = _HTTPError(500, f"the embedded model failed while generating: {type(exc).__name__}: {exc}",
                       code="generation_failed")  # fmt: skip
    return _Reply(error.status, error.body, headers=dict(_NO_RETRY))


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n\n"

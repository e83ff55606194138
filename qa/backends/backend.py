"""Backends: which server answers, how structured output is asked of it, and its client.

A backend is a profile from `PROFILES` (keyed by kind) plus one `openai` client whose HTTP
transport is either the network or, for a profile with an in-process `Engine` (the
embedded model, `qa.backends.embedded.engine`), the engine's own; the recorder
(`qa.recording`) optionally wraps either. What differs between backends is data on the
profile (structured-output mode, grammar, cost, context window, logprobs, negotiation
family, engine), never a branch on its kind. Everything above this module talks to the
OpenAI API only.

Structured-output modes (`structured_fields` puts each into a request body):
- `json_schema`: strict `response_format={"type": "json_schema", ...}` (OpenAI, vLLM,
  Ollama, the embedded model, which turns it into a llama.cpp grammar).
- `json_object_schema`: `{"type": "json_object", "schema": ...}`, llama-cpp-python's
  spelling, taken by some other servers too.
- `grammar`: no response_format; the GBNF grammar qa builds itself from the schema
  (`qa.backends.embedded.grammar.server_grammar`) in llama.cpp's `grammar` field.
- `json_object`: plain JSON mode; the backend cannot see the schema, so it goes in the prompt.

The embedded and OpenAI backends have a fixed mode. Server profiles (server, llamacpp,
vllm, ollama) learn theirs from the server itself, once per server and model
(`qa.backends.negotiate`); `QA_STRUCTURED_MODE` forces one and skips that.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from qa.backends.embedded.engine import LlamaEngine
from qa.backends.embedded.registry import request_name
from qa.settings import Settings, StructuredMode

if TYPE_CHECKING:
    import openai

    from qa.core.structured import ChatRequest
    from qa.core.tokens import TokenCounter

__all__ = ["PROFILES", "Backend", "BackendProfile", "open_backend", "sdk_arguments"]

DEFAULT_LOCAL_MODEL_NAME = request_name(None)  # the registry default's name (qa.backends.embedded.registry)


class Engine(Protocol):
    """An in-process engine behind the OpenAI API (`qa.backends.embedded.engine.LlamaEngine`).

    A profile with an engine has no server: its calls go to `transport`, and the engine
    names the model, counts its tokens and knows its context window.
    """

    @property
    def base_url(self) -> str: ...

    def model_name(self, settings: Settings) -> str: ...

    def transport(self, settings: Settings, *, asynchronous: bool) -> Any: ...

    def count_tokens(self, settings: Settings) -> TokenCounter | None: ...

    def context_window(self, settings: Settings) -> int | None: ...

    def summary_mode(self, model: str) -> Literal["write", "extract"] | None: ...


@dataclass(frozen=True)
class BackendProfile:
    """What one kind of backend supports."""

    kind: str
    structured_mode: StructuredMode  # the mode when nothing is negotiated (see `Backend.negotiates`)
    grammar: bool  # decoding is grammar-constrained, so enums of sentences are cheap and exact
    local: bool  # runs on this machine: cost is zero
    default_model: str
    default_context: int
    logprobs: bool = False  # returns token log-probabilities when asked (abstention uses them)
    family: str | None = (
        None  # server family whose modes are negotiated (`qa.backends.negotiate.FAMILIES`); None: fixed
    )
    engine: Engine | None = None  # in-process: no server, no network, no transient failures to retry


PROFILES: dict[str, BackendProfile] = {
    "embedded": BackendProfile(
        "embedded", "json_schema", True, True, DEFAULT_LOCAL_MODEL_NAME, 8192, logprobs=True, engine=LlamaEngine()
    ),
    "openai": BackendProfile("openai", "json_schema", False, False, "gpt-4o-mini", 128_000, logprobs=True),
    "server": BackendProfile("server", "json_schema", False, False, "default", 8192, family="openai-compatible"),
    "vllm": BackendProfile("vllm", "json_schema", True, False, "default", 8192, family="vllm"),
    "ollama": BackendProfile("ollama", "json_schema", True, False, "default", 8192, family="ollama"),
    "llamacpp": BackendProfile("llamacpp", "grammar", True, False, "default", 8192, family="llama.cpp"),
}


@dataclass
class Backend:
    """One configured backend: profile, model name, clients, token counting."""

    settings: Settings
    profile: BackendProfile
    transport: Any = None
    """An httpx2 transport to use instead of the network or the embedded model (tests, fault runs)."""
    async_transport: Any = None
    """The async counterpart of `transport`."""
    negotiate: bool | None = None
    """Negotiate the structured-output mode with the server (`qa.backends.negotiate`). None: do so
    for server profiles over the network or recordings, not through an injected transport
    (tests' fake servers have the profile's mode). QA_STRUCTURED_MODE always wins."""

    @property
    def kind(self) -> str:
        return self.profile.kind

    @cached_property
    def model(self) -> str:
        if self.settings.model:
            return self.settings.model
        if self.profile.engine is not None:
            return self.profile.engine.model_name(self.settings)
        return self.profile.default_model

    @property
    def base_url(self) -> str:
        """The server's base URL (a placeholder for the embedded model)."""
        return self._base_url()

    @property
    def negotiates(self) -> bool:
        """Whether the structured-output mode is learned from the server (see `negotiate`)."""
        if self.settings.structured_mode is not None or self.profile.family is None:
            return False
        if self.negotiate is not None:
            return self.negotiate
        return self.transport is None and self.async_transport is None

    @property
    def structured_mode(self) -> StructuredMode:
        """How structured output is requested: forced, negotiated with the server, or the profile's.

        Asks the server nothing: `qa.backends.driver` negotiates before the first real call, and
        until then a negotiating backend reports its profile's mode.
        """
        if self.settings.structured_mode is not None:
            return self.settings.structured_mode
        if self.negotiates:
            from qa.backends.negotiate import known

            if (negotiated := known(self)) is not None:
                return negotiated.mode
        return self.profile.structured_mode

    @property
    def summary_mode(self) -> Literal["write", "extract"]:
        """'write' or 'extract': the setting, else the engine's preference for the model, else 'write'."""
        if self.settings.summary_mode:
            return self.settings.summary_mode
        preferred = self.profile.engine.summary_mode(self.model) if self.profile.engine is not None else None
        return preferred or "write"

    @property
    def schema_in_prompt(self) -> bool:
        """True when the backend cannot see the schema, so the prompt must show it."""
        return self.structured_mode == "json_object"

    @property
    def constrain_quotes(self) -> bool:
        """Whether quotes are constrained to the article's sentences in the schema.

        `auto`: where decoding follows the schema with a grammar: the grammar mode, or a
        grammar-constrained profile in a schema mode; never when the schema is only shown
        in the prompt, where a list of every sentence would only lengthen it.
        """
        choice = self.settings.constrain_quotes
        if choice != "auto":
            return choice == "on"
        mode = self.structured_mode
        return mode == "grammar" or (self.profile.grammar and mode != "json_object")

    @property
    def takes_grammar(self) -> bool:
        """The backend decodes with a llama.cpp grammar given in the request's `grammar` field:
        the embedded model, and servers in the grammar mode (llama.cpp's)."""
        return self.kind == "embedded" or self.structured_mode == "grammar"

    def structured_fields(
        self, name: str, schema: dict[str, Any], *, mode: StructuredMode | None = None, grammar: str | None = None
    ) -> dict[str, Any]:
        """The request fields that ask for `schema` in `mode` (default: this backend's mode), or
        for `grammar` (GBNF, narrower than the schema) where the backend takes one."""
        if grammar is not None and mode is None and self.takes_grammar:
            return {"grammar": grammar}
        mode = mode or self.structured_mode
        if mode == "json_schema":
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": name, "strict": True, "schema": schema},
                }
            }
        if mode == "json_object_schema":
            return {"response_format": {"type": "json_object", "schema": schema}}
        if mode == "grammar":
            return {"grammar": _grammar_text(json.dumps(schema, sort_keys=True))}
        return {"response_format": {"type": "json_object"}}

    def rebuild(self, request: ChatRequest) -> ChatRequest:
        """`request` (one that asks for a schema) with its structured fields in this backend's current mode."""
        from dataclasses import replace

        from qa.backends.negotiate import with_schema_shown

        schema = request.schema
        assert schema is not None, "only a request that asks for a schema is rebuilt"  # both callers check
        body = {k: v for k, v in request.body.items() if k not in ("response_format", "grammar")}
        body.update(self.structured_fields(request.schema_name, schema))
        if self.schema_in_prompt:
            body["messages"] = with_schema_shown(body["messages"], schema)
        return replace(request, body=body)

    def describe(self) -> str:
        return f"{self.kind}:{self.model}"

    # -- clients ---------------------------------------------------------------

    def _base_url(self) -> str:
        if self.profile.engine is not None:
            return self.profile.engine.base_url
        return self.settings.base_url or "https://api.openai.com/v1"

    def _api_key(self) -> str:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return key or "no-key-needed"

    def _transport(self, *, asynchronous: bool) -> Any:
        """Network, embedded model or nothing (replay), wrapped by the recorder when on."""
        import httpx2

        mode = self.settings.record_mode
        inner: Any = self.async_transport if asynchronous else self.transport
        if inner is None and mode != "replay":
            if self.profile.engine is not None:
                inner = self.profile.engine.transport(self.settings, asynchronous=asynchronous)
            else:
                inner = httpx2.AsyncHTTPTransport() if asynchronous else httpx2.HTTPTransport()
        if mode == "off":
            return inner
        from qa import recording

        wrapper = recording.AsyncRecordingTransport if asynchronous else recording.RecordingTransport
        secrets = [self.settings.api_key.get_secret_value()] if self.settings.api_key else []
        return wrapper(inner, self.recordings, mode, secrets=secrets, rerecord_hint=self.settings.rerecord_hint)

    def recorded_reply(self, body: dict[str, Any]) -> Any | None:
        """The recorded response to a plain (non-streamed) chat completion `body`, or None.

        In replay and auto modes `qa.backends.driver` reads replies here instead of sending them
        through the openai client: the client would send `body` itself, so the key is the
        same, and its request building and response parsing are most of what a replayed
        call costs. None (no recording) sends the call through the client, which replays
        through the recording transport, records (auto), or reports the miss with its diff.
        """
        if self.settings.record_mode not in ("replay", "auto"):
            return None
        return self.recordings.replay_body("POST", self.chat_path, body)

    @cached_property
    def chat_path(self) -> str:
        """The URL path the client posts chat completions to (the key includes it)."""
        from urllib.parse import urlsplit

        return urlsplit(self._base_url()).path.rstrip("/") + "/chat/completions"

    @cached_property
    def recordings(self) -> Any:
        """The recording store this backend records to or replays from."""
        from qa.recording import RecordingStore

        return RecordingStore(self.settings.recordings)

    def _client_options(self) -> dict[str, Any]:
        return {
            "api_key": self._api_key(),
            "base_url": self._base_url(),
            # In-process and replayed calls have no transient failures to retry.
            "max_retries": 0
            if self.profile.engine is not None or self.settings.record_mode == "replay"
            else self.settings.max_retries,
            "timeout": self.settings.timeout,
        }

    @cached_property
    def client(self) -> openai.OpenAI:
        """The synchronous client (built on first use)."""
        import httpx2
        import openai

        http = httpx2.Client(transport=self._transport(asynchronous=False), timeout=self.settings.timeout)
        return openai.OpenAI(http_client=http, **self._client_options())

    @cached_property
    def aclient(self) -> openai.AsyncOpenAI:
        """The asynchronous client (built on first use)."""
        import httpx2
        import openai

        http = httpx2.AsyncClient(transport=self._transport(asynchronous=True), timeout=self.settings.timeout)
        return openai.AsyncOpenAI(http_client=http, **self._client_options())

    @cached_property
    def probe_client(self) -> openai.OpenAI:
        """A client straight to the server (or the injected transport), never through the recorder.

        For `qa.backends.negotiate`: its probes are not model calls a run made, so they are never
        recorded (a replay takes the mode from the recordings instead).
        """
        import httpx2
        import openai

        transport = self.transport if self.transport is not None else httpx2.HTTPTransport()
        http = httpx2.Client(transport=transport, timeout=self.settings.timeout)
        return openai.OpenAI(http_client=http, **{**self._client_options(), "max_retries": self.settings.max_retries})

    # -- tokens ----------------------------------------------------------------

    @cached_property
    def count_tokens(self) -> TokenCounter:
        """Token counter: the local model's tokenizer when it loads, else tiktoken."""
        from qa.core.tokens import paragraph_counter, tiktoken_counter

        # An engine's own tokenizer; without one (or replay without the extra) tiktoken's count
        # is close enough for budgeting.
        counter = self.profile.engine.count_tokens(self.settings) if self.profile.engine is not None else None
        if counter is None:
            counter = tiktoken_counter(self.model)
        # The same article and prompts are counted on every call: remember their paragraphs.
        return paragraph_counter(counter)

    @cached_property
    def context_tokens(self) -> int:
        """The model's context window in tokens."""
        if self.settings.context_tokens:
            return self.settings.context_tokens
        engine = self.profile.engine
        window = engine.context_window(self.settings) if engine is not None else None
        return window or self.profile.default_context


_EXTRA_BODY_FIELDS = ("grammar",)
"""Request fields the openai SDK has no parameter for: sent through its `extra_body`."""


def sdk_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create` that send exactly `body`."""
    extra = {k: body[k] for k in _EXTRA_BODY_FIELDS if k in body}
    if not extra:
        return dict(body)
    return {**{k: v for k, v in body.items() if k not in extra}, "extra_body": extra}


@lru_cache(maxsize=32)
def _grammar_text(schema_json: str) -> str:
    """The server grammar for a schema (cached: re-asks and batches send the same schema)."""
    from qa.backends.embedded.grammar import UnsupportedSchemaError, server_grammar

    try:
        return server_grammar(json.loads(schema_json))
    except UnsupportedSchemaError as exc:
        from qa.backends.negotiate import FORCE_HINT
        from qa.errors import StructuredOutputUnsupportedError

        raise StructuredOutputUnsupportedError(
            f"the grammar mode cannot express this schema: {exc}; {FORCE_HINT}"
        ) from exc


_cache: dict[Settings, Backend] = {}
_cache_lock = threading.Lock()


def open_backend(settings: Settings | None = None) -> Backend:
    """The backend for `settings` (default: from the environment), one per distinct settings."""
    from qa.errors import ConfigError

    settings = settings or Settings.load()
    kind = settings.resolved_backend()
    if kind not in PROFILES:
        raise ConfigError(f"unknown backend {kind!r}; choose one of {', '.join(sorted(PROFILES))}")
    with _cache_lock:
        backend = _cache.get(settings)
        if backend is None:
            backend = _cache[settings] = Backend(settings=settings, profile=PROFILES[kind])
        return backend

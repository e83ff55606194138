"""Backends: which server answers, how structured output is asked of it, and its client.

A backend is a profile from `PROFILES` (keyed by kind, not an if/elif chain spread across
modules) plus one `openai` client whose HTTP transport is either the network, the
embedded model in-process (`qa.local`), and optionally wrapped by the recorder
(`qa.recording`). Everything above this module talks to the OpenAI API only.

Structured-output modes:
- `json_schema`: strict `response_format={"type": "json_schema", ...}` (OpenAI, vLLM,
  Ollama, the embedded model, which turns it into a llama.cpp grammar).
- `json_object_schema`: `{"type": "json_object", "schema": ...}` as llama.cpp's server wants.
- `json_object`: plain JSON mode; the backend cannot see the schema, so it goes in the prompt.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from qa.local.registry import request_name
from qa.settings import Settings, StructuredMode

if TYPE_CHECKING:
    import openai

    from qa.tokens import TokenCounter

__all__ = ["PROFILES", "Backend", "BackendProfile", "open_backend"]

DEFAULT_LOCAL_MODEL_NAME = request_name(None)  # the registry default's name (qa.local.registry)
_EMBEDDED_URL = "http://embedded.qa.invalid/v1"


@dataclass(frozen=True)
class BackendProfile:
    """What one kind of backend supports."""

    kind: str
    structured_mode: StructuredMode
    grammar: bool  # decoding is grammar-constrained, so enums of sentences are cheap and exact
    local: bool  # runs on this machine: cost is zero
    default_model: str
    default_context: int
    logprobs: bool = False  # returns token log-probabilities when asked (abstention uses them)


PROFILES: dict[str, BackendProfile] = {
    "embedded": BackendProfile("embedded", "json_schema", True, True, DEFAULT_LOCAL_MODEL_NAME, 8192, logprobs=True),
    "openai": BackendProfile("openai", "json_schema", False, False, "gpt-4o-mini", 128_000, logprobs=True),
    "server": BackendProfile("server", "json_schema", False, False, "default", 8192),
    "vllm": BackendProfile("vllm", "json_schema", True, False, "default", 8192),
    "ollama": BackendProfile("ollama", "json_schema", True, False, "default", 8192),
    "llamacpp": BackendProfile("llamacpp", "json_object_schema", True, False, "default", 8192),
}


@dataclass
class Backend:
    """One configured backend: profile, model name, clients, token counting."""

    settings: Settings
    profile: BackendProfile
    rerecord_hint: str = ""
    """Command printed by a replay miss to re-record (set by the eval runner or tests)."""
    transport: Any = None
    """An httpx2 transport to use instead of the network or the embedded model (tests, fault runs)."""
    async_transport: Any = None
    """The async counterpart of `transport`."""

    @property
    def kind(self) -> str:
        return self.profile.kind

    @cached_property
    def model(self) -> str:
        if self.settings.model:
            return self.settings.model
        if self.kind == "embedded":  # the registry entry's request name, or the GGUF file's stem
            return request_name(self.settings.local_model)
        return self.profile.default_model

    @property
    def structured_mode(self) -> StructuredMode:
        return self.settings.structured_mode or self.profile.structured_mode

    @property
    def summary_mode(self) -> str:
        """'write' or 'extract': the setting, else the embedded model's registry preference, else 'write'."""
        if self.settings.summary_mode:
            return self.settings.summary_mode
        if self.profile.local:
            from qa.local.registry import find_model

            entry = find_model(self.model)
            if entry is not None:
                return entry.summary_mode
        return "write"

    @property
    def schema_in_prompt(self) -> bool:
        """True when the backend cannot see the schema, so the prompt must show it."""
        return self.structured_mode == "json_object"

    @property
    def constrain_quotes(self) -> bool:
        """Whether quotes are constrained to the article's sentences in the schema."""
        choice = self.settings.constrain_quotes
        return self.profile.grammar if choice == "auto" else choice == "on"

    def response_format(self, name: str, schema: dict[str, Any]) -> dict[str, Any]:
        """The `response_format` request field for this backend's structured mode."""
        mode = self.structured_mode
        if mode == "json_schema":
            return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}
        if mode == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_object"}

    def describe(self) -> str:
        return f"{self.kind}:{self.model}"

    # -- clients ---------------------------------------------------------------

    def _base_url(self) -> str:
        if self.kind == "embedded":
            return _EMBEDDED_URL
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
            if self.kind == "embedded":
                from qa import local

                inner = (local.AsyncLocalModelTransport if asynchronous else local.LocalModelTransport)(self._loader)
            else:
                inner = httpx2.AsyncHTTPTransport() if asynchronous else httpx2.HTTPTransport()
        if mode == "off":
            return inner
        from qa import recording

        wrapper = recording.AsyncRecordingTransport if asynchronous else recording.RecordingTransport
        secrets = [self.settings.api_key.get_secret_value()] if self.settings.api_key else []
        return wrapper(inner, self.recordings, mode, secrets=secrets, rerecord_hint=self.rerecord_hint)

    def recorded_reply(self, body: dict[str, Any]) -> Any | None:
        """The recorded response to a plain (non-streamed) chat completion `body`, or None.

        In replay and auto modes `qa.driver` reads replies here instead of sending them
        through the openai client: the client would send `body` itself, so the key is the
        same, and its request building and response parsing are most of what a replayed
        call costs. None (no recording) sends the call through the client, which replays
        through the recording transport, records (auto), or reports the miss with its diff.
        """
        if self.settings.record_mode not in ("replay", "auto"):
            return None
        return self.recordings.replay_body("POST", self._chat_path, body)

    @cached_property
    def _chat_path(self) -> str:
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
            "max_retries": 0 if self.kind == "embedded" or self.settings.record_mode == "replay" else self.settings.max_retries,
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

    def _loader(self) -> Any:
        from qa.local import load_model

        return load_model(self.settings.local_model)

    # -- tokens ----------------------------------------------------------------

    @cached_property
    def count_tokens(self) -> TokenCounter:
        """Token counter: the local model's tokenizer when it loads, else tiktoken."""
        from qa.errors import BackendError
        from qa.tokens import paragraph_counter, tiktoken_counter

        counter: TokenCounter | None = None
        if self.kind == "embedded":
            try:
                counter = self._loader().count_tokens
            except BackendError:
                pass  # replay without the extra: tiktoken's count is close enough for budgeting
        if counter is None:
            counter = tiktoken_counter(self.model)
        # The same article and prompts are counted on every call: remember their paragraphs.
        return paragraph_counter(counter)

    @cached_property
    def context_tokens(self) -> int:
        """The model's context window in tokens."""
        if self.settings.context_tokens:
            return self.settings.context_tokens
        if self.kind == "embedded":
            from qa.errors import BackendError

            try:
                return int(self._loader().n_ctx)
            except BackendError:
                return self.profile.default_context
        return self.profile.default_context


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

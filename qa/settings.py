"""Settings: every knob `qa` has, read from keyword arguments and the environment.

Explicit arguments win over environment variables, which win over defaults. The API key
is held as a `SecretStr`: it is never printed, logged or written anywhere.

| setting          | environment variable  | default                                   |
|------------------|-----------------------|-------------------------------------------|
| backend          | QA_BACKEND            | auto: `openai` if a key or base URL is set, else `embedded` |
| model            | QA_MODEL              | embedded: the GGUF's name; openai: gpt-4o-mini; server: default |
| base_url         | OPENAI_BASE_URL       | none (OpenAI's own API when a key is set) |
| api_key          | OPENAI_API_KEY        | none                                      |
| timeout          | QA_TIMEOUT            | 120 seconds per request                   |
| max_retries      | QA_MAX_RETRIES        | 2 (transport retries, done by the SDK)    |
| max_attempts     | QA_MAX_ATTEMPTS       | 3 (validation re-asks, done by qa)        |
| temperature      | QA_TEMPERATURE        | 0.0                                       |
| seed             | QA_SEED               | none (sent only when set; evals pass the repeat index) |
| local_model      | QA_LOCAL_MODEL        | the registry's default (`qa models list`) |
| structured_mode  | QA_STRUCTURED_MODE    | per backend; negotiated with servers (see `qa.backends.negotiate`) |
| constrain_quotes | QA_CONSTRAIN_QUOTES   | auto: on where decoding is grammar-constrained |
| context_tokens   | QA_CONTEXT_TOKENS     | the model's own context window            |
| record_mode      | QA_RECORD_MODE        | off (`record`, `replay`, `auto`)          |
| recordings       | QA_RECORDINGS         | `.qa/recordings/default`                  |
| abstain_threshold| QA_ABSTAIN_THRESHOLD  | the model's calibrated threshold          |
| verify           | QA_VERIFY             | off (`on`: check each answer with a second call) |
| short_answers    | QA_SHORT_ANSWERS      | on (`constrained`: also while decoding, on grammar backends; `off`: as written) |
| summary_mode     | QA_SUMMARY_MODE       | the embedded model's preference, else write (`extract`: no model call) |
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from qa.errors import ConfigError

__all__ = ["BackendKind", "RecordMode", "Settings", "StructuredMode", "redact_url"]

BackendKind = Literal["auto", "embedded", "openai", "server", "llamacpp", "vllm", "ollama"]
StructuredMode = Literal["json_schema", "json_object_schema", "grammar", "json_object"]
RecordMode = Literal["off", "record", "replay", "auto"]

_ENV = {
    "backend": "QA_BACKEND",
    "model": "QA_MODEL",
    "base_url": "OPENAI_BASE_URL",
    "api_key": "OPENAI_API_KEY",
    "timeout": "QA_TIMEOUT",
    "max_retries": "QA_MAX_RETRIES",
    "max_attempts": "QA_MAX_ATTEMPTS",
    "temperature": "QA_TEMPERATURE",
    "seed": "QA_SEED",
    "local_model": "QA_LOCAL_MODEL",
    "structured_mode": "QA_STRUCTURED_MODE",
    "constrain_quotes": "QA_CONSTRAIN_QUOTES",
    "context_tokens": "QA_CONTEXT_TOKENS",
    "record_mode": "QA_RECORD_MODE",
    "recordings": "QA_RECORDINGS",
    "abstain_threshold": "QA_ABSTAIN_THRESHOLD",
    "summary_mode": "QA_SUMMARY_MODE",
    "rerecord_hint": "QA_RERECORD_HINT",
    "verify": "QA_VERIFY",
    "short_answers": "QA_SHORT_ANSWERS",
}


_SECRET_PARAM = re.compile(r"(?i)key|token|secret|passw|pwd|auth|sig|credential|session")
"""Query parameter names whose values `redact_url` hides (api_key, access_token, sig, ...)."""


def redact_url(url: str) -> str:
    """`url` safe to show or store: userinfo and secret-looking query values become `***`.

    `http://user:pass@host/v1?api_key=abc&region=eu` -> `http://***@host/v1?api_key=***&region=eu`.
    Something that does not parse as a URL is hidden whole.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        name, eq, _ = pair.partition("=")
        pairs.append(f"{name}=***" if eq and _SECRET_PARAM.search(name) else pair)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment))


class Settings(BaseModel):
    """Resolved configuration for one backend. Build it with `Settings.load(...)`."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    backend: BackendKind = "auto"
    """Which backend answers: embedded model, OpenAI, or an OpenAI-compatible server."""
    model: str | None = None
    """Model name; None picks the backend's default."""
    base_url: str | None = None
    """Base URL of an OpenAI-compatible server, e.g. http://localhost:11434/v1."""
    api_key: SecretStr | None = None
    """API key; never printed, logged or recorded."""
    timeout: Annotated[float, Field(gt=0)] = 120.0
    """Seconds before one HTTP request times out (more than 0)."""
    max_retries: Annotated[int, Field(ge=0)] = 2
    """Transport retries (429, 5xx, timeouts, resets), done by the openai SDK (0 or more)."""
    max_attempts: Annotated[int, Field(ge=1)] = 3
    """Model calls allowed per structured output, counting re-asks after invalid output (1 or more)."""
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    """Sampling temperature (0 to 2)."""
    seed: int | None = None
    """Sampling seed sent with each request when set; None sends none. With temperature 0
    decoding is greedy, so different seeds may still give the same output."""
    local_model: str | Path | None = None
    """Embedded model: a registry name (`qa models list`, e.g. `smollm2-135m`) or a path
    to a GGUF file (a `Path` is always a path); None uses `qa.backends.embedded.registry.DEFAULT_MODEL`."""
    structured_mode: StructuredMode | None = None
    """Force how structured output is requested; None uses the backend's own (negotiated with servers)."""
    constrain_quotes: Literal["auto", "on", "off"] = "auto"
    """Constrain quotes to the article's sentences in the schema (grammar backends)."""
    context_tokens: Annotated[int, Field(gt=0)] | None = None
    """Override the model's context window, in tokens (more than 0)."""
    record_mode: RecordMode = "off"
    """Record or replay model responses."""
    recordings: Path = Path(".qa/recordings/default")
    """Folder that holds recordings for this run."""
    abstain_threshold: float | None = Field(None, ge=0.0, le=1.0)
    """Keep an answer only when its confidence reaches this (0 to 1); None uses the model's calibrated threshold."""
    verify: Literal["on", "off"] = "off"
    """'on': check each answer with a second, one-word call ("does this sentence answer the
    question with this answer?"), read as a probability for abstention and judged by the
    model's calibration fitted with it. Off by default: it costs a call, and it helps on
    short passages (SQuAD) but withheld right answers on the seed's news article."""
    short_answers: Literal["on", "constrained", "off"] = "on"
    """'on': a question of fact's answer is made a span of its cited sentence and the words
    that only restate the question are cut from its ends (see `qa.text.spans`); why and how
    answers stay as written. 'constrained': the same, and where the backend decodes with a
    llama.cpp grammar the answer is constrained to a run of the cited sentence's words while
    it is written (`qa.tasks.span_grammar`; measured no better than 'on': BENCHMARKS.md).
    'off': every answer as the model wrote it."""
    rerecord_hint: str = ""
    """The command a replay miss prints to re-record ('' for the default): the eval runner
    and the CLI set it to the command that was run."""
    summary_mode: Literal["write", "extract"] | None = None
    """'write': the model writes key points from their sentences; 'extract': compressed article
    sentences, no model call; None: the embedded model's own preference (its registry entry), else 'write'."""

    @classmethod
    def load(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `overrides`, then the environment (`env`, default os.environ)."""
        env = dict(os.environ) if env is None else env
        values: dict[str, object] = {}
        for field, var in _ENV.items():
            raw = env.get(var, "").strip()
            if raw:
                values[field] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                source = f"{_ENV[field]} / " if field in _ENV else ""
                given = "" if field == "api_key" else f" (got {err['input']})"  # the key is never shown
                problems.append(f"{source}{field}: {err['msg']}{given}")
            raise ConfigError("invalid settings: " + "; ".join(problems)) from None

    def resolved_backend(self) -> BackendKind:
        """The backend `auto` stands for: a server when a key or base URL is set."""
        if self.backend != "auto":
            return self.backend
        if self.base_url:
            return "server" if "api.openai.com" not in self.base_url else "openai"
        if self.api_key is not None:
            return "openai"
        return "embedded"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "base_url" and value else value

    def shown_base_url(self) -> str | None:
        """The base URL with its credentials redacted (see `redact_url`), for logs and reports."""
        return redact_url(self.base_url) if self.base_url else None

    def describe(self) -> str:
        """One line naming backend and model; safe to log (no key)."""
        return f"backend={self.resolved_backend()} model={self.model or 'default'}"

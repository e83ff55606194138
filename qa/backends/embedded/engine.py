"""The embedded engine as a backend profile sees it: model name, transport, tokens, context,
and the summary mode each registry model prefers.

`qa.backends.backend.PROFILES["embedded"]` carries a `LlamaEngine`; `Backend` asks its
profile's engine for these instead of branching on the profile's kind, so a second
in-process engine is one more class like this one and one more profile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from qa.backends.embedded.registry import find_model, request_name
from qa.errors import BackendError

if TYPE_CHECKING:
    from qa.backends.embedded.model import LocalModel
    from qa.core.tokens import TokenCounter
    from qa.settings import Settings

__all__ = ["LlamaEngine"]


class LlamaEngine:
    """A GGUF model run in-process by llama.cpp (the `qa[local]` extra), loaded on first use."""

    base_url = "http://embedded.qa.invalid/v1"
    """A placeholder the openai client needs; no request leaves the process."""

    def model_name(self, settings: Settings) -> str:
        """The registry entry's request name, or the GGUF file's stem."""
        return request_name(settings.local_model)

    def load(self, settings: Settings) -> LocalModel:
        from qa.backends.embedded.model import load_model

        return load_model(settings.local_model)

    def transport(self, settings: Settings, *, asynchronous: bool) -> Any:
        """The httpx2 transport that answers chat completions from the model."""
        from qa.backends.embedded.transport import AsyncLocalModelTransport, LocalModelTransport

        kind = AsyncLocalModelTransport if asynchronous else LocalModelTransport
        return kind(lambda: self.load(settings))

    def count_tokens(self, settings: Settings) -> TokenCounter | None:
        """The model's own tokenizer, or None when the model cannot load (replay without the extra)."""
        try:
            return self.load(settings).count_tokens
        except BackendError:
            return None

    def summary_mode(self, model: str) -> Literal["write", "extract"] | None:
        """The registry entry's preference for `model` (None: a model the registry does not know)."""
        entry = find_model(model)
        return entry.summary_mode if entry is not None else None

    def context_window(self, settings: Settings) -> int | None:
        """The model's context window, or None when it cannot load."""
        try:
            return int(self.load(settings).n_ctx)
        except BackendError:
            return None

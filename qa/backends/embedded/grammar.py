"""Turn an OpenAI `response_format` into a llama.cpp grammar, and say what it cannot enforce.

Accepted: `{"type": "json_schema", "json_schema": {"schema": ...}}` (what the SDK's
`parse()` sends), `{"type": "json_object", "schema": ...}` (llama-cpp-python's
spelling), plain `{"type": "json_object"}` (any JSON) and `{"type": "text"}` (none).

The schema goes through llama-cpp-python's converter (`SchemaConverter`), which resolves
local `$ref`/`$defs` and enforces type, enum, const, required, additionalProperties,
anyOf/oneOf/allOf, min/maxItems, min/maxLength and pattern. Checked with
`qa.schemas.Answer` and `Summary`: no pre-processing of their schemas is needed. Two
fixes are applied through a subclass rather than by patching the library:

- literals (enum and const values, property names) are escaped for backslashes too; the
  library escapes only quotes and line breaks, so a value holding a `"` (every quoted
  sentence of a news article) produced a broken grammar;
- string characters exclude raw control characters, as JSON requires; the library's
  rule let a small model write a literal newline inside a string, which no parser accepts;
- enum and const strings keep non-ASCII characters as they are (`ensure_ascii=False`),
  so the model writes `"“Yes”"` rather than being forced through `\\u201c` escapes.

Every generated grammar is parsed by llama.cpp before use (`check_gbnf`): handed an
unparsable grammar, llama-cpp-python crashes the whole process.

Keywords the converter ignores (minimum, maximum, multipleOf, uniqueItems, most formats,
...) are returned by `unenforced_keywords` so the transport can report them instead of
dropping them silently. llama-cpp-python's own `response_format` handling is not used:
it falls back to "any JSON" without a word when a schema cannot be converted.

`server_grammar` gives the same grammar as text, for a llama.cpp server's `grammar`
request field (see `qa.backends.negotiate`): a server's own converter breaks on the schemas qa
sends, and llama-cpp-python's server dies on a grammar that does not parse. Two
differences from the embedded grammar: string lengths are bounded repetitions
(`char{0,600}`, expanded by llama.cpp's parser) instead of 600 nested optional groups
spelled out in the text, and the text is parsed by llama.cpp in this process first, with
the vocabulary of a local GGUF (SmolLM2's), so a grammar no server can parse is never sent.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

__all__ = ["UnsupportedSchemaError", "check_gbnf", "grammar_for", "server_grammar", "unenforced_keywords"]

# Keywords the converter enforces, or that constrain nothing.
_ENFORCED = {
    "type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems", "maxItems",
    "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions", "pattern", "minLength",
    "maxLength", "title", "description", "default", "examples", "$schema", "$id", "$comment",
}  # fmt: skip
_ENFORCED_FORMATS = {None, "date", "time", "date-time", "uuid"}


class UnsupportedSchemaError(ValueError):
    """The response_format cannot be turned into a grammar; the message says why."""


def grammar_for(response_format: dict[str, Any] | None, llama: Any = None) -> tuple[Any, set[str]]:
    """A `LlamaGrammar` for `response_format` (None for plain text) and the keywords it ignores.

    With `llama` (a `llama_cpp.Llama`), the grammar is first parsed by llama.cpp itself
    (see `check_gbnf`), so a bad one is an `UnsupportedSchemaError`, not a crash.
    """
    kind = (response_format or {}).get("type", "text")
    if response_format is None or kind == "text":
        return None, set()
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
    elif kind == "json_object":
        schema = response_format.get("schema")
    else:
        raise UnsupportedSchemaError(f"unsupported response_format type {kind!r}")
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if schema is None:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False), set()
    try:
        gbnf = _schema_to_gbnf(schema)
    except Exception as exc:  # the converter raises assertion, key, value and recursion errors
        raise UnsupportedSchemaError(f"cannot turn the JSON schema into a grammar: {exc!r}") from exc
    if llama is not None:
        check_gbnf(gbnf, llama)
    return LlamaGrammar.from_string(gbnf, verbose=False), unenforced_keywords(schema)


def check_gbnf(gbnf: str, llama: Any) -> None:
    """Raise `UnsupportedSchemaError` unless llama.cpp's parser accepts `gbnf`.

    llama-cpp-python passes a grammar that does not parse straight on to sampling, where
    the process dies with a segmentation fault; parsing it here first costs a few ms.
    """
    # `_model.vocab` is what llama-cpp-python itself hands to this call when sampling.
    _check_with_vocab(gbnf, llama._model.vocab)


def _check_with_vocab(gbnf: str, vocab: Any) -> None:
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        raise UnsupportedSchemaError("llama.cpp cannot parse the grammar made from this schema")
    llama_cpp.llama_sampler_free(sampler)


def server_grammar(schema: dict[str, Any]) -> str:
    """GBNF text for a llama.cpp server's `grammar` field, already parsed by llama.cpp here.

    Raises `UnsupportedSchemaError` when the schema cannot be converted or the grammar
    does not parse, and `BackendUnavailableError` when llama-cpp-python (the `local`
    extra) is not installed, since then nothing here can convert or check it.
    """
    try:
        gbnf = _schema_to_gbnf(schema, bounded_repetition=True)
    except ImportError as exc:
        from qa.errors import BackendUnavailableError

        raise BackendUnavailableError(f"grammars need llama-cpp-python, which is not installed ({exc})") from exc
    except Exception as exc:  # the converter raises assertion, key, value and recursion errors
        raise UnsupportedSchemaError(f"cannot turn the JSON schema into a grammar: {exc!r}") from exc
    _check_with_vocab(gbnf, _parser_vocab())
    return gbnf


_VOCAB_MODELS = ("smollm2-135m", None)
"""Where the parser's vocabulary comes from: the smallest registry model (one installed file,
nothing to assemble), else the default model. Any vocabulary parses the same grammars."""


@cache
def _parser_vocab() -> Any:
    """A vocabulary for llama.cpp's grammar parser, from a GGUF loaded without weights.

    Loaded once per process; the model it belongs to is never freed, as the vocabulary
    points into it.
    """
    from qa.backends.embedded.model import _import_llama_cpp, resolve_model_path
    from qa.errors import BackendUnavailableError

    llama_cpp = _import_llama_cpp()  # also routes llama.cpp's log lines away from stderr
    path = None
    for spec in _VOCAB_MODELS:
        try:
            path = resolve_model_path(spec)
            break
        except BackendUnavailableError:
            if spec is None:
                raise
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode("utf-8"), params)
    if not model:
        raise BackendUnavailableError(f"cannot load the vocabulary of {path} to check grammars")
    return llama_cpp.llama_model_get_vocab(model)


def unenforced_keywords(schema: Any) -> set[str]:
    """Keywords, anywhere in `schema`, that the grammar does not enforce."""
    if isinstance(schema, list):
        return set().union(*(unenforced_keywords(item) for item in schema))
    if not isinstance(schema, dict):
        return set()
    found = {key for key in schema if key not in _ENFORCED and key != "format"}
    if schema.get("format") not in _ENFORCED_FORMATS:
        found.add("format")
    for key in ("properties", "$defs", "definitions"):
        found |= unenforced_keywords(list((schema.get(key) or {}).values()))
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
        found |= unenforced_keywords(schema.get(key))
    return found


# As in llama.cpp's own converter: no raw control characters (a literal newline) in strings.
_JSON_CHAR = r'[^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4})'


def _schema_to_gbnf(schema: dict[str, Any], *, bounded_repetition: bool = False) -> str:
    """`llama_grammar.json_schema_to_gbnf`, with the literal fixes described above.

    With `bounded_repetition`, a plain string's length bounds become `char{min,max}`
    rather than the library's nested optional groups (see `server_grammar`).
    """
    from llama_cpp.llama_grammar import PRIMITIVE_RULES, RESERVED_NAMES, SchemaConverter

    class Converter(SchemaConverter):
        def _format_literal(self, literal: str) -> str:
            escaped = literal.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
            return f'"{escaped}"'

        def _generate_constant_rule(self, value: Any) -> str:
            return self._format_literal(json.dumps(value, ensure_ascii=False))

        def _add_primitive(self, name: str, rule: Any) -> str:
            if name == "char":  # JSON forbids raw control characters in strings; the library allows them
                rule = type(rule)(_JSON_CHAR, rule.deps)
            return str(super()._add_primitive(name, rule))

        def visit(self, schema: dict[str, Any], name: str) -> str:
            if bounded_repetition and _plain_bounded_string(schema):
                char = self._add_primitive("char", PRIMITIVE_RULES["char"])
                low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
                times = f"{{{low},{'' if high is None else int(high)}}}"
                rule_name = name + "-" if name in RESERVED_NAMES else name or "root"
                return str(self._add_rule(rule_name, rf'"\"" {char}{times} "\"" space'))
            return str(super().visit(schema, name))

    converter = Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    resolved = converter.resolve_refs(copy.deepcopy(schema), "stdin")  # it rewrites $ref in place
    converter.visit(resolved, "")
    return str(converter.format_grammar())


def _plain_bounded_string(schema: Any) -> bool:
    """A `{"type": "string"}` with a length bound and nothing else that shapes it."""
    shaping = ("$ref", "anyOf", "oneOf", "allOf", "const", "enum", "pattern", "format")
    return (
        isinstance(schema, dict)
        and schema.get("type") == "string"
        and ("minLength" in schema or "maxLength" in schema)
        and not any(key in schema for key in shaping)
    )

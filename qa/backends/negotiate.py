"""Which structured-output mode a real server takes, learned once per server and model.

Servers that call themselves OpenAI-compatible differ in what they do with a schema: some
enforce strict `json_schema`, llama.cpp's take `json_object` + schema or a raw grammar,
some accept a mode and ignore it. `negotiate(backend)` finds out with cheap probes and
remembers the answer for the process, keyed by base URL and model. `qa.backends.driver` calls it
when it starts a server profile's first task, before the task builds its prompt (a dry
run, which builds requests without the driver, never probes); until then
`Backend.structured_mode` is the profile's guess.

0. Replaying (or `auto` with recordings for this model): the mode the recordings were
   made in; the server is not asked. Probes are never recorded (`Backend.probe_client`).
1. Who is it? `GET /models`: `owned_by` "me" is llama-cpp-python's server, "llamacpp"
   llama.cpp's, "vllm" vLLM's. Otherwise the backend's profile says
   (`BackendProfile.family`).
2. The family's modes (`FAMILIES`), in order, each probed with a tiny request whose schema
   allows one reply only, `{"probe": PROBE_VALUE}`, a value the prompt never shows:
   - a 400/422/500 whose body names the field (response_format, json_schema, grammar)
     is a rejection: next mode. llama-cpp-python's rejection of json_schema ("'text' or
     'json_object'") also tells the family: llama.cpp;
   - any other reply than the probe object: the server ignores the mode, which is logged
     as a warning: next mode;
   - the probe object: this mode is used.
   `json_object` (plain JSON, the schema shown in the prompt, checked after) comes last
   and only has to be accepted.
3. Nothing accepted: `StructuredOutputUnsupportedError`, one line naming the server, each
   mode with what happened, and QA_STRUCTURED_MODE, which forces a mode and skips all this.

No family gets a mode that breaks it: llama.cpp servers get the grammar qa builds itself
(`qa.backends.embedded.grammar.server_grammar`) in their `grammar` field, never `json_object` + schema
(llama-cpp-python's converter mishandles the enums and lengths qa sends, and a grammar it
cannot parse kills the server); vLLM and Ollama get strict `json_schema` (Ollama drops a
`json_object` schema without a word, vLLM ignores unknown fields such as `grammar`).

A real request the server rejects later in the negotiated mode (a schema richer than the
probe's) moves that server on to its next mode (`fallback_request`), and `qa.backends.driver`
sends the request again in it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from qa.errors import QAError, StructuredOutputUnsupportedError
from qa.settings import StructuredMode

if TYPE_CHECKING:
    from qa.backends.backend import Backend
    from qa.core.structured import ChatRequest

__all__ = [
    "FAMILIES",
    "PROBE_SCHEMA",
    "PROBE_VALUE",
    "Family",
    "Negotiated",
    "fallback_request",
    "forced_rejection",
    "forget",
    "known",
    "mode_of",
    "negotiate",
    "rejection",
]

log = logging.getLogger("qa.backends.negotiate")

PROBE_VALUE = "qa-probe-7f3a"
PROBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"probe": {"type": "string", "enum": [PROBE_VALUE]}},
    "required": ["probe"],
    "additionalProperties": False,
}
_PROBE_MAX_TOKENS = 48
_PROBE_HEADERS = {"x-qa-probe": "structured-output"}
FORCE_HINT = "force a mode with QA_STRUCTURED_MODE=json_schema|json_object_schema|grammar|json_object"
SCHEMA_INSTRUCTION = "Reply with one JSON object that matches this JSON schema:\n"


@dataclass(frozen=True)
class Family:
    """A kind of server and the structured-output modes to try with it, best first."""

    name: str
    modes: tuple[StructuredMode, ...]


FAMILIES: dict[str, Family] = {
    # json_schema after the grammar: llama-cpp-python refuses it harmlessly, llama.cpp's server converts it itself
    "llama.cpp": Family("llama.cpp", ("grammar", "json_schema", "json_object")),
    "vllm": Family("vLLM", ("json_schema", "json_object")),
    "ollama": Family("Ollama", ("json_schema", "json_object")),
    "openai-compatible": Family("OpenAI-compatible", ("json_schema", "json_object_schema", "grammar", "json_object")),
}
_OWNED_BY = {"me": "llama.cpp", "llamacpp": "llama.cpp", "vllm": "vllm"}
_ORDER: tuple[StructuredMode, ...] = ("json_schema", "json_object_schema", "grammar", "json_object")
_FIELD_WORDS = ("response_format", "json_schema", "json_object", "grammar")


@dataclass(frozen=True)
class Negotiated:
    """The mode a server is spoken to in, and how it was found."""

    base_url: str
    model: str
    family: str
    mode: StructuredMode
    passed: tuple[tuple[str, str], ...] = ()
    """Modes passed over, each with what happened ("rejected (HTTP 500: ...)", "ignored ...")."""

    def describe(self) -> str:
        """One line for the log: mode, server, and why earlier modes were passed over."""
        why = "; ".join(f"{mode} {outcome}" for mode, outcome in self.passed)
        server = f"{FAMILIES[self.family].name} server at {self.base_url}, model {self.model}"
        return f"structured output as {self.mode} ({server}" + (f"; {why})" if why else ")")


_known: dict[tuple[str, str], Negotiated] = {}
_lock = threading.Lock()


def negotiate(backend: Backend) -> Negotiated:
    """The mode for `backend`'s server and model: probed on first use, then remembered."""
    key = (backend.base_url, backend.model)
    with _lock:  # concurrent first calls wait for one negotiation instead of probing twice
        found = _known.get(key)
        if found is None:
            found = _known[key] = _Prober(backend).run()
            log.info("%s", found.describe())
        return found


def known(backend: Backend) -> Negotiated | None:
    """The mode already negotiated for `backend`'s server and model, without asking it anything."""
    return _known.get((backend.base_url, backend.model))


def forget() -> None:
    """Forget every negotiated mode (tests; a server restarted with other settings)."""
    with _lock:
        _known.clear()


def rejection(exc: BaseException) -> str | None:
    """Why the server refused a structured-output field, if that is what `exc` says; else None.

    A 400, 422 or 500 (llama-cpp-python reports validation errors as 500) whose error
    names response_format, json_schema, json_object or grammar.
    """
    import openai

    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (400, 422, 500):
        return None
    text = _error_text(exc)
    if not any(word in text for word in _FIELD_WORDS):
        return None
    return f"rejected (HTTP {exc.status_code}: {_brief(_server_message(exc))})"


def fallback_request(request: ChatRequest, backend: Backend, exc: BaseException) -> ChatRequest | None:
    """`request` again in the server's next mode, if `exc` is its rejection of this one; else None.

    Raises `StructuredOutputUnsupportedError` when the rejected mode was the last one.
    """
    reason = rejection(exc)
    if reason is None or request.schema is None or not backend.negotiates:
        return None
    sent = mode_of(request.body)
    key = (backend.base_url, backend.model)
    with _lock:
        current = _known.get(key)
        if current is None:
            return None
        if current.mode == sent:  # else another call already moved this server on
            modes = _usable(FAMILIES[current.family].modes)
            rest = modes[modes.index(sent) + 1 :] if sent in modes else []
            passed = (*current.passed, (sent, reason))
            if not rest:
                raise _unsupported(current.base_url, current.model, current.family, passed)
            current = _known[key] = replace(current, mode=rest[0], passed=passed)
            log.warning(
                "the server at %s %s %s for a real request; using %s from now on",
                current.base_url,
                reason,
                sent,
                current.mode,
            )
    return backend.rebuild(request)


def forced_rejection(backend: Backend, exc: BaseException) -> StructuredOutputUnsupportedError | None:
    """The one-line error for a server rejecting the mode QA_STRUCTURED_MODE forces, else None."""
    forced = backend.settings.structured_mode
    reason = rejection(exc) if forced else None
    if reason is None:
        return None
    return StructuredOutputUnsupportedError(
        f"the server at {backend.base_url} {reason} the mode QA_STRUCTURED_MODE={forced} forces; "
        "unset QA_STRUCTURED_MODE to let qa find a mode the server takes, or force another",
        tried=[(str(forced), reason)],
    )


def mode_of(body: dict[str, Any]) -> StructuredMode:
    """The structured-output mode a request body was built for."""
    if "grammar" in body:
        return "grammar"
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return "json_schema"
    return "json_object_schema" if "schema" in response_format else "json_object"


def with_schema_shown(messages: list[dict[str, Any]], schema: dict[str, Any]) -> list[dict[str, Any]]:
    """`messages` with the schema added to the system message, unless a message shows it already."""
    text = json.dumps(schema, separators=(",", ":"))
    if any(text in str(m.get("content") or "") for m in messages):
        return messages
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0], content=f"{messages[0]['content']}\n\n{SCHEMA_INSTRUCTION}{text}")
        return [first, *messages[1:]]
    return [{"role": "system", "content": SCHEMA_INSTRUCTION + text}, *messages]


class _Prober:
    """Finds the mode for one backend: from its recordings when replaying, else by asking its server."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def run(self) -> Negotiated:
        backend = self.backend
        family = backend.profile.family or "openai-compatible"
        if backend.settings.record_mode in ("replay", "auto"):
            recorded = self._recorded_mode()
            if recorded is not None:
                return Negotiated(
                    backend.base_url, backend.model, family, recorded, (("recordings", f"were made in {recorded}"),)
                )
            if (
                backend.settings.record_mode == "replay"
            ):  # nothing to ask: the profile's mode, and the request's miss says the rest
                return Negotiated(backend.base_url, backend.model, family, backend.profile.structured_mode,
                                  (("recordings", "hold no request for this model"),))  # fmt: skip
        family = self._identify(family)
        passed: list[tuple[str, str]] = []
        pending = list(_usable(FAMILIES[family].modes))
        for mode in [m for m in FAMILIES[family].modes if m not in pending]:
            passed.append((mode, "skipped (building grammars needs llama-cpp-python here)"))
        while pending:
            mode = pending.pop(0)
            outcome, detail = self._probe(mode)
            if outcome == "ok":
                return Negotiated(backend.base_url, backend.model, family, mode, tuple(passed))
            passed.append((mode, detail))
            if outcome == "ignored":
                log.warning("the server at %s accepts %s but %s; trying the next mode", backend.base_url, mode, detail)
            if outcome == "rejected" and family != "llama.cpp" and "'json_object'" in detail and "'text'" in detail:
                family = "llama.cpp"  # llama-cpp-python's request model: response_format type 'text' or 'json_object'
                tried = {m for m, _ in passed}
                pending = [m for m in _usable(FAMILIES[family].modes) if m not in tried]
        raise _unsupported(backend.base_url, backend.model, family, tuple(passed))

    def _recorded_mode(self) -> StructuredMode | None:
        """The mode the recordings of this backend's model were made in (the first, in `_ORDER`)."""
        backend = self.backend
        found = {
            mode_of(r.body)
            for r in backend.recordings.recorded_requests()
            if r.method == "POST" and r.path == backend.chat_path and isinstance(r.body, dict)
            and r.body.get("model") == backend.model and ("response_format" in r.body or "grammar" in r.body)
        }  # fmt: skip
        return next((mode for mode in _ORDER if mode in found), None)

    def _identify(self, family: str) -> str:
        """The server's family, from what `GET /models` says owns its models, else `family`."""
        backend = self.backend
        try:
            models = backend.probe_client.with_options(
                max_retries=0, timeout=min(backend.settings.timeout, 30.0)
            ).models.list()
            owners = {str(getattr(m, "owned_by", "") or "") for m in models.data}
        except Exception:  # noqa: BLE001 - many servers have no models list; the profile decides then
            return family
        for owner in sorted(owners):
            if owner in _OWNED_BY:
                found = _OWNED_BY[owner]
                if found != family:
                    log.info("the server at %s says its models are owned by %r: treating it as %s, not %s",
                             backend.base_url, owner, FAMILIES[found].name, FAMILIES[family].name)  # fmt: skip
                return found
        return family

    def _probe(self, mode: StructuredMode) -> tuple[str, str]:
        """("ok" | "rejected" | "ignored", detail) for one probe request in `mode`."""
        import openai

        from qa.backends.sdk_errors import translate
        from qa.schemas import Usage

        backend = self.backend
        messages = [
            {"role": "system", "content": "Reply with one JSON object and nothing else."},
            {"role": "user", "content": "Reply now."},
        ]
        if mode == "json_object":
            messages = with_schema_shown(messages, PROBE_SCHEMA)
        body = {
            "model": backend.model,
            "messages": messages,
            "max_tokens": _PROBE_MAX_TOKENS,
            "temperature": 0.0,
            **backend.structured_fields("probe", PROBE_SCHEMA, mode=mode),
        }
        try:
            reply = self._create(body)
        except (openai.OpenAIError, ValueError, QAError) as exc:  # a transport's qa error is not wrapped
            reason = rejection(exc)
            if reason is not None:
                return "rejected", reason
            raise translate(exc, Usage.zero()) from exc
        if mode == "json_object":
            return "ok", ""
        content = (reply.choices[0].message.content or "") if reply.choices else ""
        try:
            if json.loads(content) == {"probe": PROBE_VALUE}:
                return "ok", ""
        except ValueError:
            pass
        return "ignored", f"ignores it (its reply {_brief(content, 60)!r} does not match the schema)"

    def _create(self, body: dict[str, Any]) -> Any:
        """Send a probe: once without retries (a rejection needs none), again with them if transient."""
        import openai

        from qa.backends.backend import sdk_arguments

        client = self.backend.probe_client
        arguments = {**sdk_arguments(body), "extra_headers": _PROBE_HEADERS}
        try:
            return client.with_options(max_retries=0).chat.completions.create(**arguments)
        except openai.APIStatusError as exc:
            if rejection(exc) is not None or (exc.status_code < 500 and exc.status_code != 429):
                raise
        except openai.APIConnectionError as exc:
            if _qa_error_in(exc):
                raise
        return client.chat.completions.create(**arguments)


def _usable(modes: tuple[StructuredMode, ...]) -> list[StructuredMode]:
    """`modes` without grammar when this process cannot build grammars (no llama-cpp-python)."""
    return [m for m in modes if m != "grammar" or _grammars_available()]


def _grammars_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def _unsupported(
    base_url: str, model: str, family: str, passed: tuple[tuple[str, str], ...]
) -> StructuredOutputUnsupportedError:
    tried = "; ".join(f"{mode} {outcome}" for mode, outcome in passed) or "no mode could be tried"
    return StructuredOutputUnsupportedError(
        f"the {FAMILIES[family].name} server at {base_url} (model {model}) cannot do structured output: "
        f"{tried}; {FORCE_HINT}",
        tried=list(passed),
    )


def _qa_error_in(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, QAError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _error_text(exc: Any) -> str:
    parts = [str(getattr(exc, "message", "") or "")]
    body = getattr(exc, "body", None)
    if body is not None:
        parts.append(json.dumps(body, default=str) if not isinstance(body, str) else body)
    return " ".join(parts)


def _server_message(exc: Any) -> str:
    """The server's own error message (OpenAI style: `{"error": {"message": ...}}`), else the SDK's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str) and message:
            return message
    return str(getattr(exc, "message", "") or exc)


_PYDANTIC_MSG = re.compile(r"""'msg': ["'](.+?)["'], '""")


def _brief(text: str, limit: int = 120) -> str:
    """A short one-line version of a server's error or reply."""
    found = _PYDANTIC_MSG.search(text)  # llama-cpp-python quotes pydantic's error dict: keep its message
    line = " ".join((found.group(1) if found else text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."

"""A fault-injecting OpenAI-compatible chat server for tests and reliability runs.

`FaultServer` serves `POST /v1/chat/completions` on 127.0.0.1 (ephemeral port) from a
background thread. A `responder(request_body) -> {"content": str, "finish_reason": str}`
supplies the normal answer; the server wraps it into a `chat.completion` (or, for
`stream: true`, server-sent `chat.completion.chunk` events). With probability
`fault_rate` a request gets one of `faults` instead, drawn from `random.Random(seed)`, so
the same seed and request order give the same fault sequence:

    rate_limit      429, `Retry-After: 0`, OpenAI-style error body
    server_error    500
    unavailable     503
    slow            wait `slow_seconds`, then answer normally (outlasts a client timeout)
    reset           close the socket abruptly (SO_LINGER 0): no response at all
    malformed_json  200 with a truncated, invalid JSON body (or SSE data line)
    schema_invalid  200, content is the JSON `{"unexpected": true}`
    truncated       200, content cut in half, finish_reason "length"
    refusal         200, content null and `refusal` set
    stream_cut      streams: some chunks, then a clean close with no finish and no [DONE];
                    non-stream requests get "reset" instead

The server stops itself after `max_requests` requests or `max_seconds` seconds: the
request that finds the budget spent gets 503 "server budget exhausted" and the server
shuts down. Run standalone with `python -m qa.testing.fault_server --port 0`.

It takes strict `json_schema` as the servers its recordings came from did: qa's
structured-output probe (the `x-qa-probe` header, see `qa.backends.negotiate`) gets the one reply
the probe's schema allows (any other mode: a 400 naming response_format), and
`GET /v1/models` lists one model. Neither draws a fault, spends the budget or counts in
`stats`, so a run sees the same faults with and without negotiation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ALL_FAULTS", "FaultServer", "FaultStats", "Responder", "echo_responder"]

ALL_FAULTS: tuple[str, ...] = (
    "rate_limit",
    "server_error",
    "unavailable",
    "slow",
    "reset",
    "malformed_json",
    "schema_invalid",
    "truncated",
    "refusal",
    "stream_cut",
)
_LOOPBACK = "127.0.0.1"
_REFUSAL = "I can't help with that."
_STATUS_FAULTS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "rate_limit_error", "Rate limit reached (injected fault)."),
    "server_error": (500, "server_error", "Internal server error (injected fault)."),
    "unavailable": (503, "server_error", "Service unavailable (injected fault)."),
}

Responder = Callable[[dict[str, Any]], dict[str, Any]]
"""Maps a chat completion request body to `{"content": str, "finish_reason": "stop"}`."""


@dataclass(frozen=True)
class FaultStats:
    """A snapshot of what the server did so far."""

    requests: int
    """Chat completion requests that were answered (normally or with a fault)."""
    normal: int
    """Requests answered normally."""
    faults_injected: dict[str, int]
    """Injected faults, by kind."""
    rejected: int
    """Requests refused: unknown path (404), bad JSON (400), budget spent (503)."""


def echo_responder(body: dict[str, Any]) -> dict[str, Any]:
    """Answer with the text of the last message (the standalone server's responder)."""
    messages = body.get("messages") or [{}]
    return {"content": _text(messages[-1].get("content")) or "(empty)", "finish_reason": "stop"}


def _text(content: Any) -> str:
    """The text of a message's `content`, whether a string or a list of parts."""
    parts = content if isinstance(content, list) else [{"text": content}]
    return "".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


class FaultServer:
    """An OpenAI-compatible chat server that injects faults at a seeded rate."""

    def __init__(
        self,
        responder: Responder,
        *,
        fault_rate: float = 0.3,
        faults: Sequence[str] = ALL_FAULTS,
        seed: int = 0,
        max_requests: int = 10_000,
        max_seconds: float = 600,
        latency: float = 0.0,
        slow_seconds: float = 5.0,
        host: str = _LOOPBACK,
        port: int = 0,
    ) -> None:
        """Bind the socket (loopback only); `start()` or `with` begins serving."""
        if host != _LOOPBACK:
            raise ValueError(f"FaultServer binds {_LOOPBACK} only, not {host!r}")
        unknown = sorted(set(faults) - set(ALL_FAULTS))
        if unknown or not faults:
            raise ValueError(f"unknown or empty faults: {unknown or list(faults)}")
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be within [0, 1], got {fault_rate}")
        self.responder, self.fault_rate, self.faults = responder, fault_rate, tuple(faults)
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.latency, self.slow_seconds = latency, slow_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping, self._closed = threading.Event(), threading.Event()
        self._seen = self._rejected = 0
        self._log: list[tuple[int, str | None]] = []
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._started = 0.0

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, e.g. `http://127.0.0.1:PORT/v1`."""
        return f"http://{_LOOPBACK}:{self._httpd.server_address[1]}/v1"

    @property
    def stats(self) -> FaultStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            kinds, rejected = [fault for _, fault in self._log], self._rejected
        faults = {kind: kinds.count(kind) for kind in self.faults if kind in kinds}
        return FaultStats(len(kinds), kinds.count(None), faults, rejected)

    @property
    def log(self) -> list[tuple[int, str | None]]:
        """(request index, fault kind or None) for every answered chat request, in order."""
        with self._lock:
            return list(self._log)

    def start(self) -> FaultServer:
        """Serve from a daemon thread; stop by itself after `max_seconds`."""
        if self._thread is None:
            self._started = time.monotonic()
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
            self._timer = threading.Timer(self.max_seconds, self.close)
            self._timer.daemon = True  # never keeps the interpreter alive
            self._timer.start()
        return self

    def close(self) -> None:
        """Stop serving, wake sleeping handlers and release the socket. Idempotent."""
        with self._lock:
            first = not self._stopping.is_set()
            self._stopping.set()
        if not first:
            return
        if self._timer is not None:
            self._timer.cancel()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
        self._closed.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped and released its port; return whether it has."""
        return self._closed.wait(timeout)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _admit(self) -> bool:
        """Count an incoming request; False once the request or time budget is spent."""
        with self._lock:
            self._seen += 1
            return self._seen <= self.max_requests and time.monotonic() - self._started <= self.max_seconds

    def _reject(self) -> None:
        with self._lock:
            self._rejected += 1

    def _draw(self) -> str | None:
        """Record a chat request and choose its fault (None: answer normally)."""
        with self._lock:
            fault = self._rng.choice(self.faults) if self._rng.random() < self.fault_rate else None
            self._log.append((len(self._log), fault))
            return fault


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: FaultServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, cut streams) are expected: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_GET(self) -> None:
        """`GET /v1/models` (one model); nothing else."""
        if self.path.rstrip("/") == "/v1/models":
            listing = {
                "object": "list",
                "data": [{"id": "fault-server", "object": "model", "created": 0, "owned_by": "qa-testing"}],
            }
            self._send(200, json.dumps(listing).encode())
            return
        self._refuse(404, f"Unknown path: GET {self.path}")

    def do_POST(self) -> None:
        """Answer a chat completion, normally or with the drawn fault."""
        owner = self.server.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # unread input would mean a RST
        if self.headers.get("x-qa-probe"):
            self._probe(raw)
            return
        if not owner._admit():
            self._refuse(503, "server budget exhausted", "server_error")
            threading.Thread(target=owner.close, daemon=True).start()
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._refuse(404, f"Unknown path: POST {self.path}")
            return
        try:
            body = json.loads(raw)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
            body = None
        if not isinstance(body, dict):
            self._refuse(400, "Request body is not a JSON object.")
            return
        fault = owner._draw()
        stream = bool(body.get("stream"))
        fault = "reset" if fault == "stream_cut" and not stream else fault
        delay = owner.latency + (owner.slow_seconds if fault == "slow" else 0.0)
        if owner._stopping.wait(delay) or fault == "reset":  # a server shutting down resets too
            self._reset()
            return
        if fault is not None and fault in _STATUS_FAULTS:
            self._error(*_STATUS_FAULTS[fault])
            return
        try:
            answer = owner.responder(body)
        except Exception as exc:  # noqa: BLE001 - the responder is test code: report, don't crash
            self._error(500, "server_error", f"responder failed: {exc!r}")
            return
        text = str(answer.get("content", ""))
        content: str | None = text
        refusal: str | None = None
        finish = str(answer.get("finish_reason", "stop"))
        if fault == "schema_invalid":
            content = json.dumps({"unexpected": True})
        elif fault == "truncated":
            content, finish = text[: len(text) // 2], "length"
        elif fault == "refusal":
            content, refusal = None, _REFUSAL
        # Logprobs describe the recorded text: served with it when the client asked, never with a fault's.
        logprobs = answer.get("logprobs") if fault is None and body.get("logprobs") else None
        reply = _Reply(body, content, refusal, finish, logprobs)
        if stream:
            self._stream(reply, body, cut=fault == "stream_cut", malformed=fault == "malformed_json")
        else:
            text = json.dumps(reply.completion())
            self._send(200, (text[: len(text) // 2] if fault == "malformed_json" else text).encode())

    def _probe(self, raw: bytes) -> None:
        """qa's structured-output probe: the reply its json_schema allows (enum properties take their first value)."""
        try:
            body = json.loads(raw)
            response_format = body.get("response_format") or {}
            schema = (
                (response_format.get("json_schema") or {}).get("schema")
                if response_format.get("type") == "json_schema"
                else None
            )
        except (ValueError, AttributeError):
            body, schema = None, None
        if not isinstance(body, dict) or not isinstance(schema, dict):
            self._error(400, "invalid_request_error", "response_format: this server takes json_schema only")
            return
        values = {name: sub["enum"][0] for name, sub in (schema.get("properties") or {}).items() if sub.get("enum")}
        self._send(200, json.dumps(_Reply(body, json.dumps(values), None, "stop").completion()).encode())

    def _refuse(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self.server.owner._reject()
        self._error(status, kind, message)

    def _error(self, status: int, kind: str, message: str) -> None:
        error = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        extra = {"Retry-After": "0"} if status == 429 else {}
        self._send(status, json.dumps(error).encode(), extra)

    def _send(self, status: int, data: bytes, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(extra or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST: no status line, no body."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _stream(self, reply: _Reply, body: dict[str, Any], *, cut: bool, malformed: bool) -> None:
        """Send server-sent events; the connection closes after the last one (HTTP/1.0)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events = [json.dumps(chunk) for chunk in reply.chunks(usage)]
        if cut:
            events = events[: max(2, len(events) // 2)]
        elif malformed:
            events[1] = events[1][: len(events[1]) // 2]
        for event in events + ([] if cut else ["[DONE]"]):
            self.wfile.write(f"data: {event}\n\n".encode())


class _Reply:
    """One assistant message, rendered as a completion or as stream chunks."""

    def __init__(
        self, body: dict[str, Any], content: str | None, refusal: str | None, finish: str, logprobs: Any = None
    ) -> None:
        self.model = str(body.get("model", "fault-server"))
        self.content, self.refusal, self.finish, self.logprobs = content, refusal, finish, logprobs
        self.id, self.created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        prompt = sum(len(_text(m.get("content"))) for m in messages) // 4
        completion = len(content or refusal or "") // 4
        total = prompt + completion
        self.usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def completion(self) -> dict[str, Any]:
        """The full `chat.completion` object."""
        message = {"role": "assistant", "content": self.content, "refusal": self.refusal}
        choice = {"index": 0, "message": message, "logprobs": self.logprobs, "finish_reason": self.finish}
        return {**self._head("chat.completion"), "choices": [choice], "usage": self.usage}

    def chunks(self, include_usage: bool) -> Iterator[dict[str, Any]]:
        """`chat.completion.chunk` objects: role, ~8 content pieces, finish, usage."""

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**self._head("chat.completion.chunk"), "choices": [choice]}

        yield chunk({"role": "assistant", "content": "" if self.content is not None else None})
        key, text = ("content", self.content) if self.content is not None else ("refusal", self.refusal or "")
        step = max(1, math.ceil(len(text) / 8))
        for start in range(0, len(text), step):
            yield chunk({key: text[start : start + step]})
        yield chunk({}, self.finish)
        if include_usage:
            yield {**self._head("chat.completion.chunk"), "choices": [], "usage": self.usage}


def main(argv: Sequence[str] | None = None) -> None:
    """Run a standalone fault server with the echo responder until Ctrl-C or its budget."""
    parser = argparse.ArgumentParser(prog="python -m qa.testing.fault_server", description=main.__doc__)
    options: dict[str, tuple[Callable[[str], Any], float]] = {
        "port": (int, 0),
        "fault-rate": (float, 0.3),
        "seed": (int, 0),
        "max-requests": (int, 10_000),
        "max-seconds": (float, 600),
        "latency": (float, 0.0),
        "slow-seconds": (float, 5.0),
    }
    for name, (kind, default) in options.items():
        parser.add_argument(f"--{name}", type=kind, default=default)
    parser.add_argument("--faults", default=",".join(ALL_FAULTS), help="comma-separated fault kinds")
    args = vars(parser.parse_args(argv))
    server = FaultServer(echo_responder, **{**args, "faults": args["faults"].split(",")})
    with server, contextlib.suppress(KeyboardInterrupt):
        print(server.base_url, flush=True)
        server.wait()
    print(json.dumps(server.stats.__dict__), flush=True)


if __name__ == "__main__":
    main()

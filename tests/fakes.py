"""A fake OpenAI chat-completions server at the HTTP layer (httpx2.MockTransport).

Tests enqueue replies; each request takes the next one. Every request body is kept so a
test can check what was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx2

from qa.backends.backend import PROFILES, Backend
from qa.settings import Settings


@dataclass
class Reply:
    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None
    prompt_tokens: int = 100
    completion_tokens: int = 20
    status: int = 200
    broken: bool = False
    """A 200 that is not a usable reply: a body that is not JSON, or a stream cut before it finishes."""


@dataclass
class FakeChatServer:
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def enqueue(self, *replies: Reply | str | dict[str, Any]) -> FakeChatServer:
        for reply in replies:
            if isinstance(reply, dict):
                reply = json.dumps(reply)
            self.replies.append(reply if isinstance(reply, Reply) else Reply(content=reply))
        return self

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if not self.replies:
            return httpx2.Response(500, json={"error": {"message": "fake server: no reply queued"}})
        reply = self.replies.pop(0)
        if reply.status != 200:
            return httpx2.Response(reply.status, json={"error": {"message": reply.content or "error"}})
        usage = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
        if body.get("stream"):
            events = _sse(body, reply, usage)
            if reply.broken:  # the connection drops after the first chunks
                events = events[: events.index(b"data: ", 200)]
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events)
        if reply.broken:
            return httpx2.Response(
                200, headers={"content-type": "application/json"}, content=b'{"id": "chatcmpl-1", "choi'
            )
        message = {"role": "assistant", "content": reply.content, "refusal": reply.refusal}
        return httpx2.Response(
            200,
            json={
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason, "logprobs": None}],
                "usage": usage,
            },
        )

    @property
    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def backend(self, kind: str = "openai", **settings: Any) -> Backend:
        values: dict[str, Any] = {"backend": kind, "api_key": "sk-test-not-a-real-key-000000", "max_retries": 0}
        values.update(settings)
        transport = self.transport
        return Backend(
            settings=Settings.load(env={}, **values),
            profile=PROFILES[kind],
            transport=transport,
            async_transport=transport,
        )


def _sse(body: dict[str, Any], reply: Reply, usage: dict[str, int]) -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None, with_usage: bool = False) -> str:
        data = {
            "id": "chatcmpl-stream",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
            "choices": [] if with_usage else [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if with_usage:
            data["usage"] = usage
        return f"data: {json.dumps(data)}\n\n"

    text = reply.content or ""
    parts = [chunk({"role": "assistant", "content": ""}, None)]
    parts += [chunk({"content": text[i : i + 7]}, None) for i in range(0, len(text), 7)]
    parts.append(chunk({}, reply.finish_reason))
    parts.append(chunk({}, None, with_usage=True))
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()

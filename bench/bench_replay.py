"""How much a replayed model call costs, against a plain in-memory MockTransport call.

    .venv/bin/python bench/bench_replay.py [--entries 10000] [--lookups 2000]

Builds a store of synthetic chat-completion recordings (a ~3 kB article in each request,
a ~1 kB answer in each response) in a temporary folder, then times replay lookups through
`RecordingTransport.handle_request` (distinct keys, so each one reads and parses its file;
then the same keys again, served from memory), and the same requests sent to an
`httpx2.MockTransport` that returns a canned body of the same size. All figures come from
the same run; the ratio is what matters. Target: under 1 ms per cold lookup.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx2
import openai

from qa.recording import RecordingStore, RecordingTransport
from qa.recording.entry import EntryMeta, RecordedRequest, RecordedResponse, RecordingEntry, recording_key

URL = "http://bench.local/v1/chat/completions"
WORDS = [
    "the",
    "council",
    "said",
    "on",
    "tuesday",
    "that",
    "its",
    "budget",
    "for",
    "schools",
    "would",
    "rise",
    "by",
    "nine",
    "percent",
    "next",
    "year",
]


def text(rng: random.Random, chars: int) -> str:
    """Pseudo-prose of about `chars` characters."""
    words: list[str] = []
    length = 0
    while length < chars:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    return " ".join(words).capitalize() + "."


def request_body(index: int, rng: random.Random) -> dict[str, Any]:
    """A chat-completion request the size `qa` sends: system rules, an article, a question."""
    return {
        "model": "gpt-4o-mini",
        "temperature": 0,
        "max_tokens": 400,
        "response_format": {"type": "json_schema", "json_schema": {"name": "Answer", "strict": True, "schema": {}}},
        "messages": [
            {"role": "system", "content": text(rng, 800)},
            {"role": "user", "content": f"<article id={index}>\n{text(rng, 3000)}\n</article>\nQuestion {index}?"},
        ],
    }


def response_body(rng: random.Random) -> dict[str, Any]:
    """A chat.completion with a ~1 kB JSON answer."""
    answer = json.dumps({"answer": text(rng, 300), "status": "answered", "citations": [{"quote": text(rng, 200)}]})
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020},
    }


def build_store(folder: Path, entries: int, rng: random.Random) -> list[bytes]:
    """Write `entries` recordings; return every request body as the SDK would send it."""
    store = RecordingStore(folder, usage_log_at_exit=False)
    bodies = []
    for index in range(entries):
        body = request_body(index, rng)
        path = "/v1/chat/completions"
        store.put(
            RecordingEntry(
                key=recording_key("POST", path, body),
                request=RecordedRequest(method="POST", path=path, body=body),
                response=RecordedResponse(
                    status_code=200, headers={"content-type": "application/json"}, body=response_body(rng)
                ),
                meta=EntryMeta(
                    prompt="answer",
                    prompt_version="1+bench",
                    model="gpt-4o-mini",
                    recorded_at="2026-01-01T00:00:00Z",
                    qa_version="bench",
                ),
            )
        )
        bodies.append(json.dumps(body).encode())
    return bodies


def per_call_ms(send: Callable[[httpx2.Request], httpx2.Response], requests: Sequence[httpx2.Request]) -> float:
    """Mean milliseconds per call, response body read included."""
    start = time.perf_counter()
    for request in requests:
        send(request).read()
    return (time.perf_counter() - start) * 1000 / len(requests)


def sdk_ms(transport: httpx2.BaseTransport, bodies: Sequence[bytes]) -> float:
    """Mean milliseconds per call through the real openai SDK."""
    with openai.OpenAI(
        base_url="http://bench.local/v1",
        api_key="sk-bench",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    ) as client:
        start = time.perf_counter()
        for body in bodies:
            client.chat.completions.create(**json.loads(body))
        return (time.perf_counter() - start) * 1000 / len(bodies)


def main() -> None:
    """Build the store, time replay against MockTransport, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        bodies = build_store(folder, args.entries, rng)
        build_s = time.perf_counter() - start
        print(f"built {args.entries} recordings in {build_s:.1f} s ({build_s * 1000 / args.entries:.2f} ms per write)")
        chosen = rng.sample(bodies, args.lookups)
        requests = [
            httpx2.Request("POST", URL, content=b, headers={"content-type": "application/json"}) for b in chosen
        ]
        canned = json.dumps(response_body(rng)).encode()
        mock = httpx2.MockTransport(
            lambda _: httpx2.Response(200, content=canned, headers={"content-type": "application/json"})
        )

        replay = RecordingTransport(None, RecordingStore(folder, usage_log_at_exit=False), "replay")
        start = time.perf_counter()
        replay.handle_request(requests[0]).read()  # first call lists the folder
        first_ms = (time.perf_counter() - start) * 1000
        cold = per_call_ms(replay.handle_request, requests[1:])
        warm = per_call_ms(replay.handle_request, requests[1:])
        base = per_call_ms(mock.handle_request, requests[1:])
        sdk_n = min(500, args.lookups)
        sdk_replay = sdk_ms(
            RecordingTransport(None, RecordingStore(folder, usage_log_at_exit=False), "replay"), chosen[:sdk_n]
        )
        sdk_mock = sdk_ms(mock, chosen[:sdk_n])

    print(f"first lookup (lists {args.entries} files):   {first_ms:8.3f} ms")
    print(f"replay lookup, cold (reads the file):   {cold:8.3f} ms/call  ({args.lookups - 1} calls)")
    print(f"replay lookup, warm (entry in memory):  {warm:8.3f} ms/call")
    print(f"plain MockTransport call:               {base:8.3f} ms/call")
    print(f"ratio cold / mock: {cold / base:6.1f}x   warm / mock: {warm / base:6.1f}x")
    print(
        f"through the openai SDK ({sdk_n} calls): replay {sdk_replay:.3f} ms, mock {sdk_mock:.3f} ms, ratio {sdk_replay / sdk_mock:.2f}x"
    )
    print(f"target < 1 ms per cold lookup: {'met' if cold < 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main()

"""A fake of OpenAI's Files and Batches endpoints (and chat completions), on loopback.

    with FakeBatchServer(article_responder, polls_to_finish=2) as server:
        qa.run(corpus, out, engine="openai-batch", backend="server", base_url=server.base_url)
        server.stats.batches_created   # 1

Endpoints, with the request and response shapes of the real API:

    POST /v1/files                    multipart (purpose, file) -> a file object
    GET  /v1/files/{id}               the file object
    GET  /v1/files/{id}/content       the file's bytes
    POST /v1/batches                  {input_file_id, endpoint, completion_window, metadata} -> a batch
    GET  /v1/batches/{id}             the batch, one status further along per retrieve
    GET  /v1/batches                  the batches, newest first
    POST /v1/batches/{id}/cancel      cancelling, then cancelled
    POST /v1/chat/completions         an online answer (what qa re-asks through)

A batch is `validating` when created; each retrieve moves it on (`in_progress`,
`finalizing`) until, after `polls_to_finish` retrieves, it reaches `outcome`:

- `completed`: every line is answered with `responder(body)` wrapped in a chat completion,
  in the output file: `{"id", "custom_id", "response": {"status_code": 200, "request_id",
  "body"}, "error": null}`. Lines whose custom_id is in `error_ids` go to the error file with
  a 400 response instead; those in `invalid_ids` get schema-invalid content (`{"unexpected":
  true}`), as a model that ignored its schema would.
- `expired`: the first `expire_after` lines are answered as above; the others are in the
  error file with error code `batch_expired` and no response.
- `failed`: the input was rejected: `errors` says why, there is no output at all.

The server keeps every uploaded file and counts what it did (`stats`), so tests can check
that nothing was paid twice and that no uploaded byte holds a key.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from qa.testing.fault_server import Responder, _Reply

__all__ = ["BatchStats", "FakeBatchServer"]

Outcome = Literal["completed", "expired", "failed"]
_LOOPBACK = "127.0.0.1"
_STEPS = ("validating", "in_progress", "finalizing")


@dataclass
class BatchStats:
    """What the fake did so far."""

    files_uploaded: int = 0
    batches_created: int = 0
    retrieves: int = 0
    chat_requests: int = 0
    """Online chat completions (re-asks)."""
    batch_lines_answered: int = 0
    """Batch lines the responder answered (each one a paid request)."""
    uploads: list[bytes] = field(default_factory=list)
    """Every uploaded file's bytes."""
    chat_bodies: list[dict[str, Any]] = field(default_factory=list)
    """The body of every online chat completion request."""


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, Any] | None
    created_at: int
    polls: int = 0
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    cancel: bool = False

    def body(self) -> dict[str, Any]:
        stamps: dict[str, int | None] = {
            f"{s}_at": None
            for s in ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
        }
        if self.status in ("completed", "failed", "expired", "cancelled"):
            stamps[f"{self.status}_at"] = self.created_at + 1
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "errors": self.errors,
            "input_file_id": self.input_file_id, "completion_window": "24h", "status": self.status,
            "output_file_id": self.output_file_id, "error_file_id": self.error_file_id,
            "created_at": self.created_at, "expires_at": self.created_at + 86400, **stamps,
            "request_counts": dict(self.counts), "metadata": self.metadata,
        }  # fmt: skip


class FakeBatchServer:
    """Files, Batches and chat completions on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        responder: Responder,
        *,
        polls_to_finish: int = 2,
        outcome: Outcome = "completed",
        error_ids: Sequence[str] = (),
        invalid_ids: Sequence[str] = (),
        expire_after: int = 0,
        port: int = 0,
    ) -> None:
        self.responder, self.polls_to_finish, self.outcome = responder, polls_to_finish, outcome
        self.error_ids, self.invalid_ids, self.expire_after = set(error_ids), set(invalid_ids), expire_after
        self.stats = BatchStats()
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((_LOOPBACK, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{_LOOPBACK}:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeBatchServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeBatchServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- state changes (called with the lock held) ------------------------------------

    def add_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-{len(self.files) + 1:04d}"
        obj = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed", "status_details": None}  # fmt: skip
        self.files[file_id] = (obj, data)
        return obj

    def create_batch(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return 400, _error(f"No such File object: {file_id}")
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return 400, _error("endpoint must be /v1/chat/completions and completion_window 24h")
        self.stats.batches_created += 1
        batch = _Batch(
            f"batch_{len(self.batches) + 1:04d}", file_id, body["endpoint"], body.get("metadata"), int(time.time())
        )
        self.batches[batch.id] = batch
        return 200, batch.body()

    def advance(self, batch: _Batch) -> None:
        """One retrieve's worth of progress."""
        self.stats.retrieves += 1
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return
        batch.polls += 1
        if batch.cancel:
            batch.status = "cancelled"
            return
        if batch.polls < self.polls_to_finish:
            batch.status = _STEPS[min(batch.polls, len(_STEPS) - 1)]
            return
        self.finish(batch)

    def finish(self, batch: _Batch) -> None:
        lines = [
            json.loads(line) for line in self.files[batch.input_file_id][1].decode("utf-8").splitlines() if line.strip()
        ]
        batch.counts["total"] = len(lines)
        if self.outcome == "failed":
            batch.status = "failed"
            batch.errors = {"object": "list", "data": [
                {"code": "invalid_request", "message": "The model `x` does not exist (fake).", "param": "body.model", "line": 1}
            ]}  # fmt: skip
            return
        output, errors = [], []
        for index, line in enumerate(lines):
            custom_id = line["custom_id"]
            row: dict[str, Any] = {
                "id": f"batch_req_{index:05d}",
                "custom_id": custom_id,
                "response": None,
                "error": None,
            }
            if self.outcome == "expired" and index >= self.expire_after:
                row["error"] = {
                    "code": "batch_expired",
                    "message": "This request could not be executed before the completion window expired.",
                }
                errors.append(row)
            elif custom_id in self.error_ids:
                row["response"] = {
                    "status_code": 400,
                    "request_id": f"req_{index:05d}",
                    "body": _error("Invalid 'messages' (fake)."),
                }
                errors.append(row)
            else:
                self.stats.batch_lines_answered += 1
                answer = self.responder(line["body"])
                content = (
                    json.dumps({"unexpected": True})
                    if custom_id in self.invalid_ids
                    else str(answer.get("content", ""))
                )
                reply = _Reply(line["body"], content, None, str(answer.get("finish_reason", "stop")))
                row["response"] = {"status_code": 200, "request_id": f"req_{index:05d}", "body": reply.completion()}
                output.append(row)
        batch.counts.update(completed=len(output), failed=len(errors))
        batch.status = self.outcome
        if output:
            batch.output_file_id = self.add_file(_jsonl(output), f"{batch.id}_output.jsonl", "batch_output")["id"]
        if errors:
            batch.error_file_id = self.add_file(_jsonl(errors), f"{batch.id}_error.jsonl", "batch_output")["id"]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: FakeBatchServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def _send(self, status: int, body: dict[str, Any] | bytes, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        owner, parts = self.server.owner, self.path.split("?")[0].strip("/").split("/")
        with owner._lock:
            if parts[:2] == ["v1", "files"] and len(parts) in (3, 4) and parts[2] in owner.files:
                obj, data = owner.files[parts[2]]
                self._send(200, data, "application/octet-stream") if len(parts) == 4 else self._send(200, obj)
            elif parts == ["v1", "batches"]:
                page = [b.body() for b in reversed(owner.batches.values())]
                first, last = (page[0]["id"], page[-1]["id"]) if page else (None, None)
                self._send(200, {"object": "list", "data": page, "first_id": first, "last_id": last, "has_more": False})
            elif parts[:2] == ["v1", "batches"] and len(parts) == 3 and parts[2] in owner.batches:
                batch = owner.batches[parts[2]]
                owner.advance(batch)
                self._send(200, batch.body())
            else:
                self._send(404, _error(f"Unknown path: GET {self.path}"))

    def do_POST(self) -> None:
        owner, parts, raw = self.server.owner, self.path.split("?")[0].strip("/").split("/"), self._body()
        if parts == ["v1", "files"]:
            fields = _multipart(self.headers.get("Content-Type", ""), raw)
            if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
                self._send(400, _error("a file and purpose=batch are required"))
                return
            with owner._lock:
                owner.stats.files_uploaded += 1
                owner.stats.uploads.append(fields["file"][1])
                self._send(200, owner.add_file(fields["file"][1], fields["file"][0] or "upload.jsonl", "batch"))
        elif parts == ["v1", "batches"]:
            with owner._lock:
                self._send(*owner.create_batch(json.loads(raw)))
        elif parts[:2] == ["v1", "batches"] and len(parts) == 4 and parts[3] == "cancel" and parts[2] in owner.batches:
            with owner._lock:
                batch = owner.batches[parts[2]]
                if batch.status not in ("completed", "failed", "expired", "cancelled"):
                    batch.cancel, batch.status = True, "cancelling"
                self._send(200, batch.body())
        elif parts == ["v1", "chat", "completions"]:
            body = json.loads(raw)
            with owner._lock:
                owner.stats.chat_requests += 1
                owner.stats.chat_bodies.append(body)
            answer = owner.responder(body)
            reply = _Reply(body, str(answer.get("content", "")), None, str(answer.get("finish_reason", "stop")))
            self._send(200, reply.completion())
        else:
            self._send(404, _error(f"Unknown path: POST {self.path}"))


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart body: name -> (filename, bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)  # bytes for a leaf part (None for a nested multipart)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields

"""A Hugging Face Hub stand-in on 127.0.0.1 serving one file, for `qa models pull` tests.

It answers what huggingface_hub 1.x asks for one download (see its `file_download.py` and
`hf_api.py`):

- `HEAD /{repo}/resolve/{revision}/{filename}`: `X-Repo-Commit`, `ETag`, `X-Linked-Etag`
  (the LFS sha256), `X-Linked-Size`, `Content-Length`;
- `GET` on the same path: the file, or from byte N on with `Range: bytes=N-` (206);
- `POST /api/models/{repo}/paths-info/{revision}`: the file's size and `lfs` (`oid` = sha256).

`claimed_sha256` makes the metadata lie about the content; `cut_after` sends that many
bytes of the next full GET and drops the connection, after which GETs fail with 500 until
`healthy()` is called. Every request is kept in `requests` as (method, path, headers).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["COMMIT", "FakeHub"]

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serve `content` as `repo/filename` at any revision (see the module docstring)."""

    def __init__(self, repo: str, filename: str, content: bytes, *, claimed_sha256: str | None = None,
                 cut_after: int | None = None) -> None:  # fmt: skip
        self.repo, self.filename, self.content = repo, filename, content
        self.sha256 = claimed_sha256 or hashlib.sha256(content).hexdigest()
        self.cut_after = cut_after
        self.broken = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def healthy(self) -> None:
        """Serve every request normally from now on."""
        self.cut_after, self.broken = None, False

    def gets(self) -> list[dict[str, str]]:
        """Headers of every GET of the file."""
        return [headers for method, path, headers in self.requests if method == "GET" and "/resolve/" in path]

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self
        resolve = re.compile(rf"^/{re.escape(hub.repo)}/resolve/([^/]+)/{re.escape(hub.filename)}$")
        paths_info = re.compile(rf"^/api/models/{re.escape(hub.repo)}/paths-info/([^/]+)$")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _note(self) -> None:
                hub.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

            def _file_headers(self, status: int, length: int, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in {
                    "X-Repo-Commit": COMMIT, "ETag": f'"{hub.sha256}"', "X-Linked-Etag": f'"{hub.sha256}"',
                    "X-Linked-Size": str(len(hub.content)), "Content-Length": str(length), "Accept-Ranges": "bytes",
                    "Content-Type": "application/octet-stream", **(extra or {}),
                }.items():  # fmt: skip
                    self.send_header(name, value)
                self.end_headers()

            def _missing(self) -> None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.send_header("X-Error-Code", "EntryNotFound")
                self.end_headers()

            def do_HEAD(self) -> None:
                self._note()
                if not resolve.match(self.path):
                    return self._missing()
                self._file_headers(200, len(hub.content))

            def do_GET(self) -> None:
                self._note()
                if not resolve.match(self.path):
                    return self._missing()
                if hub.broken:
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if match := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "")):
                    start = int(match.group(1))
                body = hub.content[start:]
                if start:
                    self._file_headers(
                        206, len(body), {"Content-Range": f"bytes {start}-{len(hub.content) - 1}/{len(hub.content)}"}
                    )
                else:
                    self._file_headers(200, len(body))
                if hub.cut_after is not None:
                    self.wfile.write(body[: hub.cut_after])
                    self.wfile.flush()
                    hub.broken = True
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def do_POST(self) -> None:
                self._note()
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                if not paths_info.match(self.path):
                    return self._missing()
                info = [{
                    "type": "file", "path": hub.filename, "size": len(hub.content), "oid": "f" * 40,
                    "lfs": {"oid": hub.sha256, "size": len(hub.content), "pointerSize": 134},
                }]  # fmt: skip
                body = json.dumps(info).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

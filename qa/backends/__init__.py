"""Backends: who answers a request, and how it is asked (layer 4).

- `backend`: `Backend` (one profile, its clients, recordings and token counter) and
  `open_backend`; the profiles (OpenAI, vLLM, Ollama, llama.cpp server, embedded) by name;
- `negotiate`: which structured-output mode a server accepts, learned once per server;
- `driver`: runs a task's `Steps` against a backend (sync and async), the I/O edge where
  SDK exceptions become `QAError`s;
- `embedded/`: the in-process llama.cpp model behind an OpenAI-shaped transport, and the
  registry of models it can assemble and hash-check.

May import: the base modules (`qa.errors`, `qa.settings`, `qa.schemas`), `qa.core`,
`qa.text`, `qa.recording`. Never `qa.tasks`, `qa.api` or anything above.
"""

from qa.backends.backend import Backend, open_backend

__all__ = ["Backend", "open_backend"]

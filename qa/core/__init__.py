"""The structured call, pure: no I/O, no SDK, no backend (layer 1).

- `structured`: `Steps` (a generator that yields `ChatRequest`s and is sent `Completion`s),
  `structured_call` with its re-asks, resends and truncation handling, and `Target`, what
  the steps need of a backend;
- `constraints`: the response schema of a pydantic model (strict `json_schema`) and the
  output budget it needs;
- `prompts`: the TOML templates (package data), rendered with Jinja;
- `tokens`: token counting and pricing; `streaming`: the answer text out of a JSON stream.

May import: the base modules (`qa.errors`, `qa.settings`, `qa.schemas`) only.
"""

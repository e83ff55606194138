"""A synthetic corpus of short news articles, and a responder that answers any of them validly.

    paths = write_articles(tmp_path / "articles", 200)
    with FaultServer(article_responder, fault_rate=0, latency=0.2) as server:
        qa.run(tmp_path / "articles", tmp_path / "out.jsonl", backend="server", base_url=server.base_url)

`article_responder` is a `FaultServer` responder (and `FakeBatchServer`'s): it reads the
article's numbered sentences between its marker lines in the request, and answers a
summary request with a valid draft (one point per key sentence named in the prompt, each
the first words of its sentence), and an answer request with the number of the sentence
sharing most words with the question and that sentence's first words. Replies depend only on the request, so a run gives the same results every time
and on every engine: what bulk-run tests and benchmarks need, with no recordings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["article_responder", "synthetic_article", "write_articles"]

_TOWNS = ("Northbridge", "Eastford", "Millbrook", "Harwick", "Stonemere", "Ashdale", "Kelton", "Ravensby")
_BODIES = ("council", "school board", "port authority", "water utility", "transit agency", "library trust")
_THINGS = ("budget", "bridge repair", "bus network", "flood barrier", "reading programme", "solar farm")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_BLOCK = re.compile(r"<<<ARTICLE (\w+)>>>\n(.*?)\n<<<END ARTICLE \1>>>", re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_LINE = re.compile(r"^\[(\d+)\] (.*)$", re.MULTILINE)
_KEYS = re.compile(r"\[(\d+)\]")


def synthetic_article(n: int) -> tuple[str, str]:
    """(title, body) of article `n`: four short paragraphs, one sentence each, all distinct."""
    town, body, thing = _TOWNS[n % len(_TOWNS)], _BODIES[n % len(_BODIES)], _THINGS[n % len(_THINGS)]
    day, amount, votes = _DAYS[n % len(_DAYS)], 3 + n % 40, 5 + n % 7
    title = f"{town} {body} backs {thing} plan number {n}"
    paragraphs = [
        f"The {town} {body} approved plan number {n} for a new {thing} on {day}.",
        f"The plan will cost {amount} million dollars over four years, officials said.",
        f"Members voted {votes} to 2 in favour after a long public meeting.",
        f"Work on the {thing} is expected to start next spring in {town}.",
    ]
    return title, "\n\n".join(paragraphs)


def write_articles(folder: str | Path, count: int, *, start: int = 0) -> list[Path]:
    """Write `count` articles as `article-NNNN.txt` (title line, blank line, body) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(start, start + count):
        title, body = synthetic_article(n)
        path = folder / f"article-{n:04d}.txt"
        path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
        paths.append(path)
    return paths


def _numbered(body: dict[str, Any]) -> dict[int, str] | None:
    """The article's numbered sentences (`[n] text` lines of its marker block), or None."""
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        found = _BLOCK.search(content) if isinstance(content, str) else None
        if found:
            return {int(m.group(1)): m.group(2) for m in _LINE.finditer(found.group(2))}
    return None


def _question(body: dict[str, Any]) -> str:
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and "Question:" in content:
            return content.rsplit("Question:", 1)[1].strip()
    return ""


def _prompt_name(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    return str((fmt.get("json_schema") or {}).get("name") or "")


def _words(text: str, n: int) -> str:
    return " ".join(text.rstrip(".").split()[:n])


def article_responder(body: dict[str, Any]) -> dict[str, Any]:
    """A valid summary draft or evidence-first answer for the article in `body` (see the module docstring)."""
    sentences = _numbered(body)
    if not sentences:
        return {"content": json.dumps({"error": "no article in the request"}), "finish_reason": "stop"}
    if _prompt_name(body) == "summarize":
        keys = [
            int(n)
            for n in _KEYS.findall(json.dumps(body.get("messages")).split("Key sentences:", 1)[-1].split("\\n")[0])
        ]
        keys = [n for n in keys if n in sentences] or sorted(sentences)[:3]
        first = sentences[keys[0]]
        reply: dict[str, Any] = {
            "key_points": [{"sentence": n, "point": _words(sentences[n], 12)} for n in keys],
            "summary": _words(first, 14), "headline": _words(first, 8),
        }  # fmt: skip
    else:
        asked = set(_WORD.findall(_question(body).lower()))
        best = max(sorted(sentences), key=lambda n: len(asked & set(_WORD.findall(sentences[n].lower()))))
        reply = {"sentence": best, "answer": _words(sentences[best], 6)}
    return {"content": json.dumps(reply), "finish_reason": "stop"}

"""A synthetic corpus of short news articles, and a responder that answers any of them validly.

    paths = write_articles(tmp_path / "articles", 200)
    with FaultServer(article_responder, fault_rate=0, latency=0.2) as server:
        qa.run(tmp_path / "articles", tmp_path / "out.jsonl", backend="server", base_url=server.base_url)

`article_responder` is a `FaultServer` responder (and `FakeBatchServer`'s): it finds the
article between its marker lines in the request, and answers a summary request with a
schema-valid `Summary` whose key points quote the article's first body sentences, and an
answer request with an `Answer` that quotes the sentence sharing most words with the
question. Replies depend only on the request, so a run gives the same results every time
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


def _article_text(body: dict[str, Any]) -> str | None:
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        found = _BLOCK.search(content) if isinstance(content, str) else None
        if found:
            return found.group(2)
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


def article_responder(body: dict[str, Any]) -> dict[str, Any]:
    """A valid Summary or Answer for the article in `body` (see the module docstring)."""
    from qa.article import parse_article

    text = _article_text(body)
    if text is None:
        return {"content": json.dumps({"error": "no article in the request"}), "finish_reason": "stop"}
    sentences = [s.text for s in parse_article(text).sentences(("body",))]
    if _prompt_name(body) in ("summarize", "combine") or "Summarize" in json.dumps(body.get("messages")):
        reply: dict[str, Any] = {
            "headline": sentences[0][:100], "summary": sentences[0][:250],
            "key_points": [{"point": s[:180], "quote": s} for s in sentences[:3]], "entities": [], "figures": [],
        }  # fmt: skip
    else:
        asked = set(_WORD.findall(_question(body).lower()))
        best = max(sentences, key=lambda s: len(asked & set(_WORD.findall(s.lower()))))
        reply = {"answer": best, "status": "answered", "citations": [{"quote": best, "start": None, "end": None}]}
    return {"content": json.dumps(reply), "finish_reason": "stop"}

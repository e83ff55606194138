"""The text of a streamed answer, pulled out of the model's raw JSON as it is generated.

`qa.ask(article, question, on_text=callback)` hands `callback` the model's raw output:
deltas of a JSON object such as `{"answer": "Gustavo Pe` ... `tro", "status": ...}`. To
show the answer while it is written, feed every delta to an `AnswerTextStream`; it returns
the newly available characters of the "answer" field (escapes decoded), and "" while there
is nothing new:

    stream = AnswerTextStream()
    qa.ask(article, question, on_text=lambda delta: print(stream.feed(delta), end="", flush=True))

Partial JSON is parsed with `jiter` (a dependency of the openai SDK) in
`partial_mode="trailing-strings"`, so an unfinished string counts up to its last complete
character. When the model is asked again (a re-ask after invalid output), a second JSON
object follows the first in the same callback: `attempt` then goes up and the text starts
over, so a caller can tell the user the answer is being rewritten.
"""

from __future__ import annotations

import jiter

__all__ = ["AnswerTextStream"]


class AnswerTextStream:
    """Turns raw JSON deltas into the new text of one string field (default "answer")."""

    def __init__(self, field: str = "answer") -> None:
        """Follow the top-level string field `field` of the streamed JSON object."""
        self.field = field
        self.attempt = 1
        """Which JSON object (model attempt) the text belongs to, from 1."""
        self._buffer = ""
        self._text = ""
        self._complete = False

    @property
    def text(self) -> str:
        """The field's text so far, in the current attempt."""
        return self._text

    @property
    def complete(self) -> bool:
        """True once the current attempt's JSON object is closed."""
        return self._complete

    def feed(self, delta: str) -> str:
        """Take the next raw delta; return the field's characters that became available.

        An empty delta means a new attempt starts (the driver sends one before every streamed
        request): whatever came before, finished or cut off, is left behind.
        """
        if not delta:
            if self._buffer:
                self._restart()
            return ""
        if self._complete:
            # Text after a closed object is either trailing noise (a code fence, whitespace)
            # or the start of the next attempt's object.
            brace = delta.find("{")
            if brace < 0:
                return ""
            self._restart()
            delta = delta[brace:]
        self._buffer += delta
        start = self._buffer.find("{")
        if start < 0:  # nothing of the object yet (e.g. a ```json fence)
            return ""
        data = self._buffer[start:].encode("utf-8")
        try:
            value = jiter.from_json(data, partial_mode="trailing-strings")
        except ValueError:
            return ""  # not parseable yet (or not JSON at all): wait for more
        self._complete = self._closed(data)
        current = value.get(self.field) if isinstance(value, dict) else None
        if not isinstance(current, str) or not current.startswith(self._text):
            return ""
        new = current[len(self._text) :]
        self._text = current
        return new

    def _closed(self, data: bytes) -> bool:
        data = data.rstrip().rstrip(b"`").rstrip()  # a closing code fence may follow the object
        if not data.endswith(b"}"):
            return False
        try:
            jiter.from_json(data)
        except ValueError:
            return False
        return True

    def _restart(self) -> None:
        self.attempt += 1
        self._buffer = ""
        self._text = ""
        self._complete = False

"""Token log-probabilities for the embedded model, in the OpenAI `logprobs` shape.

llama-cpp-python returns logprobs only from a model loaded with `logits_all=True`, which
keeps a row of logits for every prompt token (for a 150k-token vocabulary and an 8k
context, gigabytes). `LogprobRecorder` gets the same numbers without it: it is a
llama.cpp logits processor, so it sees the logits of every generated position as they
are computed, before penalties and grammar. For each position it keeps the top `k`
log-probabilities (a log-softmax of the model's own logits) and, when the next position
shows which token was chosen, that token's own log-probability.

The log-probabilities are the model's, not the grammar's: a token the grammar forbids
keeps its mass. Callers that compare alternatives (the digits of a sentence number, say)
renormalise over the alternatives they care about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LogprobRecorder"]


@dataclass
class _Step:
    top: list[tuple[int, float]]
    chosen: int | None = None
    chosen_logprob: float | None = None


@dataclass
class LogprobRecorder:
    """A logits processor that records top-`k` log-probabilities per generated token."""

    llama: Any
    k: int
    prompt_tokens: int
    steps: list[_Step] = field(default_factory=list)
    _last: Any = None  # the previous position's log-softmax, to look up the token chosen there

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np

        generated = len(input_ids) - self.prompt_tokens  # tokens already chosen in this completion
        if self.steps and self._last is not None and generated >= len(self.steps):
            token = int(input_ids[self.prompt_tokens + len(self.steps) - 1])
            step = self.steps[-1]
            step.chosen, step.chosen_logprob = token, float(self._last[token])
        logits = np.asarray(scores, dtype=np.float64)
        shifted = logits - logits.max()
        logsoftmax = shifted - math.log(float(np.exp(shifted).sum()))
        k = max(1, self.k)
        top = np.argpartition(-logsoftmax, k)[:k] if k < len(logsoftmax) else np.arange(len(logsoftmax))
        order = top[np.argsort(-logsoftmax[top])]
        self.steps.append(_Step(top=[(int(i), float(logsoftmax[i])) for i in order]))
        self._last = logsoftmax
        return scores

    def _text(self, token: int) -> str:
        return bytes(self.llama.detokenize([token])).decode("utf-8", errors="replace")

    def content(self, text: str, top_n: int) -> list[dict[str, Any]]:
        """The OpenAI `logprobs.content` list for a completion whose text is `text`.

        Positions whose token is known are listed in order while their text matches
        `text`; the last position (usually the end-of-text token) is resolved from the
        text left over, and dropped when nothing is left.
        """
        entries: list[dict[str, Any]] = []
        seen = ""
        for index, step in enumerate(self.steps):
            token, logprob = step.chosen, step.chosen_logprob
            if token is None:  # the last position: what text is left is its token
                rest = text[len(seen) :]
                if not rest or self._last is None or index != len(self.steps) - 1:
                    break
                ids = self.llama.tokenize(rest.encode("utf-8"), add_bos=False, special=False)
                if len(ids) != 1:
                    break
                token, logprob = ids[0], float(self._last[ids[0]])
            piece = self._text(token)
            if not text.startswith(seen + piece):
                break
            seen += piece
            top = [
                {"token": self._text(i), "logprob": lp, "bytes": list(self._text(i).encode())}
                for i, lp in step.top[:top_n]
            ]
            entries.append({"token": piece, "logprob": logprob, "bytes": list(piece.encode()), "top_logprobs": top})
        return entries

"""The Batch API's files: request lines in, reply lines out, and replies into the steps.

`batch_line` writes one input line; `read_batch_file` reads an output or error file by
`custom_id`; `reply_outcome` turns a line into the reply body or the `BatchAPIError` of a
request that got none; `completion_from_body` makes the `Completion` the steps expect,
as `qa.backends.driver` makes one from a response; `continued` lets `qa.backends.driver.run` take over steps
that already yielded a request (to make a re-ask online); `throw_into` ends steps with an
error, keeping the usage they carry.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from qa.bulk.estimate import BATCH_PRICE_FACTOR
from qa.core.structured import ChatRequest, Completion, Steps
from qa.errors import BatchAPIError, BrokenReplyError

if TYPE_CHECKING:
    from qa.backends.backend import Backend

__all__ = [
    "ENDPOINT",
    "batch_discount",
    "batch_line",
    "batch_problem",
    "completion_from_body",
    "continued",
    "parse_batch_file",
    "reply_outcome",
    "throw_for_request",
    "throw_into",
]

ENDPOINT: Final = "/v1/chat/completions"  # Final: its Literal type is what batches.create takes


def batch_line(key: str, request: ChatRequest) -> bytes:
    """One line of a batch input file for `request`."""
    line = {"custom_id": key, "method": "POST", "url": ENDPOINT, "body": request.body}
    return (json.dumps(line, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


def completion_from_body(body: Any, request: ChatRequest, backend: Backend) -> Completion:
    """A `Completion` from a chat completion body, as `qa.backends.driver` makes one from a response.

    Raises `BrokenReplyError` when the body is not a chat completion (the steps send such a
    request once more, online).
    """
    from qa.core.tokens import message_tokens

    try:
        choice = body["choices"][0]
        message = choice.get("message") or {}
        content, refusal = message.get("content"), message.get("refusal")
        usage = body.get("usage") or {}
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise BrokenReplyError(f"the batch reply is not a chat completion: {str(body)[:200]}") from exc
    prompt, generated = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(generated, int):  # count it rather than report zero
        prompt = message_tokens(request.body["messages"], backend.count_tokens)
        generated = backend.count_tokens(content or "")
    return Completion(
        content=content, refusal=refusal, finish_reason=choice.get("finish_reason"),
        prompt_tokens=prompt, completion_tokens=generated,
    )  # fmt: skip


def continued(steps: Steps[Any], pending: ChatRequest) -> Steps[Any]:
    """`steps`, resumed at `pending`, the request they already yielded: for `qa.backends.driver.run`."""
    request = pending
    while True:
        try:
            completion = yield request
        except GeneratorExit:
            steps.close()
            raise
        except Exception as exc:  # noqa: BLE001 - the driver throws call errors in: pass them on
            try:
                request = steps.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                request = steps.send(completion)
            except StopIteration as stop:
                return stop.value


def parse_batch_file(data: bytes) -> dict[str, dict[str, Any]]:
    """custom_id -> line of a batch output or error file."""
    rows = {}
    for raw in data.decode("utf-8").splitlines():
        if raw.strip():
            row = json.loads(raw)
            rows[row.get("custom_id")] = row
    return rows


def batch_problem(batch: Any) -> BatchAPIError:
    """The error of an item the batch never answered."""
    if batch.status == "failed":
        errors = getattr(batch.errors, "data", None) or []
        said = "; ".join(f"{e.code}: {e.message}" + (f" (line {e.line})" if e.line else "") for e in errors[:3])
        return BatchAPIError(f"batch {batch.id} failed: {said or 'no reason given'}", code="batch_failed")
    if batch.status == "expired":
        return BatchAPIError(f"batch {batch.id} expired before this request ran", code="batch_expired")
    if batch.status == "cancelled":
        return BatchAPIError(f"batch {batch.id} was cancelled before this request ran", code="batch_cancelled")
    return BatchAPIError(f"batch {batch.id} {batch.status} without a reply for this request", code="no_reply")


def reply_outcome(row: dict[str, Any] | None, missing: BatchAPIError) -> Any:
    """The reply body of an output line, or the error of an error line (or of a missing one)."""
    if row is None:
        return missing
    response, error = row.get("response") or {}, row.get("error")
    if error:
        code = error.get("code")
        return BatchAPIError(f"the Batch API did not run this request: {code}: {error.get('message')}", code=code)
    status = response.get("status_code")
    if status != 200:
        detail = ((response.get("body") or {}).get("error") or {}).get("message") or "no detail"
        return BatchAPIError(f"the Batch API answered this request with status {status}: {detail}", code=str(status))
    return response.get("body")


def throw_into(steps: Steps[Any], exc: BaseException) -> Any:
    """Throw `exc` into `steps`; the error they end with (or their result, if they recover)."""
    try:
        steps.throw(exc)
    except StopIteration as stop:
        return stop.value
    except Exception as raised:  # noqa: BLE001 - the steps' own error, usage attached
        return raised
    steps.close()
    return exc


def throw_for_request(steps: Steps[Any], exc: BaseException) -> ChatRequest | BaseException:
    """Throw `exc` into `steps`: the request they make next, or the error they end with."""
    try:
        return steps.throw(exc)
    except StopIteration as stop:  # pragma: no cover - steps do not end on a thrown error
        return RuntimeError(f"steps ended on {exc!r} with {stop.value!r}")
    except Exception as raised:  # noqa: BLE001
        return raised


def batch_discount(backend: Backend, completion: Completion) -> float:
    """Dollars the Batch API's price saves on `completion` against the online price (0.0 if unknown)."""
    from qa.core.tokens import estimate_cost

    cost = estimate_cost(
        backend.model, completion.prompt_tokens, completion.completion_tokens, local=backend.profile.local
    )
    return 0.0 if cost is None else cost * (1 - BATCH_PRICE_FACTOR)

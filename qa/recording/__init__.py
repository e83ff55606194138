"""Recorded model responses: record once against a server, replay anywhere without one.

Plug in through the SDK's `http_client=` (no monkeypatching):

    store = RecordingStore("tests/recordings/answer")
    transport = RecordingTransport(httpx2.HTTPTransport(), store, "auto", secrets=[api_key])
    client = openai.OpenAI(base_url=..., api_key=api_key, http_client=httpx2.Client(transport=transport))

Modules: `entry` (file format and key), `store` (one folder of recordings), `transport`
(the sync and async transports), `streams` (SSE capture and replay), `diff` (miss
messages), `leaks` (refusing secrets), `catalog` (listing and pruning for `qa recordings`),
`operation` (writing an operation's replies only when it ends with a result).
This module reads no environment variables: the caller passes mode and folder in.

Layer 1. May import: the base modules (`qa.errors`, `qa.settings`, `qa.schemas`) only.
"""

from __future__ import annotations

from qa.recording.catalog import RecordingInfo, list_recordings, prune_unused, recorded_origins
from qa.recording.diff import DEFAULT_RERECORD_HINT
from qa.recording.entry import (
    ALLOWED_RESPONSE_HEADERS,
    VOLATILE_FIELDS,
    RecordingEntry,
    recording_key,
)
from qa.recording.operation import RecordedOperation, recorded_operation, take_unrecorded
from qa.recording.store import USAGE_LOG_NAME, RecordingStore, check_replay_folder, ensure_writable, read_usage_log
from qa.recording.transport import AsyncRecordingTransport, RecordingTransport, RecordMode

__all__ = [
    "ALLOWED_RESPONSE_HEADERS",
    "DEFAULT_RERECORD_HINT",
    "USAGE_LOG_NAME",
    "VOLATILE_FIELDS",
    "AsyncRecordingTransport",
    "RecordMode",
    "RecordedOperation",
    "RecordingEntry",
    "RecordingInfo",
    "RecordingStore",
    "RecordingTransport",
    "check_replay_folder",
    "ensure_writable",
    "list_recordings",
    "prune_unused",
    "read_usage_log",
    "recorded_operation",
    "recorded_origins",
    "recording_key",
    "take_unrecorded",
]

"""Test helpers for `qa` and for code that calls it: a fault-injecting chat server.

Names are loaded on first use, so `python -m qa.testing.fault_server` does not import
its own module twice.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.testing.fault_server import ALL_FAULTS, FaultServer, FaultStats, Responder, echo_responder

__all__ = ["ALL_FAULTS", "FaultServer", "FaultStats", "Responder", "echo_responder"]


def __getattr__(name: str) -> Any:
    """Load the public names from `qa.testing.fault_server` when first asked for."""
    if name in __all__:
        return getattr(importlib.import_module("qa.testing.fault_server"), name)
    raise AttributeError(f"module 'qa.testing' has no attribute {name!r}")

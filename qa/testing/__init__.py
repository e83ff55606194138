"""Test helpers for `qa` and for code that calls it: a fault-injecting chat server, a fake of
the OpenAI Files and Batches endpoints, and a synthetic corpus with a responder for it.

Names are loaded on first use, so `python -m qa.testing.fault_server` does not import
its own module twice.

Layer 2. May import: the base modules and `qa.recording`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa._lazy import lazy_getattr

# `name as name`: an explicit re-export for type checkers, which cannot read the computed __all__.
if TYPE_CHECKING:
    from qa.testing.batch_server import BatchStats as BatchStats
    from qa.testing.batch_server import FakeBatchServer as FakeBatchServer
    from qa.testing.fault_server import ALL_FAULTS as ALL_FAULTS
    from qa.testing.fault_server import FaultServer as FaultServer
    from qa.testing.fault_server import FaultStats as FaultStats
    from qa.testing.fault_server import Responder as Responder
    from qa.testing.fault_server import echo_responder as echo_responder
    from qa.testing.synthetic import article_responder as article_responder
    from qa.testing.synthetic import synthetic_article as synthetic_article
    from qa.testing.synthetic import write_articles as write_articles

_EXPORTS: dict[str, str] = {
    "ALL_FAULTS": "qa.testing.fault_server",
    "BatchStats": "qa.testing.batch_server",
    "FakeBatchServer": "qa.testing.batch_server",
    "FaultServer": "qa.testing.fault_server",
    "FaultStats": "qa.testing.fault_server",
    "Responder": "qa.testing.fault_server",
    "article_responder": "qa.testing.synthetic",
    "echo_responder": "qa.testing.fault_server",
    "synthetic_article": "qa.testing.synthetic",
    "write_articles": "qa.testing.synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr("qa.testing", _EXPORTS, globals())

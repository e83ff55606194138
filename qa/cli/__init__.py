"""The `qa` command line (`qa = "qa.cli:main"`). Commands live in `qa.cli.app`.

Layer 8, the top: may import everything; nothing imports it.
"""

from __future__ import annotations

from qa.cli.app import main

__all__ = ["main"]

"""The `qa` command line (`qa = "qa.cli:main"`). Commands live in `qa.cli.app`."""

from __future__ import annotations

from qa.cli.app import main

__all__ = ["main"]

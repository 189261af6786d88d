"""`briefgen log` and `briefgen cache info|clear`: the state database from the command line."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the state commands to `app`."""

"""What the validators check an answer against while a question is being asked.

`Extractor.ask` sets it for the task asking (each asyncio task has its own), so instructor
is given no Jinja context: it then sends the messages exactly as written, and no text of an
article or a model is ever rendered as a template. A validation given its own context
(`model_validate(..., context=...)`) uses that instead.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

asking: ContextVar[dict[str, Any] | None] = ContextVar("asking", default=None)


def current(given: Any) -> dict[str, Any]:
    """The validation context: the one given, else the question's being asked, else none."""
    if isinstance(given, dict):
        return given
    return asking.get() or {}

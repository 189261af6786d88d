"""A content-addressed store of verified article briefs, so a rerun never pays twice.

The key is a hash of the model and the exact prompts sent (which contain the article), so
a changed article, template or model is a miss. Entries hold only what the model answered,
never a key or header. Writes are atomic: a crash leaves the old entry or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "1"


def default_dir() -> Path:
    """`$BRIEFGEN_DIR/cache`, else the user's cache folder."""
    root = os.environ.get("BRIEFGEN_DIR")
    if root:
        return Path(root) / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "briefgen"


class Cache:
    """JSON files named by the hash of what was asked."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()

    def key(self, model: str, *prompts: str) -> str:
        digest = hashlib.sha256(f"{SCHEMA_VERSION}\0{model}".encode())
        for prompt in prompts:
            digest.update(b"\0" + prompt.encode())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing or unreadable: ask again rather than fail
        return data if isinstance(data, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(value, handle, ensure_ascii=False, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

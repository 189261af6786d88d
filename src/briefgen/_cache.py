"""A content-addressed store of verified article briefs, so a rerun never pays twice.

The key is a hash of the model and the exact prompts sent (which contain the article), so
a changed article, template or model is a miss. Entries hold only what the model answered,
never a key or header. Writes are atomic: a crash leaves the old entry or none.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from briefgen._disk import check_writable, write_whole
from briefgen._errors import InputError

SCHEMA_VERSION = "1"


class CacheEntryError(ValueError):
    """A cache entry exists but cannot be used: unreadable, not JSON, or the wrong shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def check(self) -> None:
        """InputError, before anything is paid for, if the cache folder cannot be written."""
        try:
            check_writable(self.directory)
        except OSError as err:
            raise InputError(
                f"cache folder {self.directory} cannot be written ({err.strerror or err}); "
                "set BRIEFGEN_DIR to a writable folder or pass --no-cache."
            ) from err

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under `key`, None if there is none; CacheEntryError if it is
        damaged (the next `put` replaces it)."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise CacheEntryError(f"unreadable: {type(err).__name__}") from err
        try:
            data = json.loads(text)
        except ValueError as err:
            raise CacheEntryError("not valid JSON") from err
        if not isinstance(data, dict):
            raise CacheEntryError("not a JSON object")
        return data

    def put(self, key: str, value: dict[str, Any]) -> None:
        write_whole(self.path(key), json.dumps(value, ensure_ascii=False, sort_keys=True))

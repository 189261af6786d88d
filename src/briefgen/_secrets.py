"""Removing keys from URLs and text before they reach a cassette, an error or a log.

Pure functions over strings: they know what keys look like, not where they come from.
A caller that knows the run's own key passes it, so it is removed even when it looks
like nothing in particular.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

REDACTED = "REDACTED"

# Query (or fragment) parameters whose value is a credential; matched case-insensitively.
KEY_PARAMS = frozenset(
    {
        "api-key",
        "api_key",
        "apikey",
        "x-api-key",
        "key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "sig",
        "signature",
        "code",
        "password",
        "secret",
    }
)
_NAMES = "|".join(re.escape(n) for n in sorted(KEY_PARAMS, key=len, reverse=True))
# Only right after `?`, `&` or `#`: `monkey=` or a `key=value` in prose is left alone. The
# value stops before a sentence's closing punctuation, which keys do not end with.
_PARAM = re.compile(rf"(?i)(?<=[?&#])((?:{_NAMES})=)[^&#\s\"'<>`]*[^&#\s\"'<>`.,;:!?)]")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/?#\s@\"'<>`]+@")
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")
# A bearer token has a digit or is long: "Bearer bonds" is prose, not a credential.
_TOKEN = r"(?:(?=[\w.~+/=-]*\d)[\w.~+/=-]{8,}|[\w.~+/=-]{20,})"
_BEARER = re.compile(rf"(?i)\b(bearer)\s+{_TOKEN}")
_MIN_SECRET = 4  # shorter "secrets" would blank out ordinary words


def redact_url(url: str) -> str:
    """`url` without user info and without the values of parameters that carry keys."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL urllib can split (e.g. a broken IPv6 host): treat as text
        return redact(url)
    netloc = parts.netloc.rpartition("@")[2]
    query, fragment = _redact_params(parts.query), _redact_params(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url  # untouched, byte for byte: urlunsplit would normalise a bare `?`
    return urlunsplit(parts._replace(netloc=netloc, query=query, fragment=fragment))


def _redact_params(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and unquote_plus(name).lower() in KEY_PARAMS:
            pair = f"{name}={REDACTED}"
        pairs.append(pair)
    return "&".join(pairs)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets`, and anything that looks like a key, replaced."""
    for secret in _variants(secrets):
        text = text.replace(secret, REDACTED)
    text = _OPENAI_KEY.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1 {REDACTED}", text)
    text = _USERINFO.sub(rf"\1{REDACTED}@", text)
    return _PARAM.sub(rf"\1{REDACTED}", text)


def _variants(secrets: Iterable[str]) -> list[str]:
    """The secrets as given and as they appear inside a URL, longest first."""
    found = {s for s in secrets if len(s) >= _MIN_SECRET}
    found |= {quote(s, safe="") for s in found}
    return sorted(found, key=len, reverse=True)

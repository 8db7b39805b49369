"""Opaque page tokens: the cursor of the last item served, base64-wrapped.

Callers must treat tokens as opaque; wrapping the cursor keeps it so and lets a
malformed token be told apart from a valid one.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from gateway.errors import InvalidArgument


def encode(kind: str, cursor: Any) -> str:
    raw = json.dumps({"k": kind, "c": cursor}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, token: str, default: Any) -> Any:
    """The cursor in token, or default for an empty token (the first page)."""
    if not token:
        return default
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if payload["k"] == kind and isinstance(payload["c"], type(default)):
            return payload["c"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise InvalidArgument(
        "page_token is not one this call issued: pass next_page_token from the previous "
        "response unchanged, or empty for the first page"
    )

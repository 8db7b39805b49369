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
    """An opaque page token for a cursor of a listing of this kind."""
    raw = json.dumps({"k": kind, "c": cursor}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MALFORMED = (
    "malformed page_token: it is not one this call returned; pass next_page_token from "
    "the previous response unchanged, or empty for the first page"
)
"""The refusal of a token no call made, or one made by another listing."""

MAX_TOKEN = 1024
"""Longer than any token this module issues: refused before it is decoded."""


def decode(kind: str, token: str, default: Any) -> Any:
    """The cursor in token, or default for an empty token (the first page).

    A token is hostile input: too long, nested beyond reason, or holding a
    non-finite number, it is refused as malformed, like any other it did not issue.
    """
    if not token:
        return default
    payload = _payload(token)
    if isinstance(payload, dict) and payload.get("k") == kind:
        cursor = payload.get("c")
        if isinstance(cursor, type(default)):
            return cursor
    raise InvalidArgument(MALFORMED)


class _NotACursor(Exception):
    """JSON this module never writes (NaN, Infinity)."""


def _payload(token: str) -> Any:
    """The JSON a token wraps, or None when it is not base64 of JSON."""
    if len(token) > MAX_TOKEN or not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except binascii.Error:
        return None
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, _NotACursor):
        return None


def _refuse_constant(name: str) -> Any:
    raise _NotACursor(f"{name} is not a cursor")

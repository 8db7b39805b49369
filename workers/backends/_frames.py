"""Length-prefixed JSON frames between a worker and its python model processes.

JSON, never pickle, in both directions: the worker reads what a model process
sends, and unpickling lets the sender run code in the reader (the worker holds
the Redis credentials; model code must not get them that way).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

_HEADER = struct.Struct("!I")
MAX_FRAME_BYTES = 1 << 30
"""A larger frame is refused: a reply is one batch's outputs, not gigabytes."""


class FrameError(Exception):
    """The peer sent something that is not a frame of JSON within MAX_FRAME_BYTES."""


def encode(message: dict[str, Any]) -> bytes:
    """A frame: a 4-byte big-endian length, then strict JSON (no NaN or Infinity)."""
    return frame(encode_body(message))


def encode_body(message: dict[str, Any]) -> bytes:
    """A message as a frame's body: strict JSON (no NaN or Infinity); ValueError else."""
    body = json.dumps(message, allow_nan=False, separators=(",", ":")).encode()
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {len(body)} bytes is above {MAX_FRAME_BYTES}")
    return body


def frame(body: bytes) -> bytes:
    """The frame of an already encoded body (several bodies joined into one message)."""
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {len(body)} bytes is above {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


def decode(body: bytes) -> Any:
    """The JSON value of a frame's body; FrameError for anything else, NaN included."""
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FrameError(f"not a JSON frame: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} has no JSON spelling")


async def read(reader: asyncio.StreamReader) -> Any:
    """The next frame's JSON value; asyncio.IncompleteReadError at end of stream."""
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {size} bytes is above {MAX_FRAME_BYTES}")
    return decode(await reader.readexactly(size))


def read_blocking(sock: socket.socket) -> Any | None:
    """The next frame's JSON value; None at end of stream."""
    header = _receive(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise FrameError(f"a frame of {size} bytes is above {MAX_FRAME_BYTES}")
    body = _receive(sock, size)
    if body is None:
        return None
    return decode(body)


def _receive(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)

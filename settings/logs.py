"""Structured logs: one JSON object a line, each carrying the call's request id."""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import sys
import time
import uuid

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Ids for calls whose caller sent none: a random prefix per process and a counter,
# unique across processes and restarts, at a tenth of uuid4's cost per call.
_ID_PREFIX = uuid.uuid4().hex[:16]
_id_count = itertools.count(1)


def new_request_id() -> str:
    """A new request id (32 hex digits, as uuid4().hex)."""
    return f"{_ID_PREFIX}{next(_id_count):016x}"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": request_id.get(),
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, service: str) -> None:
    """Sends JSON logs to stderr; called once per process at start."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("modelgw").info("starting", extra={"fields": {"service": service}})

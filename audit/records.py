"""Audit records: one JSON object each, from a job's audit stream entry or an
outbox row, and how they are grouped into objects (by date and hour)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

_JOB_NUMBERS = ("attempts", "input_bytes")
_JOB_SECONDS = ("exec_seconds", "wait_seconds")


def job_record(model: str, entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """A job status transition, from its entry in the model's audit stream."""
    at = float(fields["time"])
    record: dict[str, Any] = {
        "type": "job",
        "id": f"{model}/{entry_id}",  # unique: consumers drop duplicates by it
        "time": _iso(at),
        "job": fields.get("job", ""),
        "model": fields.get("model", model),
        "version": fields.get("version", ""),
        "user": fields.get("user", ""),
        "status": fields.get("status", ""),
    }
    if fields.get("parent"):
        record["parent"] = fields["parent"]
    if "input" in fields:
        record["input"] = json.loads(fields["input"]) if fields["input"] else None
    if "input_sha256" in fields:
        record["input_sha256"] = fields["input_sha256"]
    for name in _JOB_NUMBERS:
        if fields.get(name):
            record[name] = int(fields[name])
    for name in _JOB_SECONDS:
        if fields.get(name):
            record[name] = float(fields[name])
    # route: why the job runs its version (pinned, default, rollout), and which
    # rollout chose it; on the QUEUED record, where the choice was made.
    for name in ("route", "rollout", "error_reason", "error_message", "worker"):
        if fields.get(name):
            record[name] = fields[name]
    return record


def partition(record: dict[str, Any]) -> str:
    """The record's object key prefix: dt=YYYY-MM-DD/hour=HH (UTC)."""
    at = dt.datetime.fromisoformat(record["time"]).astimezone(dt.UTC)
    return f"dt={at:%Y-%m-%d}/hour={at:%H}"


def encode(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode() + b"\n"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()

"""The job side of the audit log: every model's audit stream, read through the
consumer group keys.AUDIT_GROUP.

The transition scripts (scheduler.scripts) append an entry to the model's
audit stream atomically with each change of a job. Entries stay pending in
the group until `ack`, which the shipper calls only once their records are
spooled to disk; a shipper that restarts reads its own pending entries
first, and entries a vanished shipper left pending are claimed after
CLAIM_IDLE_MS. Acknowledged entries are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from scheduler import keys
from scheduler.connection import Client

CLAIM_IDLE_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class AuditEntry:
    """One entry of a model's audit stream: a job's transition, as its fields."""

    model: str
    entry_id: str
    fields: dict[str, str]


class AuditStreams:
    """One shipper's reader of every model's audit stream, as consumer `consumer`."""

    def __init__(self, client: Client, consumer: str, *, batch: int = 1000) -> None:
        self._client = client
        self._consumer = consumer
        self._batch = batch
        self._joined: set[str] = set()  # models whose group this shipper has joined

    async def read(self) -> list[AuditEntry]:
        """New (and, on joining, leftover) entries of every model, without blocking."""
        models = sorted(str(m) for m in await self._client.smembers(keys.KNOWN_MODELS))
        out: list[AuditEntry] = []
        for model in models:
            out += await self._read_model(model)
        return out

    async def _read_model(self, model: str) -> list[AuditEntry]:
        stream = keys.audit(model)
        entries: list[tuple[str, dict[str, str]]] = []
        if model not in self._joined:
            await self._join(stream)
            entries += await self._group_read(stream, "0")  # mine, left pending
            _, claimed, _ = await self._client.xautoclaim(
                stream, keys.AUDIT_GROUP, self._consumer, CLAIM_IDLE_MS, "0-0", count=self._batch
            )
            entries += claimed
            self._joined.add(model)
        entries += await self._group_read(stream, ">")
        seen: set[str] = set()
        out = []
        for entry_id, fields in entries:
            if entry_id not in seen and fields:
                seen.add(entry_id)
                out.append(AuditEntry(model, entry_id, fields))
        return out

    async def _join(self, stream: str) -> None:
        try:
            await self._client.xgroup_create(stream, keys.AUDIT_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _group_read(self, stream: str, start: str) -> list[tuple[str, dict[str, str]]]:
        reply: Any = await self._client.xreadgroup(
            keys.AUDIT_GROUP, self._consumer, {stream: start}, count=self._batch
        )
        return list(reply[0][1]) if reply else []

    async def ack(self, entries: list[AuditEntry]) -> None:
        """Acknowledges and deletes spooled entries."""
        by_model: dict[str, list[str]] = {}
        for entry in entries:
            by_model.setdefault(entry.model, []).append(entry.entry_id)
        for model, ids in by_model.items():
            stream = keys.audit(model)
            await self._client.xack(stream, keys.AUDIT_GROUP, *ids)
            await self._client.xdel(stream, *ids)

    def forget(self) -> None:
        """Re-read pending entries on the next round (after a failed spool write)."""
        self._joined.clear()

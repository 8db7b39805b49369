"""`modelgw audit`: ships the audit log.

The durability path of a record: the job transition script appends it to the
model's audit stream in Redis (or the registry transaction inserts it into
the outbox table in PostgreSQL), atomically with the change itself. The
shipper reads it, writes it into a gzip JSON Lines object in the local spool
(fsynced), and only then acknowledges the stream entry or deletes the outbox
row. Spooled objects are uploaded to S3 (or copied to the local directory)
and removed from the spool after a successful upload; while S3 is
unreachable they wait in the spool and are retried. Job submission never
waits for any of this. Delivery is at least once: every record carries a
unique "id" for readers to drop duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from audit import outbox
from audit.config import AuditConfig
from audit.records import job_record
from audit.sink import Sink, SinkError
from audit.spool import Spool
from scheduler.audit_stream import AuditEntry, AuditStreams

log = logging.getLogger("modelgw.audit")

OUTBOX_BATCH = 5000


@dataclass(frozen=True)
class _Buffered:
    """A stream entry read and its audit record, waiting to be spooled."""

    entry: AuditEntry
    record: dict[str, Any]


class Shipper:
    """Moves audit records from the job streams and the outbox into the spool,
    acknowledging them once spooled, and uploads the spool to the sink."""

    def __init__(
        self,
        config: AuditConfig,
        streams: AuditStreams,
        pool: asyncpg.Pool,
        sink: Sink,
    ) -> None:
        self._config = config
        self._streams = streams
        self._pool = pool
        self._sink = sink
        self._spool = Spool(config.spool_dir, config.prefix)
        self._buffer: list[_Buffered] = []
        self._buffered_bytes = 0
        self._last_flush = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Ships until stop is set, then flushes and uploads what is left."""
        log.info("shipping", extra={"fields": {"to": self._sink.describe()}})
        try:
            while not stop.is_set():
                await self.round()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._config.poll_s)
        finally:
            await self.flush()
            await self.upload()

    async def round(self) -> None:
        """Reads new records; flushes when the batch is big or old enough; uploads."""
        try:
            fresh = [
                _Buffered(e, job_record(e.model, e.entry_id, e.fields))
                for e in await self._streams.read()
            ]
        except (RedisError, OSError) as exc:
            log.warning("audit streams unreadable", extra={"fields": {"error": str(exc)}})
            fresh = []
        self._buffer += fresh
        self._buffered_bytes += sum(len(str(r.record)) for r in fresh)
        age = time.monotonic() - self._last_flush
        if self._buffered_bytes >= self._config.flush_bytes or age >= self._config.flush_s:
            await self.flush()
        await self.upload()

    async def flush(self) -> None:
        """Spools the buffered job records and the outbox, then acknowledges both."""
        self._last_flush = time.monotonic()
        await self._flush_jobs()
        try:
            while await self._flush_outbox():
                pass
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("outbox not shipped; retrying", extra={"fields": {"error": str(exc)}})

    async def _flush_jobs(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer, self._buffered_bytes = self._buffer, [], 0
        try:
            await asyncio.to_thread(self._spool.write, [r.record for r in batch])
        except OSError as exc:
            log.error("spool write failed", extra={"fields": {"error": str(exc)}})
            self._streams.forget()  # still pending in Redis: read again
            return
        try:
            await self._streams.ack([r.entry for r in batch])
        except (RedisError, OSError) as exc:
            # Spooled already: the next read delivers them again (duplicates, not losses).
            log.warning("audit ack failed", extra={"fields": {"error": str(exc)}})
            self._streams.forget()

    async def _flush_outbox(self) -> bool:
        """Spools one batch of outbox rows; True if there may be more."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await outbox.take(conn, OUTBOX_BATCH)
            if not rows:
                return False
            await asyncio.to_thread(self._spool.write, rows)
            await outbox.delete(conn, [r["outbox_id"] for r in rows])
        return len(rows) == OUTBOX_BATCH

    async def upload(self) -> int:
        """Uploads spooled objects, oldest first; stops at the first failure. Returns
        how many were uploaded."""
        done = 0
        for path in self._spool.pending():
            key = self._spool.key_of(path)
            try:
                await asyncio.to_thread(self._sink.put, key, path)
            except SinkError as exc:
                log.warning(
                    "upload failed; kept in the spool",
                    extra={"fields": {"key": key, "error": str(exc)}},
                )
                return done
            path.unlink()
            done += 1
        return done

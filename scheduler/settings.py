"""The job protocol's settings, read once from MODELGW_* variables by every process
that speaks it: the servers, the workers and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.connection import RedisSettings
from settings.env import Env, number, whole


@dataclass(frozen=True)
class QueueSettings:
    """How long jobs are kept, how often they are delivered and leased, and how often
    workers announce themselves."""

    job_ttl_s: int = 24 * 3600
    """How long job records, results and idempotency keys are kept."""
    delivery_limit: int = 3
    """Deliveries after which a job that never finished is dead-lettered."""
    lease_ms: int = 30_000
    """A running job whose worker has not renewed it for this long is delivered again."""
    audit_inline_bytes: int = 65_536
    """Inputs up to this size are copied into the audit log; larger ones by sha256 and size."""
    presence_s: float = 5.0
    """How often a worker announces the models it serves (JobQueue.announce)."""

    @property
    def live_s(self) -> float:
        """A worker unseen for this long is not live: it missed three announcements."""
        return 3 * self.presence_s

    @classmethod
    def from_env(cls, env: Env) -> QueueSettings:
        """MODELGW_JOB_TTL, MODELGW_DELIVERY_LIMIT, MODELGW_LEASE_SECONDS,
        MODELGW_AUDIT_INLINE_BYTES and MODELGW_WORKER_PRESENCE_SECONDS."""
        return cls(
            job_ttl_s=whole(env, "MODELGW_JOB_TTL", 24 * 3600, minimum=60),
            delivery_limit=whole(env, "MODELGW_DELIVERY_LIMIT", 3, minimum=1),
            lease_ms=int(number(env, "MODELGW_LEASE_SECONDS", 30.0) * 1000),
            audit_inline_bytes=whole(env, "MODELGW_AUDIT_INLINE_BYTES", 65_536),
            presence_s=number(env, "MODELGW_WORKER_PRESENCE_SECONDS", 5.0, positive=True),
        )


def redis_settings(env: Env) -> RedisSettings:
    """MODELGW_REDIS_URL, MODELGW_REDIS_POOL_MAX and MODELGW_REDIS_TIMEOUT."""
    return RedisSettings(
        url=env.get("MODELGW_REDIS_URL", "redis://127.0.0.1:56379/0"),
        max_connections=whole(env, "MODELGW_REDIS_POOL_MAX", 512, minimum=1),
        socket_timeout_s=number(env, "MODELGW_REDIS_TIMEOUT", 5.0),
    )

"""The audit shipper's settings, read once from MODELGW_AUDIT_* variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from settings.env import Env, number, whole


@dataclass(frozen=True)
class AuditConfig:
    """Where the audit shipper writes, and when it flushes."""

    # S3 bucket; None writes the same layout under `local_root` instead.
    bucket: str | None
    prefix: str
    endpoint_url: str | None
    local_root: Path
    spool_dir: Path
    flush_bytes: int
    flush_s: float
    poll_s: float

    @classmethod
    def from_env(cls, env: Env, home: Path) -> AuditConfig:
        """MODELGW_AUDIT_*, MODELGW_S3_ENDPOINT; `home` is MODELGW_HOME."""
        flush_s = number(env, "MODELGW_AUDIT_FLUSH_SECONDS", 60.0, positive=True)
        return cls(
            bucket=env.get("MODELGW_AUDIT_BUCKET") or None,
            prefix=env.get("MODELGW_AUDIT_PREFIX", "audit").strip("/"),
            endpoint_url=env.get("MODELGW_S3_ENDPOINT") or None,
            local_root=home,
            spool_dir=Path(env.get("MODELGW_AUDIT_SPOOL") or home / "audit-spool").absolute(),
            flush_bytes=whole(env, "MODELGW_AUDIT_FLUSH_BYTES", 8 * 1024 * 1024, minimum=1),
            flush_s=flush_s,
            poll_s=min(flush_s / 4, 1.0),
        )

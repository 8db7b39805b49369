"""The audit streams' reader lives in scheduler.audit_stream, beside the rest of
the job protocol; this name stays for the callers that import it from here."""

from scheduler.audit_stream import CLAIM_IDLE_MS, AuditEntry, AuditStreams

__all__ = ["CLAIM_IDLE_MS", "AuditEntry", "AuditStreams"]

"""Conversions from catalog changes and job statistics to modelgateway.v1 messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import struct_pb2, timestamp_pb2

from gateway.admin.sync import Action, Change
from modelgateway.v1 import admin_pb2
from scheduler.stats import Durations, ModelStats, VersionStats

_ACTIONS = {
    Action.CREATE: admin_pb2.CHANGE_ACTION_CREATE,
    Action.UPDATE: admin_pb2.CHANGE_ACTION_UPDATE,
    Action.DELETE: admin_pb2.CHANGE_ACTION_DELETE,
    Action.CONFLICT: admin_pb2.CHANGE_ACTION_CONFLICT,
}


def _value(value: Any) -> struct_pb2.Value:
    holder = struct_pb2.Struct()
    holder.update({"v": value})
    return holder.fields["v"]


def change_message(change: Change) -> admin_pb2.CatalogChange:
    """A planned or applied catalog change as the CatalogChange message."""
    return admin_pb2.CatalogChange(
        action=_ACTIONS[change.action],
        model=change.model,
        subject=change.subject,
        name=change.name,
        before=_value(change.before),
        after=_value(change.after),
    )


def _durations(d: Durations) -> admin_pb2.DurationStats:
    return admin_pb2.DurationStats(
        count=d.count, mean_seconds=d.mean, p50_seconds=d.p50, p95_seconds=d.p95
    )


def model_stats_message(s: ModelStats) -> admin_pb2.ModelJobStats:
    """One model's job statistics as the ModelJobStats message."""
    return admin_pb2.ModelJobStats(
        model=s.model,
        queued=s.queued,
        running=s.running,
        succeeded=s.succeeded,
        failed=s.failed,
        cancelled=s.cancelled,
        success_rate=s.success_rate,
        throughput_per_second=s.throughput_per_s,
        execution=_durations(s.execution),
        queue_wait=_durations(s.queue_wait),
        live_workers=s.live_workers,
        busy_workers=s.busy_workers,
        versions=[version_stats_message(v) for v in s.versions],
    )


def version_stats_message(v: VersionStats) -> admin_pb2.VersionJobStats:
    """One version's job statistics as the VersionJobStats message."""
    f = v.figures
    return admin_pb2.VersionJobStats(
        version=v.version,
        queued=f.queued,
        running=f.running,
        succeeded=f.succeeded,
        failed=f.failed,
        cancelled=f.cancelled,
        success_rate=f.success_rate,
        execution=_durations(f.execution),
        queue_wait=_durations(f.queue_wait),
        records=v.window.records,
        failed_records=v.window.failed_records,
        live_workers=f.live_workers,
        queue_length=v.queue_length,
        drained=v.drained,
    )


def stats_message(
    per_model: Sequence[ModelStats], overall: ModelStats, now: float, window_s: int
) -> admin_pb2.JobStats:
    """The statistics per model and overall at time now, as the JobStats message."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(now * 1e9))
    return admin_pb2.JobStats(
        time=stamp,
        window_seconds=window_s,
        overall=model_stats_message(overall),
        models=[model_stats_message(s) for s in per_model],
    )

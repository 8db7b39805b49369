"""Conversions between registry rows and modelgateway.v1 messages."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from authz.enforcer import ModelAccess
from gateway.registry.limits import PlatformLimits, effective
from gateway.registry.resolution import resolve_version
from gateway.registry.store import ModelRow, VersionRow
from modelgateway.v1 import model_pb2


def _timestamp(value: Any) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    """A JSON object as a protobuf Struct."""
    message = struct_pb2.Struct()
    message.update(value)
    return message


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain JSON values."""
    value: dict[str, Any] = json_format.MessageToDict(message)
    return value


def model_message(row: ModelRow, access: ModelAccess, platform: PlatformLimits) -> model_pb2.Model:
    """The model as the API shows it; platform fills in its effective limits."""
    resolution = resolve_version(None, row.default_version, row.latest_version)
    return model_pb2.Model(
        name=row.name,
        display_name=row.display_name,
        description=row.description,
        tags=row.tags,
        backend=row.backend,
        visibility=(model_pb2.VISIBILITY_PUBLIC if access.public else model_pb2.VISIBILITY_PRIVATE),
        owners=access.owners,
        readers=access.readers,
        default_version=row.default_version or "",
        resolved_version=resolution.version if resolution else "",
        versions=row.versions,
        create_time=_timestamp(row.create_time),
        update_time=_timestamp(row.update_time),
        limits=row.limits.message(),
        limit_caps=row.limit_caps.message(),
        effective_limits=effective(row.limits, row.limit_caps, platform).values().message(),
    )


def version_message(row: VersionRow) -> model_pb2.ModelVersion:
    """A stored version as the ModelVersion message."""
    return model_pb2.ModelVersion(
        model=row.model,
        version=row.version,
        backend=model_pb2.BackendSpec(kind=row.backend_kind, config=struct(row.backend_config)),
        input_schema=struct(row.input_schema),
        output_schema=struct(row.output_schema),
        notes=row.notes,
        create_time=_timestamp(row.create_time),
    )

import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_ACTION_UNSPECIFIED: _ClassVar[ChangeAction]
    CHANGE_ACTION_CREATE: _ClassVar[ChangeAction]
    CHANGE_ACTION_UPDATE: _ClassVar[ChangeAction]
    CHANGE_ACTION_DELETE: _ClassVar[ChangeAction]
    CHANGE_ACTION_CONFLICT: _ClassVar[ChangeAction]
CHANGE_ACTION_UNSPECIFIED: ChangeAction
CHANGE_ACTION_CREATE: ChangeAction
CHANGE_ACTION_UPDATE: ChangeAction
CHANGE_ACTION_DELETE: ChangeAction
CHANGE_ACTION_CONFLICT: ChangeAction

class CatalogChange(_message.Message):
    __slots__ = ("action", "model", "subject", "name", "before", "after")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    action: ChangeAction
    model: str
    subject: str
    name: str
    before: _struct_pb2.Value
    after: _struct_pb2.Value
    def __init__(self, action: _Optional[_Union[ChangeAction, str]] = ..., model: _Optional[str] = ..., subject: _Optional[str] = ..., name: _Optional[str] = ..., before: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., after: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class RefreshModelDatabaseRequest(_message.Message):
    __slots__ = ("dry_run", "delete_missing")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    DELETE_MISSING_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    delete_missing: bool
    def __init__(self, dry_run: _Optional[bool] = ..., delete_missing: _Optional[bool] = ...) -> None: ...

class RefreshModelDatabaseResponse(_message.Message):
    __slots__ = ("changes", "dry_run", "catalog")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[CatalogChange]
    dry_run: bool
    catalog: str
    def __init__(self, changes: _Optional[_Iterable[_Union[CatalogChange, _Mapping]]] = ..., dry_run: _Optional[bool] = ..., catalog: _Optional[str] = ...) -> None: ...

class ResetModelDatabaseRequest(_message.Message):
    __slots__ = ("confirm",)
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    confirm: str
    def __init__(self, confirm: _Optional[str] = ...) -> None: ...

class ResetModelDatabaseResponse(_message.Message):
    __slots__ = ("models_dropped", "changes", "catalog")
    MODELS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CATALOG_FIELD_NUMBER: _ClassVar[int]
    models_dropped: int
    changes: _containers.RepeatedCompositeFieldContainer[CatalogChange]
    catalog: str
    def __init__(self, models_dropped: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[CatalogChange, _Mapping]]] = ..., catalog: _Optional[str] = ...) -> None: ...

class QueryModelDatabaseRequest(_message.Message):
    __slots__ = ("sql", "max_rows")
    SQL_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    sql: str
    max_rows: int
    def __init__(self, sql: _Optional[str] = ..., max_rows: _Optional[int] = ...) -> None: ...

class QueryModelDatabaseResponse(_message.Message):
    __slots__ = ("columns", "rows", "truncated")
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    columns: _containers.RepeatedScalarFieldContainer[str]
    rows: _containers.RepeatedCompositeFieldContainer[_struct_pb2.ListValue]
    truncated: bool
    def __init__(self, columns: _Optional[_Iterable[str]] = ..., rows: _Optional[_Iterable[_Union[_struct_pb2.ListValue, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class DurationStats(_message.Message):
    __slots__ = ("count", "mean_seconds", "p50_seconds", "p95_seconds")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P50_SECONDS_FIELD_NUMBER: _ClassVar[int]
    P95_SECONDS_FIELD_NUMBER: _ClassVar[int]
    count: int
    mean_seconds: float
    p50_seconds: float
    p95_seconds: float
    def __init__(self, count: _Optional[int] = ..., mean_seconds: _Optional[float] = ..., p50_seconds: _Optional[float] = ..., p95_seconds: _Optional[float] = ...) -> None: ...

class ModelJobStats(_message.Message):
    __slots__ = ("model", "queued", "running", "succeeded", "failed", "cancelled", "success_rate", "throughput_per_second", "execution", "queue_wait", "live_workers", "busy_workers", "versions")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_WAIT_FIELD_NUMBER: _ClassVar[int]
    LIVE_WORKERS_FIELD_NUMBER: _ClassVar[int]
    BUSY_WORKERS_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    success_rate: float
    throughput_per_second: float
    execution: DurationStats
    queue_wait: DurationStats
    live_workers: int
    busy_workers: int
    versions: _containers.RepeatedCompositeFieldContainer[VersionJobStats]
    def __init__(self, model: _Optional[str] = ..., queued: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ..., success_rate: _Optional[float] = ..., throughput_per_second: _Optional[float] = ..., execution: _Optional[_Union[DurationStats, _Mapping]] = ..., queue_wait: _Optional[_Union[DurationStats, _Mapping]] = ..., live_workers: _Optional[int] = ..., busy_workers: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[VersionJobStats, _Mapping]]] = ...) -> None: ...

class VersionJobStats(_message.Message):
    __slots__ = ("version", "queued", "running", "succeeded", "failed", "cancelled", "success_rate", "execution", "queue_wait", "records", "failed_records", "live_workers", "queue_length", "drained")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_WAIT_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FAILED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    LIVE_WORKERS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DRAINED_FIELD_NUMBER: _ClassVar[int]
    version: str
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int
    success_rate: float
    execution: DurationStats
    queue_wait: DurationStats
    records: int
    failed_records: int
    live_workers: int
    queue_length: int
    drained: bool
    def __init__(self, version: _Optional[str] = ..., queued: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ..., success_rate: _Optional[float] = ..., execution: _Optional[_Union[DurationStats, _Mapping]] = ..., queue_wait: _Optional[_Union[DurationStats, _Mapping]] = ..., records: _Optional[int] = ..., failed_records: _Optional[int] = ..., live_workers: _Optional[int] = ..., queue_length: _Optional[int] = ..., drained: _Optional[bool] = ...) -> None: ...

class JobStats(_message.Message):
    __slots__ = ("time", "window_seconds", "overall", "models")
    TIME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    window_seconds: int
    overall: ModelJobStats
    models: _containers.RepeatedCompositeFieldContainer[ModelJobStats]
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_seconds: _Optional[int] = ..., overall: _Optional[_Union[ModelJobStats, _Mapping]] = ..., models: _Optional[_Iterable[_Union[ModelJobStats, _Mapping]]] = ...) -> None: ...

class GetJobStatsRequest(_message.Message):
    __slots__ = ("model", "window_seconds")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    model: str
    window_seconds: int
    def __init__(self, model: _Optional[str] = ..., window_seconds: _Optional[int] = ...) -> None: ...

class GetJobStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: JobStats
    def __init__(self, stats: _Optional[_Union[JobStats, _Mapping]] = ...) -> None: ...

class WatchJobStatsRequest(_message.Message):
    __slots__ = ("model", "window_seconds", "interval_seconds")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    model: str
    window_seconds: int
    interval_seconds: int
    def __init__(self, model: _Optional[str] = ..., window_seconds: _Optional[int] = ..., interval_seconds: _Optional[int] = ...) -> None: ...

class WatchJobStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: JobStats
    def __init__(self, stats: _Optional[_Union[JobStats, _Mapping]] = ...) -> None: ...

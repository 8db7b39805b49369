import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionRoute(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_ROUTE_UNSPECIFIED: _ClassVar[VersionRoute]
    VERSION_ROUTE_PINNED: _ClassVar[VersionRoute]
    VERSION_ROUTE_DEFAULT: _ClassVar[VersionRoute]
    VERSION_ROUTE_ROLLOUT: _ClassVar[VersionRoute]

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_SUCCEEDED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]
VERSION_ROUTE_UNSPECIFIED: VersionRoute
VERSION_ROUTE_PINNED: VersionRoute
VERSION_ROUTE_DEFAULT: VersionRoute
VERSION_ROUTE_ROLLOUT: VersionRoute
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELLED: JobStatus

class Job(_message.Message):
    __slots__ = ("id", "model", "version", "status", "submitter", "transitions", "record_count", "results", "error", "attempts", "idempotency_key", "create_time", "start_time", "end_time", "queue_seconds", "run_seconds", "children", "parent_id", "queue_place", "version_route", "rollout_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTER_FIELD_NUMBER: _ClassVar[int]
    TRANSITIONS_FIELD_NUMBER: _ClassVar[int]
    RECORD_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    QUEUE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RUN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    PARENT_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUE_PLACE_FIELD_NUMBER: _ClassVar[int]
    VERSION_ROUTE_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    version: str
    status: JobStatus
    submitter: str
    transitions: _containers.RepeatedCompositeFieldContainer[JobTransition]
    record_count: int
    results: _containers.RepeatedCompositeFieldContainer[RecordResult]
    error: JobError
    attempts: int
    idempotency_key: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    queue_seconds: float
    run_seconds: float
    children: _containers.RepeatedCompositeFieldContainer[ChildJob]
    parent_id: str
    queue_place: QueuePlace
    version_route: VersionRoute
    rollout_id: str
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., submitter: _Optional[str] = ..., transitions: _Optional[_Iterable[_Union[JobTransition, _Mapping]]] = ..., record_count: _Optional[int] = ..., results: _Optional[_Iterable[_Union[RecordResult, _Mapping]]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., attempts: _Optional[int] = ..., idempotency_key: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., queue_seconds: _Optional[float] = ..., run_seconds: _Optional[float] = ..., children: _Optional[_Iterable[_Union[ChildJob, _Mapping]]] = ..., parent_id: _Optional[str] = ..., queue_place: _Optional[_Union[QueuePlace, _Mapping]] = ..., version_route: _Optional[_Union[VersionRoute, str]] = ..., rollout_id: _Optional[str] = ...) -> None: ...

class QueuePlace(_message.Message):
    __slots__ = ("jobs_ahead", "worker_seen_time", "warning")
    JOBS_AHEAD_FIELD_NUMBER: _ClassVar[int]
    WORKER_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    jobs_ahead: int
    worker_seen_time: _timestamp_pb2.Timestamp
    warning: str
    def __init__(self, jobs_ahead: _Optional[int] = ..., worker_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., warning: _Optional[str] = ...) -> None: ...

class ChildJob(_message.Message):
    __slots__ = ("alias", "model", "version", "job_id", "status", "version_route")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_ROUTE_FIELD_NUMBER: _ClassVar[int]
    alias: str
    model: str
    version: str
    job_id: str
    status: JobStatus
    version_route: VersionRoute
    def __init__(self, alias: _Optional[str] = ..., model: _Optional[str] = ..., version: _Optional[str] = ..., job_id: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., version_route: _Optional[_Union[VersionRoute, str]] = ...) -> None: ...

class JobTransition(_message.Message):
    __slots__ = ("status", "time")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    status: JobStatus
    time: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[JobStatus, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordResult(_message.Message):
    __slots__ = ("output", "error")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    output: _struct_pb2.Struct
    error: str
    def __init__(self, output: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("reason", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

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

class Visibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VISIBILITY_UNSPECIFIED: _ClassVar[Visibility]
    VISIBILITY_PRIVATE: _ClassVar[Visibility]
    VISIBILITY_PUBLIC: _ClassVar[Visibility]

class AccessRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_ROLE_UNSPECIFIED: _ClassVar[AccessRole]
    ACCESS_ROLE_READER: _ClassVar[AccessRole]
    ACCESS_ROLE_OWNER: _ClassVar[AccessRole]
VISIBILITY_UNSPECIFIED: Visibility
VISIBILITY_PRIVATE: Visibility
VISIBILITY_PUBLIC: Visibility
ACCESS_ROLE_UNSPECIFIED: AccessRole
ACCESS_ROLE_READER: AccessRole
ACCESS_ROLE_OWNER: AccessRole

class Model(_message.Message):
    __slots__ = ("name", "display_name", "description", "tags", "backend", "visibility", "owners", "readers", "default_version", "resolved_version", "versions", "create_time", "update_time", "limits", "limit_caps", "effective_limits")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    READERS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_VERSION_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_CAPS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    backend: str
    visibility: Visibility
    owners: _containers.RepeatedScalarFieldContainer[str]
    readers: _containers.RepeatedScalarFieldContainer[str]
    default_version: str
    resolved_version: str
    versions: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    limits: ModelLimits
    limit_caps: ModelLimits
    effective_limits: ModelLimits
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., backend: _Optional[str] = ..., visibility: _Optional[_Union[Visibility, str]] = ..., owners: _Optional[_Iterable[str]] = ..., readers: _Optional[_Iterable[str]] = ..., default_version: _Optional[str] = ..., resolved_version: _Optional[str] = ..., versions: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limits: _Optional[_Union[ModelLimits, _Mapping]] = ..., limit_caps: _Optional[_Union[ModelLimits, _Mapping]] = ..., effective_limits: _Optional[_Union[ModelLimits, _Mapping]] = ...) -> None: ...

class ModelLimits(_message.Message):
    __slots__ = ("max_queued_jobs", "max_queued_records", "user_jobs_per_second")
    MAX_QUEUED_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_QUEUED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    USER_JOBS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    max_queued_jobs: int
    max_queued_records: int
    user_jobs_per_second: float
    def __init__(self, max_queued_jobs: _Optional[int] = ..., max_queued_records: _Optional[int] = ..., user_jobs_per_second: _Optional[float] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("model", "version", "backend", "input_schema", "output_schema", "notes", "create_time")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    backend: BackendSpec
    input_schema: _struct_pb2.Struct
    output_schema: _struct_pb2.Struct
    notes: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., backend: _Optional[_Union[BackendSpec, _Mapping]] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., notes: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BackendSpec(_message.Message):
    __slots__ = ("kind", "config")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    kind: str
    config: _struct_pb2.Struct
    def __init__(self, kind: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AccessGrant(_message.Message):
    __slots__ = ("user", "role")
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    user: str
    role: AccessRole
    def __init__(self, user: _Optional[str] = ..., role: _Optional[_Union[AccessRole, str]] = ...) -> None: ...

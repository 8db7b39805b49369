import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from modelgateway.v1 import model_pb2 as _model_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelHistoryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_HISTORY_KIND_UNSPECIFIED: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_MODEL_CREATED: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_VERSION_ADDED: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_VERSION_DELETED: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_DEFAULT_VERSION: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_VISIBILITY: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_GRANT: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_REVOKE: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_ROLLOUT_STARTED: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_ROLLOUT_STEP: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_ROLLOUT_PROMOTED: _ClassVar[ModelHistoryKind]
    MODEL_HISTORY_KIND_ROLLOUT_ROLLED_BACK: _ClassVar[ModelHistoryKind]
MODEL_HISTORY_KIND_UNSPECIFIED: ModelHistoryKind
MODEL_HISTORY_KIND_MODEL_CREATED: ModelHistoryKind
MODEL_HISTORY_KIND_VERSION_ADDED: ModelHistoryKind
MODEL_HISTORY_KIND_VERSION_DELETED: ModelHistoryKind
MODEL_HISTORY_KIND_DEFAULT_VERSION: ModelHistoryKind
MODEL_HISTORY_KIND_VISIBILITY: ModelHistoryKind
MODEL_HISTORY_KIND_GRANT: ModelHistoryKind
MODEL_HISTORY_KIND_REVOKE: ModelHistoryKind
MODEL_HISTORY_KIND_ROLLOUT_STARTED: ModelHistoryKind
MODEL_HISTORY_KIND_ROLLOUT_STEP: ModelHistoryKind
MODEL_HISTORY_KIND_ROLLOUT_PROMOTED: ModelHistoryKind
MODEL_HISTORY_KIND_ROLLOUT_ROLLED_BACK: ModelHistoryKind

class CreateModelRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class CreateModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "tag")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    tag: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[_model_pb2.Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[_model_pb2.Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchModelsRequest(_message.Message):
    __slots__ = ("q", "tags", "owner", "backend_kind", "page_size", "page_token")
    Q_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    q: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    owner: str
    backend_kind: str
    page_size: int
    page_token: str
    def __init__(self, q: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., owner: _Optional[str] = ..., backend_kind: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("model", "score", "snippet", "matched_fields")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    score: float
    snippet: str
    matched_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ..., score: _Optional[float] = ..., snippet: _Optional[str] = ..., matched_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchModelsResponse(_message.Message):
    __slots__ = ("hits", "next_page_token")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    next_page_token: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateModelRequest(_message.Message):
    __slots__ = ("model", "update_mask")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateModelVersionRequest(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: _model_pb2.ModelVersion
    def __init__(self, model: _Optional[str] = ..., version: _Optional[_Union[_model_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class CreateModelVersionResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: _model_pb2.ModelVersion
    def __init__(self, version: _Optional[_Union[_model_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("version", "resolved")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_FIELD_NUMBER: _ClassVar[int]
    version: _model_pb2.ModelVersion
    resolved: bool
    def __init__(self, version: _Optional[_Union[_model_pb2.ModelVersion, _Mapping]] = ..., resolved: _Optional[bool] = ...) -> None: ...

class ListModelVersionsRequest(_message.Message):
    __slots__ = ("model", "page_size", "page_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: str
    page_size: int
    page_token: str
    def __init__(self, model: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[_model_pb2.ModelVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[_model_pb2.ModelVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetDefaultVersionRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class SetDefaultVersionResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class SetVisibilityRequest(_message.Message):
    __slots__ = ("name", "visibility")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    name: str
    visibility: _model_pb2.Visibility
    def __init__(self, name: _Optional[str] = ..., visibility: _Optional[_Union[_model_pb2.Visibility, str]] = ...) -> None: ...

class SetVisibilityResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class GrantAccessRequest(_message.Message):
    __slots__ = ("name", "user", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    user: str
    role: _model_pb2.AccessRole
    def __init__(self, name: _Optional[str] = ..., user: _Optional[str] = ..., role: _Optional[_Union[_model_pb2.AccessRole, str]] = ...) -> None: ...

class GrantAccessResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class RevokeAccessRequest(_message.Message):
    __slots__ = ("name", "user", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    user: str
    role: _model_pb2.AccessRole
    def __init__(self, name: _Optional[str] = ..., user: _Optional[str] = ..., role: _Optional[_Union[_model_pb2.AccessRole, str]] = ...) -> None: ...

class RevokeAccessResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ...) -> None: ...

class ListAccessRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListAccessResponse(_message.Message):
    __slots__ = ("visibility", "grants")
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    visibility: _model_pb2.Visibility
    grants: _containers.RepeatedCompositeFieldContainer[_model_pb2.AccessGrant]
    def __init__(self, visibility: _Optional[_Union[_model_pb2.Visibility, str]] = ..., grants: _Optional[_Iterable[_Union[_model_pb2.AccessGrant, _Mapping]]] = ...) -> None: ...

class ListModelHistoryRequest(_message.Message):
    __slots__ = ("name", "page_size", "page_token")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    page_size: int
    page_token: str
    def __init__(self, name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelHistoryResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ModelHistoryEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[ModelHistoryEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ModelHistoryEvent(_message.Message):
    __slots__ = ("time", "actor", "kind", "from_value", "to_value", "user", "detail")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FROM_VALUE_FIELD_NUMBER: _ClassVar[int]
    TO_VALUE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    actor: str
    kind: ModelHistoryKind
    from_value: str
    to_value: str
    user: str
    detail: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., kind: _Optional[_Union[ModelHistoryKind, str]] = ..., from_value: _Optional[str] = ..., to_value: _Optional[str] = ..., user: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class VerifyConsensusModelRequest(_message.Message):
    __slots__ = ("name", "definition", "yaml", "sample")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    YAML_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    definition: _struct_pb2.Struct
    yaml: str
    sample: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., definition: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., yaml: _Optional[str] = ..., sample: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class VerifyConsensusModelResponse(_message.Message):
    __slots__ = ("ok", "problems", "child_versions", "sample_value", "has_sample_value")
    class ChildVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    OK_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    CHILD_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    HAS_SAMPLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    problems: _containers.RepeatedCompositeFieldContainer[ConsensusProblem]
    child_versions: _containers.ScalarMap[str, str]
    sample_value: float
    has_sample_value: bool
    def __init__(self, ok: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[ConsensusProblem, _Mapping]]] = ..., child_versions: _Optional[_Mapping[str, str]] = ..., sample_value: _Optional[float] = ..., has_sample_value: _Optional[bool] = ...) -> None: ...

class ConsensusProblem(_message.Message):
    __slots__ = ("kind", "message", "location")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    location: str
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ..., location: _Optional[str] = ...) -> None: ...

class ImportConsensusModelRequest(_message.Message):
    __slots__ = ("yaml", "version")
    YAML_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    version: str
    def __init__(self, yaml: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ImportConsensusModelResponse(_message.Message):
    __slots__ = ("model", "version")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    model: _model_pb2.Model
    version: _model_pb2.ModelVersion
    def __init__(self, model: _Optional[_Union[_model_pb2.Model, _Mapping]] = ..., version: _Optional[_Union[_model_pb2.ModelVersion, _Mapping]] = ...) -> None: ...

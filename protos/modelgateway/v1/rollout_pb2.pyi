import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RolloutStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STRATEGY_UNSPECIFIED: _ClassVar[RolloutStrategy]
    ROLLOUT_STRATEGY_BLUE_GREEN: _ClassVar[RolloutStrategy]
    ROLLOUT_STRATEGY_CANARY: _ClassVar[RolloutStrategy]
    ROLLOUT_STRATEGY_LINEAR: _ClassVar[RolloutStrategy]

class RolloutState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATE_UNSPECIFIED: _ClassVar[RolloutState]
    ROLLOUT_STATE_ACTIVE: _ClassVar[RolloutState]
    ROLLOUT_STATE_PROMOTED: _ClassVar[RolloutState]
    ROLLOUT_STATE_ROLLED_BACK: _ClassVar[RolloutState]
ROLLOUT_STRATEGY_UNSPECIFIED: RolloutStrategy
ROLLOUT_STRATEGY_BLUE_GREEN: RolloutStrategy
ROLLOUT_STRATEGY_CANARY: RolloutStrategy
ROLLOUT_STRATEGY_LINEAR: RolloutStrategy
ROLLOUT_STATE_UNSPECIFIED: RolloutState
ROLLOUT_STATE_ACTIVE: RolloutState
ROLLOUT_STATE_PROMOTED: RolloutState
ROLLOUT_STATE_ROLLED_BACK: RolloutState

class Guardrails(_message.Message):
    __slots__ = ("min_jobs", "max_failure_rate_increase", "max_p95_ratio")
    MIN_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_FAILURE_RATE_INCREASE_FIELD_NUMBER: _ClassVar[int]
    MAX_P95_RATIO_FIELD_NUMBER: _ClassVar[int]
    min_jobs: int
    max_failure_rate_increase: float
    max_p95_ratio: float
    def __init__(self, min_jobs: _Optional[int] = ..., max_failure_rate_increase: _Optional[float] = ..., max_p95_ratio: _Optional[float] = ...) -> None: ...

class RolloutPlan(_message.Message):
    __slots__ = ("strategy", "canary_percent", "bake_seconds", "step_percent", "step_interval_seconds", "guardrails")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BAKE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STEP_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STEP_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    GUARDRAILS_FIELD_NUMBER: _ClassVar[int]
    strategy: RolloutStrategy
    canary_percent: float
    bake_seconds: int
    step_percent: float
    step_interval_seconds: int
    guardrails: Guardrails
    def __init__(self, strategy: _Optional[_Union[RolloutStrategy, str]] = ..., canary_percent: _Optional[float] = ..., bake_seconds: _Optional[int] = ..., step_percent: _Optional[float] = ..., step_interval_seconds: _Optional[int] = ..., guardrails: _Optional[_Union[Guardrails, _Mapping]] = ...) -> None: ...

class RolloutStep(_message.Message):
    __slots__ = ("time", "percent", "actor", "note")
    TIME_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    percent: float
    actor: str
    note: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., percent: _Optional[float] = ..., actor: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class VersionFigures(_message.Message):
    __slots__ = ("version", "jobs", "failed_jobs", "records", "failed_records", "failure_rate", "p95_run_seconds")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    FAILED_JOBS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FAILED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_RATE_FIELD_NUMBER: _ClassVar[int]
    P95_RUN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    version: str
    jobs: int
    failed_jobs: int
    records: int
    failed_records: int
    failure_rate: float
    p95_run_seconds: float
    def __init__(self, version: _Optional[str] = ..., jobs: _Optional[int] = ..., failed_jobs: _Optional[int] = ..., records: _Optional[int] = ..., failed_records: _Optional[int] = ..., failure_rate: _Optional[float] = ..., p95_run_seconds: _Optional[float] = ...) -> None: ...

class GuardrailBreach(_message.Message):
    __slots__ = ("guardrail", "observed", "limit", "baseline", "candidate")
    GUARDRAIL_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    guardrail: str
    observed: float
    limit: float
    baseline: VersionFigures
    candidate: VersionFigures
    def __init__(self, guardrail: _Optional[str] = ..., observed: _Optional[float] = ..., limit: _Optional[float] = ..., baseline: _Optional[_Union[VersionFigures, _Mapping]] = ..., candidate: _Optional[_Union[VersionFigures, _Mapping]] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("id", "model", "baseline_version", "candidate_version", "strategy", "state", "candidate_percent", "plan", "status", "start_time", "end_time", "started_by", "ended_by", "end_reason", "steps", "baseline", "candidate", "breach", "step_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BASELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STARTED_BY_FIELD_NUMBER: _ClassVar[int]
    ENDED_BY_FIELD_NUMBER: _ClassVar[int]
    END_REASON_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    BREACH_FIELD_NUMBER: _ClassVar[int]
    STEP_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    baseline_version: str
    candidate_version: str
    strategy: RolloutStrategy
    state: RolloutState
    candidate_percent: float
    plan: RolloutPlan
    status: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    started_by: str
    ended_by: str
    end_reason: str
    steps: _containers.RepeatedCompositeFieldContainer[RolloutStep]
    baseline: VersionFigures
    candidate: VersionFigures
    breach: GuardrailBreach
    step_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., baseline_version: _Optional[str] = ..., candidate_version: _Optional[str] = ..., strategy: _Optional[_Union[RolloutStrategy, str]] = ..., state: _Optional[_Union[RolloutState, str]] = ..., candidate_percent: _Optional[float] = ..., plan: _Optional[_Union[RolloutPlan, _Mapping]] = ..., status: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_by: _Optional[str] = ..., ended_by: _Optional[str] = ..., end_reason: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[RolloutStep, _Mapping]]] = ..., baseline: _Optional[_Union[VersionFigures, _Mapping]] = ..., candidate: _Optional[_Union[VersionFigures, _Mapping]] = ..., breach: _Optional[_Union[GuardrailBreach, _Mapping]] = ..., step_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class StartRolloutRequest(_message.Message):
    __slots__ = ("model", "candidate_version", "strategy", "canary_percent", "bake_seconds", "step_percent", "step_interval_seconds", "guardrails")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    CANARY_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BAKE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STEP_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STEP_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    GUARDRAILS_FIELD_NUMBER: _ClassVar[int]
    model: str
    candidate_version: str
    strategy: RolloutStrategy
    canary_percent: float
    bake_seconds: int
    step_percent: float
    step_interval_seconds: int
    guardrails: Guardrails
    def __init__(self, model: _Optional[str] = ..., candidate_version: _Optional[str] = ..., strategy: _Optional[_Union[RolloutStrategy, str]] = ..., canary_percent: _Optional[float] = ..., bake_seconds: _Optional[int] = ..., step_percent: _Optional[float] = ..., step_interval_seconds: _Optional[int] = ..., guardrails: _Optional[_Union[Guardrails, _Mapping]] = ...) -> None: ...

class StartRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class GetRolloutRequest(_message.Message):
    __slots__ = ("model", "rollout_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    rollout_id: str
    def __init__(self, model: _Optional[str] = ..., rollout_id: _Optional[str] = ...) -> None: ...

class GetRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ListRolloutsRequest(_message.Message):
    __slots__ = ("model", "page_size", "page_token")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    model: str
    page_size: int
    page_token: str
    def __init__(self, model: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRolloutsResponse(_message.Message):
    __slots__ = ("rollouts", "next_page_token")
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rollouts: _containers.RepeatedCompositeFieldContainer[Rollout]
    next_page_token: str
    def __init__(self, rollouts: _Optional[_Iterable[_Union[Rollout, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PromoteRolloutRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class PromoteRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class RollBackRolloutRequest(_message.Message):
    __slots__ = ("model", "reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    reason: str
    def __init__(self, model: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RollBackRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

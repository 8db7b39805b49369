"""Only the domain's own errors become INVALID_ARGUMENT: a ValueError raised by a
bug while a request is read reaches the caller as INTERNAL, never as the caller's
mistake. Pure logic: the registry's mapping helpers and the interceptor's grpc_status_for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import grpc
import pytest

from consensus.errors import ConsensusError, DefinitionError, EvaluationError, FormulaError
from consensus.verify import OutputFieldError
from gateway.errors import ApiError
from gateway.interceptor import grpc_status_for
from gateway.registry import consensus, requests
from modelgateway.v1 import registry_pb2


class _BuggyConfig(Mapping[str, Any]):
    """A config whose reading fails as a bug would: with a plain ValueError."""

    def __getitem__(self, key: str) -> Any:
        raise ValueError("a bug, not the caller's mistake")

    def __iter__(self) -> Iterator[str]:
        raise ValueError("a bug, not the caller's mistake")

    def __len__(self) -> int:
        return 1


def _status(call: Any, *args: Any) -> grpc.StatusCode:
    try:
        call(*args)
    except Exception as exc:  # what the interceptor would see
        return grpc_status_for(exc)[0]
    raise AssertionError("expected a failure")


@pytest.mark.parametrize(
    "error", [ConsensusError, DefinitionError, FormulaError, EvaluationError, OutputFieldError]
)
def test_the_consensus_errors_are_not_value_errors(error: type[Exception]) -> None:
    assert issubclass(error, ConsensusError) and not issubclass(error, ValueError)


def test_a_malformed_definition_is_invalid_argument() -> None:
    bad = {"children": [], "formula": "A"}
    assert _status(consensus.parse_config, bad) is grpc.StatusCode.INVALID_ARGUMENT
    request = registry_pb2.VerifyConsensusModelRequest()
    assert (
        _status(consensus.definition_from_request, request, bad)
        is grpc.StatusCode.INVALID_ARGUMENT
    )


def test_a_value_error_from_a_bug_is_internal() -> None:
    buggy_child = {"children": [_BuggyConfig()], "formula": "A"}
    assert _status(consensus.parse_config, buggy_child) is grpc.StatusCode.INTERNAL
    request = registry_pb2.VerifyConsensusModelRequest()
    with pytest.raises(ValueError) as escaped:
        consensus.definition_from_request(request, _BuggyConfig())  # type: ignore[arg-type]
    assert not isinstance(escaped.value, ApiError)
    assert grpc_status_for(escaped.value)[0] is grpc.StatusCode.INTERNAL


def test_a_bad_user_name_is_invalid_argument() -> None:
    assert _status(requests.user, " padded") is grpc.StatusCode.INVALID_ARGUMENT
    assert requests.user("olga") == "olga"

"""Typed errors of the client: one root, one subclass per gRPC status the gateway sends.

`from_rpc_error` is the one place that turns a `grpc.RpcError` into one of these,
reading the structured details the server attaches (google.rpc.RetryInfo for
RESOURCE_EXHAUSTED, google.rpc.BadRequest for a bad input record).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"
_RECORD_FIELD = re.compile(r"^records\[(\d+)\](/.*)?$")
_RECORD_MESSAGE = re.compile(r"^records\[(\d+)\]")
_AT_MESSAGE = re.compile(r": at (/[^:\s]*):")


class GatewayError(Exception):
    """A call the gateway refused or could not complete.

    ``code`` is the gRPC status code; ``message`` is the server's text, written
    for the caller: it says what was wrong and what to send instead.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(GatewayError):
    """No such model, version or job, or one the caller may not see."""

    code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(GatewayError):
    """The caller is known but may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(GatewayError):
    """No token, or a token that does not verify (expired, wrong key)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class InvalidInput(GatewayError):
    """The request is wrong. For a record that fails the model's input schema,
    ``record_index`` is its place in the submitted list and ``field_path`` the
    JSON pointer of the bad field ("/smiles"; "" for the record itself)."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | None = None,
        *,
        record_index: int | None = None,
        field_path: str | None = None,
    ) -> None:
        super().__init__(message, code)
        self.record_index = record_index
        self.field_path = field_path


class AlreadyExists(GatewayError):
    """A model or version of that name exists already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(GatewayError):
    """Valid, but not in the current state (a model with no versions, a finished job)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(GatewayError):
    """Over a limit. ``retry_after_s``, when the server says, is when to try again."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(
        self,
        message: str,
        code: grpc.StatusCode | None = None,
        *,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, code)
        self.retry_after_s = retry_after_s


class Unavailable(GatewayError):
    """The gateway or a store behind it did not answer; the same call may succeed when retried."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(GatewayError):
    """The call did not finish within its deadline."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class JobsRefused(GatewayError):
    """Some jobs of a submit_many were refused; the others were queued.

    ``jobs`` has one entry per batch, in order: the job's handle (Job or
    AsyncJob), or None where it was refused. ``errors`` maps the index of each
    refused batch to its error, as submit would have raised it (InvalidInput
    naming the bad record, NotFound, ResourceExhausted with retry_after_s...).
    ``code`` is the first refusal's."""

    def __init__(self, message: str, jobs: list[Any], errors: dict[int, GatewayError]) -> None:
        first = errors[min(errors)]
        super().__init__(message, first.code)
        self.jobs = jobs
        self.errors = errors

    @property
    def accepted(self) -> list[Any]:
        """The handles of the jobs that were queued, in batch order."""
        return [job for job in self.jobs if job is not None]


class JobFailed(GatewayError):
    """A job ended FAILED or CANCELLED; ``job`` is its final state (a JobInfo)."""

    code = grpc.StatusCode.ABORTED

    def __init__(self, message: str, job: Any) -> None:
        super().__init__(message)
        self.job = job


_BY_CODE: dict[grpc.StatusCode, type[GatewayError]] = {
    cls.code: cls
    for cls in (
        NotFound, PermissionDenied, Unauthenticated, InvalidInput, AlreadyExists,
        FailedPrecondition, ResourceExhausted, Unavailable, DeadlineExceeded,
    )
}  # fmt: skip


def status_details(metadata: Sequence[tuple[str, Any]] | None) -> list[Any]:
    """The google.rpc details packed in a call's trailing metadata, unpacked; unknown
    or undecodable ones are left out."""
    found: list[Any] = []
    for key, value in metadata or ():
        if key != _DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:  # a malformed trailer must not hide the error itself
            continue
        found += _unpacked(status)
    return found


def _unpacked(status: status_pb2.Status) -> list[Any]:
    found: list[Any] = []
    for detail in status.details:
        for kind in (error_details_pb2.RetryInfo, error_details_pb2.BadRequest):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found.append(message)
    return found


def retry_after(details: Sequence[Any]) -> float | None:
    """Seconds from a RetryInfo detail, if there is one."""
    for detail in details:
        if isinstance(detail, error_details_pb2.RetryInfo):
            return max(0.0, float(detail.retry_delay.ToTimedelta().total_seconds()))
    return None


def _record_location(message: str, details: Sequence[Any]) -> tuple[int | None, str | None]:
    for detail in details:
        if isinstance(detail, error_details_pb2.BadRequest):
            for violation in detail.field_violations:
                match = _RECORD_FIELD.match(violation.field)
                if match:
                    return int(match[1]), match[2] or ""
    match = _RECORD_MESSAGE.match(message)
    if not match:
        return None, None
    at = _AT_MESSAGE.search(message)
    return int(match[1]), at[1].rstrip("/") if at else None


def from_status(
    code: grpc.StatusCode, message: str, metadata: Sequence[tuple[str, Any]] | None = None
) -> GatewayError:
    """The typed error for a status code, its message and its trailing metadata."""
    return _typed(code, message, status_details(metadata))


def from_status_message(status: status_pb2.Status) -> GatewayError:
    """The typed error a google.rpc.Status stands for (a refused job of SubmitJobs)."""
    code = next((c for c in grpc.StatusCode if c.value[0] == status.code), grpc.StatusCode.UNKNOWN)
    return _typed(code, status.message or str(code), _unpacked(status))


def _typed(code: grpc.StatusCode, message: str, details: Sequence[Any]) -> GatewayError:
    cls = _BY_CODE.get(code, GatewayError)
    if cls is ResourceExhausted:
        return ResourceExhausted(message, code, retry_after_s=retry_after(details))
    if cls is InvalidInput:
        index, path = _record_location(message, details)
        return InvalidInput(message, code, record_index=index, field_path=path)
    return cls(message, code)


def from_rpc_error(error: grpc.RpcError) -> GatewayError:
    """The typed error a failed gRPC call stands for."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else None) or str(code)
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    return from_status(code, message, metadata)

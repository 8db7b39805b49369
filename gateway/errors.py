"""The one error root of the API: each failure a subclass carrying its gRPC status.

Handlers raise these; the interceptor (gateway.interceptor) is the single place
that turns them into a gRPC status and message. Messages are written for the
caller: they say what was wrong and what to send instead.
"""

from __future__ import annotations

import grpc

MAX_MESSAGE = 1024
"""Characters of a status message: it travels in the trailers, whose size is bounded."""


class ApiError(Exception):
    """A failure the caller should see, with the gRPC status that classifies it."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 40] + f"... ({len(message)} characters, cut)"
        super().__init__(message)
        self.message = message


def shown(value: str, limit: int = 80) -> str:
    """A caller's value quoted in a message: its first ``limit`` characters at most."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


class InvalidArgument(ApiError):
    """The request itself is wrong; the message says which field and how to fix it.

    ``field``, when set, names the bad field for programs (for example
    "records[3]/smiles": a record's index, then the JSON pointer into it); it is
    sent as a google.rpc.BadRequest field violation.
    """

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(ApiError):
    """No such thing, or one the caller may not know exists."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ApiError):
    """A model or version of that name is there already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(ApiError):
    """The caller is known but may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(ApiError):
    """No token, or one that does not verify."""

    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(ApiError):
    """Valid, but not in the current state (a model with no versions, a finished job)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(ApiError):
    """A store did not answer in time; the same call may succeed if retried."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ApiError):
    """The work took longer than its limit."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class ResourceExhausted(ApiError):
    """Over a limit; ``retry_after_s``, when known, says when the call may succeed
    (sent as google.rpc.RetryInfo and as retry-after metadata)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def model_not_found(name: str) -> NotFound:
    """The one answer for a model that is missing or that the caller may not read."""
    return NotFound(f"model {shown(name)} not found (or you have no access to it)")

"""Gateway errors as tool results: a message that tells the agent what to change.

A tool failure is not a protocol error: the agent reads it (isError) and tries
again with different arguments. Every message starts with the gRPC code's name,
then the gateway's own words, then what to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from modelgw import errors

_ADVICE: tuple[tuple[type[errors.GatewayError], str], ...] = (
    (errors.NotFound, "check the name with search_models, or the job id with list_my_jobs"),
    (errors.PermissionDenied, "this caller may not do that; ask an owner of the model for access"),
    (errors.Unauthenticated, "the bearer token was refused; get a new token"),
    (errors.AlreadyExists, "pick another name, or use the one that exists"),
    (errors.FailedPrecondition, "the model or job is not in a state that allows this"),
    (errors.Unavailable, "the gateway did not answer; try again in a few seconds"),
    (errors.DeadlineExceeded, "the call took too long; try again, with fewer records"),
)


def describe(error: errors.GatewayError) -> str:
    """What an agent reads when a gateway call failed."""
    code = error.code.name if error.code is not None else "UNKNOWN"
    if isinstance(error, errors.InvalidInput):
        return f"{code}: {error.message}{_record_hint(error)}"
    if isinstance(error, errors.ResourceExhausted):
        wait = f" in {error.retry_after_s:g} s" if error.retry_after_s else " in a minute"
        return f"{code}: {error.message}. Over a limit: try again{wait}, or with fewer records"
    if isinstance(error, errors.JobFailed):
        return f"{code}: {error.message}"
    advice = next((text for kind, text in _ADVICE if isinstance(error, kind)), "")
    return f"{code}: {error.message}" + (f". What to do: {advice}" if advice else "")


def _record_hint(error: errors.InvalidInput) -> str:
    if error.record_index is None:
        return ". Fix the arguments and call again"
    where = f"record {error.record_index}"
    if error.field_path:
        where += f", field {error.field_path}"
    return (
        f". Fix {where} to match the model's input schema "
        "(describe_model shows it, with an example input) and submit again"
    )


@contextmanager
def as_tool_result() -> Iterator[None]:
    """Turns a GatewayError raised in the block into a tool error result."""
    try:
        yield
    except errors.GatewayError as error:
        raise ToolError(describe(error)) from None


@contextmanager
def as_resource_error() -> Iterator[None]:
    """Turns a GatewayError raised in the block into a resource read error."""
    try:
        yield
    except errors.GatewayError as error:
        raise ResourceError(describe(error)) from None

"""The one enforcement point every RPC passes: request id, authentication,
authorization, and the mapping of errors to gRPC statuses.

The guard wraps each method handler when it is registered (GuardedServer):
the wrapper sees the request, which is where the model name lives (a grpc.aio
ServerInterceptor would see only the method and metadata, and cost every call
a pass through grpc's interceptor chain).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import asyncpg
import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError

from authz.actions import Action
from authz.enforcer import AccessPolicy, Decision
from authz.principal import Principal
from gateway import metrics
from gateway.access_rules import UNAUTHENTICATED_PREFIXES, Rule
from gateway.authn import TokenVerifier
from gateway.errors import (
    ApiError,
    InvalidArgument,
    PermissionDenied,
    model_not_found,
)
from settings import logs

log = logging.getLogger("modelgw.calls")

ROLLOUT_GUARD_SQLSTATE = "MGR01"
"""Raised by the database when a version of an active rollout would be deleted."""

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def caller() -> Principal:
    """The authenticated caller of the RPC being handled."""
    return _principal.get()


UnaryBehavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


class GatewayInterceptor:
    """Wraps each method's handler once, when it is registered with the server
    (GuardedServer): the wrapper authenticates the call, enforces its access rule
    (gateway.access_rules) with the request in hand, logs it and maps any
    ApiError, store outage or unexpected exception to its gRPC status.

    Wrapping at registration rather than as a grpc.aio ServerInterceptor saves
    every call grpc.aio's interceptor chain: a coroutine and a handler lookup
    per call, for an answer that never changes for a method.
    """

    def __init__(
        self, verifier: TokenVerifier, access: AccessPolicy, rules: Mapping[str, Rule]
    ) -> None:
        self._verifier = verifier
        self._access = access
        self._rules = rules
        # Wrapped handlers, built once per method.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        # Streams and calls of any kind running now: gateway.recycling replaces
        # only a process that holds no stream and few calls.
        self.open_streams = self.calls_in_flight = 0

    def wrapped(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """The method's handler with authentication, authorization, logs and metrics;
        health checks and reflection as they are (they answer without a token)."""
        if method.startswith(UNAUTHENTICATED_PREFIXES):
            return handler
        wrapped = self._wrapped.get(method)
        if wrapped is None:
            wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        rule = self._rules.get(method)
        deserializer = _tolerant(handler.request_deserializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, rule, handler.unary_unary),
                request_deserializer=deserializer,
                response_serializer=_passing_bytes(handler.response_serializer),
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, rule, handler.unary_stream),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # no client-streaming RPCs exist in the API

    def _wrap_unary(self, method: str, rule: Rule | None, behavior: UnaryBehavior) -> UnaryBehavior:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            self.calls_in_flight += 1
            try:
                await self._admit(method, rule, request, context)
                async with asyncio.timeout(_budget(context)):
                    response = await behavior(request, context)
            except Exception as exc:  # every failure leaves through _abort
                await _abort(context, method, started, exc)
                raise
            finally:
                self.calls_in_flight -= 1
            _log_call(method, grpc.StatusCode.OK, started)
            return response

        return call

    def _wrap_stream(
        self, method: str, rule: Rule | None, behavior: StreamBehavior
    ) -> StreamBehavior:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            self.open_streams += 1
            self.calls_in_flight += 1
            try:
                await self._admit(method, rule, request, context)
                async for response in behavior(request, context):
                    yield response
            except Exception as exc:
                await _abort(context, method, started, exc)
                raise
            finally:
                self.open_streams -= 1
                self.calls_in_flight -= 1
            _log_call(method, grpc.StatusCode.OK, started)

        return call

    async def _admit(
        self, method: str, rule: Rule | None, request: Any, context: grpc.aio.ServicerContext
    ) -> None:
        metadata = dict(context.invocation_metadata() or ())
        given = metadata.get("x-request-id")
        if given:
            # The caller's own id goes back with the reply; one made here is sent
            # only with a failure (_abort), where the caller may need to quote it:
            # a trailer on every successful call costs a tenth of echo's CPU.
            logs.request_id.set(str(given))
            context.set_trailing_metadata((("x-request-id", str(given)),))
        else:
            logs.request_id.set(logs.new_request_id())
        if rule is None:
            # Fail closed: a method without a rule is a programming error.
            raise PermissionDenied(f"{method} has no authorization rule; refusing it")
        principal = await self._verifier.authenticate(metadata.get("authorization"))
        _principal.set(principal)
        if isinstance(request, Undecodable):
            raise InvalidArgument(
                f"the request is not a valid {method.rsplit('/', 1)[-1]} message "
                f"({request.reason}): send the message the API defines"
            )
        await self._authorize(rule, request, principal)

    async def _authorize(self, rule: Rule, request: Any, principal: Principal) -> None:
        action = rule.action_for(request)
        if action is None:
            return
        model = rule.model_of(request)
        if model == "":
            raise InvalidArgument(f"{rule.model_field} is required: the name of the model")
        decision = self._access.decide(principal, action, model)
        if decision is not Decision.ALLOW and await self._access.ensure_fresh():
            # A grant made a moment ago by another server may have just arrived.
            decision = self._access.decide(principal, action, model)
        if decision is Decision.ALLOW:
            return
        if decision is Decision.HIDDEN and model is not None:
            raise model_not_found(model)
        raise PermissionDenied(_denial(action, model))


class GuardedServer:
    """A grpc.aio server whose every registered method passes the gateway's guard.

    The generated add_*Servicer_to_server functions register each service twice,
    as a generic handler and as pre-registered methods (which grpc prefers);
    both are wrapped, so no path reaches a handler unguarded.
    """

    def __init__(self, server: grpc.aio.Server, guard: GatewayInterceptor) -> None:
        self._server = server
        self._guard = guard

    def add_registered_method_handlers(
        self, service: str, handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service,
            {name: self._guard.wrapped(f"/{service}/{name}", h) for name, h in handlers.items()},
        )

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_GuardedGeneric(handler, self._guard) for handler in handlers)
        )

    def __getattr__(self, name: str) -> Any:  # start, stop, add_insecure_port...
        return getattr(self._server, name)


class _GuardedGeneric(grpc.GenericRpcHandler):  # type: ignore[misc]
    def __init__(self, inner: grpc.GenericRpcHandler, guard: GatewayInterceptor) -> None:
        self._inner = inner
        self._guard = guard

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._inner.service(details)
        return None if handler is None else self._guard.wrapped(details.method, handler)


class Undecodable:
    """What a request that protobuf could not decode becomes, so that the handler's
    wrapper can answer INVALID_ARGUMENT (grpc.aio itself would answer UNKNOWN)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:  # any bytes that do not decode are the caller's
            return Undecodable(f"{type(exc).__name__}: {str(exc)[:200]}")

    return deserialize


def _passing_bytes(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes] | None:
    """The method's serializer, except that a reply already serialized (bytes, as
    a handler may keep a reply it serves often) is sent as it is."""
    if serializer is None:
        return None

    def serialize(message: Any) -> bytes:
        return message if type(message) is bytes else serializer(message)

    return serialize


def _budget(context: grpc.aio.ServicerContext) -> float | None:
    """Time the handler may take: a little less than the caller's deadline, so
    that a backing store that hangs is answered UNAVAILABLE, not DEADLINE_EXCEEDED."""
    remaining: float | None = context.time_remaining()
    if remaining is None:
        return None
    return max(remaining - 0.05, 0.001)


def _denial(action: Action, model: str | None) -> str:
    if model is None or action in (Action.MANAGE_OWNERS,):
        return f"only superusers may {action.value.replace('_', ' ')}"
    return (
        f"you may read model {model!r} but not {action.value.replace('_', ' ')} it; "
        "ask one of its owners or a superuser"
    )


async def _abort(
    context: grpc.aio.ServicerContext, method: str, started: float, exc: Exception
) -> None:
    """Ends the call with the status the exception stands for.

    Returns only when exc is grpc's own abort signal, which the caller re-raises.
    """
    if _is_grpc_abort(exc):
        return
    code, message = grpc_status_for(exc)
    _log_call(method, code, started)
    # The request id (the caller's, already set, or the one made for this call).
    trailers: tuple[tuple[str, str | bytes], ...] = tuple(context.trailing_metadata() or ()) or (
        ("x-request-id", logs.request_id.get()),
    )
    details = _details(exc)
    if details:
        status = status_pb2.Status(code=code.value[0], message=message, details=details)
        trailers += (
            *_retry_after_header(exc),
            ("grpc-status-details-bin", status.SerializeToString()),
        )
    await context.abort(code, message, trailing_metadata=trailers)


def _details(exc: Exception) -> list[any_pb2.Any]:
    """The google.rpc details of an error: RetryInfo when it says when to retry,
    BadRequest when it names the bad field."""
    details: list[any_pb2.Any] = []
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromTimedelta(datetime.timedelta(seconds=retry_after))
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(detail)
    if isinstance(exc, InvalidArgument) and exc.field:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=exc.field, description=exc.message
        )
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
        details.append(detail)
    return details


def _retry_after_header(exc: Exception) -> tuple[tuple[str, str], ...]:
    # RetryInfo for gRPC clients; retry-after (whole seconds) for REST ones, which
    # Envoy passes on as a response header with the 429.
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is None:
        return ()
    return (("retry-after", str(max(1, math.ceil(retry_after)))),)


def grpc_status_for(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC status and message an exception raised by a handler stands for."""
    if isinstance(exc, ApiError):
        return exc.code, exc.message
    if isinstance(exc, asyncpg.exceptions.DataError):
        # A value PostgreSQL cannot store (a NUL character, an out-of-range
        # number) that validation let through: the caller's input, not a fault.
        return grpc.StatusCode.INVALID_ARGUMENT, f"a value cannot be stored: {exc}"
    if isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == ROLLOUT_GUARD_SQLSTATE:
        # A version an active rollout splits traffic over (migration 0009's guard).
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    if isinstance(exc, RedisOutOfMemoryError):
        return (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "the job store is full (Redis maxmemory): retry once jobs have finished or expired",
        )
    if isinstance(exc, asyncpg.exceptions.CannotConnectNowError):
        return grpc.StatusCode.UNAVAILABLE, "the database is starting up; retry shortly"
    if isinstance(exc, (OSError, TimeoutError, asyncpg.InterfaceError, RedisConnectionError)):
        return (
            grpc.StatusCode.UNAVAILABLE,
            f"a backing store is unavailable ({type(exc).__name__}); retry shortly",
        )
    log.exception("unhandled error", exc_info=exc)
    return (
        grpc.StatusCode.INTERNAL,
        f"internal error; quote request id {logs.request_id.get()} when reporting it",
    )


def _is_grpc_abort(exc: Exception) -> bool:
    # context.abort raises a private exception type; let it pass through.
    return type(exc).__module__.startswith("grpc")


def _log_call(method: str, code: grpc.StatusCode, started: float) -> None:
    elapsed = time.perf_counter() - started
    metrics.observe_call(method, code.name, elapsed)
    # Successful calls log at DEBUG: at thousands of calls a second, formatting
    # a line for each would cost more than the call.
    level = logging.DEBUG if code is grpc.StatusCode.OK else logging.INFO
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "call",
        extra={"fields": {"method": method, "code": code.name, "ms": round(elapsed * 1000, 3)}},
    )


def status_of(exc: Exception) -> status_pb2.Status:
    """The google.rpc.Status a call failing with `exc` would end with, details
    included: what a handler answering each item of a batch on its own reports."""
    code, message = grpc_status_for(exc)
    return status_pb2.Status(code=code.value[0], message=message, details=_details(exc))


def refusal(decision: Decision, action: Action, model: str) -> ApiError:
    """What `_authorize` answers a call on `model` that `decision` refuses, for a
    handler that authorizes each item of a batch itself."""
    if decision is Decision.HIDDEN:
        return model_not_found(model)
    return PermissionDenied(_denial(action, model))

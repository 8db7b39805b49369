"""The connection: where to, with which token, and unary calls retried with backoff.

A `Caller` (blocking) or `AsyncCaller` (grpc.aio) holds one channel, the stubs of
the services behind it and one caller's token. `with_token` makes another caller
on the same channel, so one process can serve many users over one connection.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from modelgateway.v1 import execution_pb2_grpc, registry_pb2_grpc
from modelgw.errors import DeadlineExceeded, GatewayError, InvalidInput, from_rpc_error

DEFAULT_TARGET = "127.0.0.1:8080"
"""Envoy's one port in the local mesh: all three services answer there over gRPC."""
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED})
FIRST_DELAY_S = 0.1
MAX_DELAY_S = 10.0
_OPTIONS = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
)


@dataclass(frozen=True)
class Settings:
    """What every call of one client uses: target, token, deadline and retries."""

    target: str
    token: str | None
    timeout_s: float
    retries: int

    @classmethod
    def resolve(
        cls,
        target: str | None,
        token: str | None,
        timeout_s: float,
        retries: int,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Arguments first, then MODELGW_TARGET and MODELGW_TOKEN; loud on bad values."""
        env = os.environ if env is None else env
        target = (target or env.get("MODELGW_TARGET") or DEFAULT_TARGET).strip()
        token = token if token is not None else env.get("MODELGW_TOKEN") or None
        if not target or any(c.isspace() for c in target):
            raise InvalidInput(f"target {target[:80]!r} is not a host:port address")
        if token is not None and (not token.strip() or any(c in token for c in "\r\n\0")):
            raise InvalidInput("the token is empty or holds a line break or NUL character")
        if not timeout_s > 0:
            raise InvalidInput(f"timeout_s must be a positive number of seconds, not {timeout_s}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"retries must be a whole number 0 or more, not {retries!r}")
        return cls(target, token.strip() if token else None, float(timeout_s), retries)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata: the bearer token, when there is one."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()


def backoff_s(attempt: int, hint_s: float | None = None) -> float:
    """How long to wait before retry number ``attempt`` (0-based): the server's
    RetryInfo when it sent one, else exponential with full jitter."""
    if hint_s is not None:
        return hint_s + random.uniform(0, min(1.0, hint_s * 0.1))
    return random.uniform(0, min(MAX_DELAY_S, FIRST_DELAY_S * 2**attempt)) + 0.01


def retry_delay(error: GatewayError, attempt: int, retries: int, deadline: float) -> float | None:
    """Seconds to wait before retrying after ``error``, or None to give up now."""
    if error.code not in RETRYABLE or attempt >= retries:
        return None
    delay = backoff_s(attempt, getattr(error, "retry_after_s", None))
    if time.monotonic() + delay >= deadline:
        return None
    return delay


def _expired(timeout_s: float) -> DeadlineExceeded:
    return DeadlineExceeded(f"no answer within the deadline of {timeout_s:g} s")


class _Stubs:
    registry: Any
    execution: Any

    def _make_stubs(self, channel: Any) -> None:
        self.registry = registry_pb2_grpc.RegistryServiceStub(channel)
        self.execution = execution_pb2_grpc.ExecutionServiceStub(channel)


class Caller(_Stubs):
    """Blocking calls over one channel with one caller's token."""

    def __init__(self, settings: Settings, channel: grpc.Channel | None = None) -> None:
        self.settings = settings
        self.owns_channel = channel is None
        self.channel = channel or grpc.insecure_channel(settings.target, options=_OPTIONS)
        self._make_stubs(self.channel)

    def with_token(self, token: str) -> Caller:
        """Another caller on the same channel; closing it leaves the channel open."""
        settings = Settings.resolve(
            self.settings.target, token, self.settings.timeout_s, self.settings.retries, {}
        )
        return Caller(settings, self.channel)

    def call(self, method: Callable[..., Any], request: Any, timeout_s: float | None = None) -> Any:
        """One unary call, retried on UNAVAILABLE and RESOURCE_EXHAUSTED within the deadline."""
        budget = timeout_s or self.settings.timeout_s
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _expired(budget)
            try:
                return method(request, metadata=self.settings.metadata, timeout=remaining)
            except grpc.RpcError as exc:
                error = from_rpc_error(exc)
            delay = retry_delay(error, attempt, self.settings.retries, deadline)
            if delay is None:
                raise error
            time.sleep(delay)
            attempt += 1

    def close(self) -> None:
        """Closes the channel if this caller opened it."""
        if self.owns_channel:
            self.channel.close()


class AsyncCaller(_Stubs):
    """grpc.aio calls over one channel with one caller's token."""

    def __init__(self, settings: Settings, channel: grpc.aio.Channel | None = None) -> None:
        self.settings = settings
        self.owns_channel = channel is None
        self.channel = channel or grpc.aio.insecure_channel(settings.target, options=_OPTIONS)
        self._make_stubs(self.channel)

    def with_token(self, token: str) -> AsyncCaller:
        """Another caller on the same channel; closing it leaves the channel open."""
        settings = Settings.resolve(
            self.settings.target, token, self.settings.timeout_s, self.settings.retries, {}
        )
        return AsyncCaller(settings, self.channel)

    async def call(
        self, method: Callable[..., Any], request: Any, timeout_s: float | None = None
    ) -> Any:
        """One unary call, retried on UNAVAILABLE and RESOURCE_EXHAUSTED within the deadline."""
        budget = timeout_s or self.settings.timeout_s
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _expired(budget)
            try:
                return await method(request, metadata=self.settings.metadata, timeout=remaining)
            except grpc.RpcError as exc:
                error = from_rpc_error(exc)
            delay = retry_delay(error, attempt, self.settings.retries, deadline)
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            attempt += 1

    async def close(self) -> None:
        """Closes the channel if this caller opened it."""
        if self.owns_channel:
            await self.channel.close()

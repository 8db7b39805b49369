"""Both ways grpc finds a handler (pre-registered methods, generic handlers) lead
to the guarded handler; health and reflection stay open."""

from __future__ import annotations

from typing import Any

import grpc

from gateway.access_rules import RULES
from gateway.interceptor import GatewayInterceptor, GuardedServer


class _Recorder:
    def __init__(self) -> None:
        self.registered: dict[str, dict[str, Any]] = {}
        self.generic: tuple[Any, ...] = ()

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.registered[service] = handlers

    def add_generic_rpc_handlers(self, handlers: tuple[Any, ...]) -> None:
        self.generic = handlers


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


async def _behavior(request: Any, context: Any) -> Any:
    return request


def test_every_path_to_a_handler_is_guarded() -> None:
    recorder = _Recorder()
    server = GuardedServer(recorder, GatewayInterceptor(None, None, RULES))  # type: ignore[arg-type]
    raw = grpc.unary_unary_rpc_method_handler(_behavior)
    services = {
        "modelgateway.v1.ExecutionService": {"GetJob": raw},
        "grpc.health.v1.Health": {"Check": raw},
    }
    for service, handlers in services.items():
        server.add_registered_method_handlers(service, handlers)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        guarded = recorder.registered[service][next(iter(handlers))]
        method = f"/{service}/{next(iter(handlers))}"
        found = recorder.generic[0].service(_Details(method))
        assert found is guarded  # one wrapper per method, whichever way grpc looks
        if service.startswith("grpc.health"):
            assert guarded is raw
        else:
            assert guarded is not raw and guarded.unary_unary is not _behavior
    assert recorder.generic[0].service(_Details("/nope.Service/Nothing")) is None

"""Prometheus metrics of the gateway processes, and the /metrics endpoint every
process serves on its own port (MODELGW_<PROCESS>_METRICS_PORT; 0 disables it).

The interceptor counts every call by method and status code and times it; the
job metrics live in scheduler.metrics. Metric objects are registered once per
process in prometheus_client's default registry, its usual pattern. Under
gateway.prefork, the children record them in files (multiprocess mode) and the
parent serves their sum: counters and histograms add up across processes. The
only gauges (scheduler.metrics) are set by `modelgw scheduler` alone, never in a
server process, so they need no multiprocess_mode.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

log = logging.getLogger("modelgw.metrics")

RPC_CALLS = Counter(
    "modelgw_rpc_calls_total", "RPCs handled, by method and gRPC status code.", ["method", "code"]
)
RPC_SECONDS = Histogram(
    "modelgw_rpc_duration_seconds",
    "RPC latency, by method and gRPC status code (streams: until they end).",
    ["method", "code"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60),
)


# The labelled children, looked up once per (method, code): labels() takes a
# lock and builds a key on every call, a measurable share of a cheap RPC.
_CALL_SERIES: dict[tuple[str, str], tuple[Any, Any]] = {}


def observe_call(method: str, code: str, seconds: float) -> None:
    """Counts and times one finished RPC by method and status code."""
    series = _CALL_SERIES.get((method, code))
    if series is None:
        series = _CALL_SERIES[(method, code)] = (
            RPC_CALLS.labels(method, code),
            RPC_SECONDS.labels(method, code),
        )
    series[0].inc()
    series[1].observe(seconds)


@contextmanager
def serving_metrics(host: str, port: int, registry: CollectorRegistry = REGISTRY) -> Iterator[int]:
    """Serves registry's /metrics on host:port while the block runs; yields the port (0: off).

    A port that cannot be bound fails the process at start, naming the port,
    rather than leaving it running unobserved.
    """
    if port == 0:
        yield 0
        return
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise OSError(f"cannot serve metrics on {host}:{port}: {exc}") from exc
    log.info("metrics", extra={"fields": {"address": f"{host}:{port}"}})
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

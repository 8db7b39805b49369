"""Prefork: N copies of one server process sharing its port through SO_REUSEPORT.

One grpc.aio process saturates its main thread (about 1,200 SubmitJob/s) while
other cores idle. With MODELGW_SERVER_PROCESSES=N (or `--processes N`),
`modelgw serve` runs this small parent instead of a server: it checks the port
is free, starts N children (the same command, told by MODELGW_PREFORK_CHILD
that they may share the port) and the kernel spreads incoming TCP connections
across them. Connections, not calls: one client channel stays on one child.

The parent serves the children's metrics, summed (prometheus_client's
multiprocess mode), forwards SIGTERM/SIGINT and waits for the children's drain.
When a child dies unasked it stops the others and exits non-zero: restarting is
left to whoever supervises the parent (the mesh supervisor, Kubernetes).

Migrations need no step of their own here: every child runs migrate(), which
applies them under a PostgreSQL advisory transaction lock and reads what is
applied only once it holds the lock, so concurrent children apply each once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.config import PREFORK_CHILD_ENV, ConfigError, GatewayConfig
from gateway.metrics import serving_metrics
from mesh.process import die_with_parent, terminate
from mesh.signals import on_stop_signals

log = logging.getLogger("modelgw.prefork")

# Read by prometheus_client when it is imported: each child then keeps its
# metric values in files of this directory, named by its pid.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# What a child gets beyond its own drain (closing pools, exiting) before SIGKILL.
_EXIT_MARGIN_S = 5.0


class PortTaken(OSError):
    """Something already listens on the address the children would share."""


@dataclass(frozen=True)
class PreforkSpec:
    """`argv` run `processes` times, sharing host:port."""

    name: str
    argv: tuple[str, ...]
    host: str
    port: int
    processes: int
    # A child's drain after SIGTERM (its shutdown grace).
    grace_s: float
    # The children's metrics, summed, on host:metrics_port; 0: none.
    metrics_port: int = 0
    # Added to the children's environment.
    env: Mapping[str, str] = field(default_factory=dict)


def service_spec(service: str, config: GatewayConfig, processes: int) -> PreforkSpec:
    """`modelgw serve SERVICE` run `processes` times."""
    return PreforkSpec(
        name=service,
        argv=(sys.executable, "-m", "cli", "serve", service),
        host=config.host,
        port=config.ports[service],
        processes=processes,
        grace_s=config.shutdown_grace_s,
        metrics_port=config.metrics_ports[service],
        # The parent serves the metrics port; a child binding it would collide.
        env={f"MODELGW_{service.upper()}_METRICS_PORT": "0"},
    )


def check_port_free(host: str, port: int) -> None:
    """Raises PortTaken if a listener holds host:port, shared (SO_REUSEPORT) or not."""
    address = f"{host}:{port}"
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    ):
        with socket.socket(family, kind, proto) as sock:
            # Without SO_REUSEPORT, any listener makes the bind fail. SO_REUSEADDR
            # (which gRPC sets too) only lets it pass over connections of a previous
            # run lingering in TIME_WAIT, which would not stop the servers binding.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                raise PortTaken(f"cannot listen on {address}: {exc.strerror}") from exc


class Prefork:
    """The parent: start(), wait() for a stop request or a child's death, then stop()."""

    def __init__(self, spec: PreforkSpec) -> None:
        if spec.port == 0:
            raise ConfigError(f"{spec.name}: {spec.processes} processes need a fixed port, not 0")
        self.spec = spec
        self.children: list[subprocess.Popen[bytes]] = []
        self.metrics_dir: Path | None = None
        self._metrics = contextlib.ExitStack()
        self._requested: int | None = None

    def request_stop(self, signum: int, frame: FrameType | None = None) -> None:
        """A signal handler: wait() returns at its next look."""
        self._requested = signum

    def start(self) -> None:
        """Checks the port is free, then starts the children and the metrics server."""
        spec = self.spec
        check_port_free(spec.host, spec.port)
        if spec.metrics_port:
            check_port_free(spec.host, spec.metrics_port)
            self.metrics_dir = Path(tempfile.mkdtemp(prefix=f"modelgw-{spec.name}-metrics-"))
        for index in range(spec.processes):
            self.children.append(self._spawn(index))
        if self.metrics_dir is not None:
            # Only now: the metrics server is a thread, and the children's
            # preexec_fn must not run in a fork of a process that has threads.
            registry = CollectorRegistry()
            # (prometheus_client's multiprocess module has no type annotations)
            MultiProcessCollector(registry, path=str(self.metrics_dir))  # type: ignore[no-untyped-call]
            self._metrics.enter_context(serving_metrics(spec.host, spec.metrics_port, registry))

    def wait(self) -> bool:
        """Blocks until a stop is requested (True) or a child exits unasked (False)."""
        while self._requested is None:
            for index, child in enumerate(self.children):
                if child.poll() is not None:
                    fields = {"index": index, "pid": child.pid, "code": child.returncode}
                    log.error("child exited unasked; stopping the others", extra={"fields": fields})
                    return False
            time.sleep(0.1)
        log.info("stopping", extra={"fields": {"signal": signal.Signals(self._requested).name}})
        return True

    def stop(self) -> bool:
        """SIGTERMs the children and waits for their drain; True if all exited 0.

        Safe to call twice.
        """
        terminate(self.children, self.spec.grace_s + _EXIT_MARGIN_S)
        self._metrics.close()
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.metrics_dir = None
        codes = [child.returncode for child in self.children]
        if codes:
            log.info("stopped", extra={"fields": {"codes": codes}})
        return all(code == 0 for code in codes)

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **self.spec.env,
            PREFORK_CHILD_ENV: str(index),
            "MODELGW_SERVER_PROCESSES": str(self.spec.processes),
        }
        if self.metrics_dir is not None:
            env[MULTIPROC_DIR_ENV] = str(self.metrics_dir)
        child = subprocess.Popen(
            self.spec.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own session: a terminal's Ctrl-C reaches the parent only, which
            # forwards it once, rather than every child getting it twice.
            start_new_session=True,
            # A parent killed outright (SIGKILL, OOM) still stops its children,
            # so a restarted parent finds the port free.
            preexec_fn=die_with_parent,
        )
        log.info("child started", extra={"fields": {"index": index, "pid": child.pid}})
        return child


def run_prefork(spec: PreforkSpec) -> int:
    """Runs the parent until SIGTERM/SIGINT or a child's death; the process's exit code."""
    prefork = Prefork(spec)
    requested = clean = False
    with on_stop_signals(prefork.request_stop):
        try:
            prefork.start()
            log.info(
                "serving",
                extra={
                    "fields": {
                        "service": spec.name,
                        "address": f"{spec.host}:{spec.port}",
                        "processes": spec.processes,
                        "metrics_dir": str(prefork.metrics_dir or ""),
                    }
                },
            )
            requested = prefork.wait()
        except PortTaken as exc:
            log.error(str(exc), extra={"fields": {"service": spec.name}})
        finally:
            clean = prefork.stop()
    return 0 if requested and clean else 1

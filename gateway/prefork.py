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
left to whoever supervises the parent (the mesh supervisor, Kubernetes). A child
that asks to be replaced (gateway.recycling: it grew in a burst and holds no
stream) gets a fresh process in its slot, started before it is stopped.

Migrations need no step of their own here: every child runs migrate(), which
applies them under a PostgreSQL advisory transaction lock and reads what is
applied only once it holds the lock, so concurrent children apply each once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
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

from gateway import recycling
from gateway.config import PREFORK_CHILD_ENV, PREFORK_LINE_ENV, ConfigError, GatewayConfig
from gateway.metrics import serving_metrics
from mesh.process import die_with_parent, terminate
from mesh.signals import on_stop_signals

log = logging.getLogger("modelgw.prefork")

# Read by prometheus_client when it is imported: each child then keeps its
# metric values in files of this directory, named by its pid.
MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The parent's pid, so that a child can tell it outlived its parent (bind_to_parent).
PREFORK_PARENT_ENV = "MODELGW_PREFORK_PARENT"
# A slot starts a replacement at most this often.
REPLACE_SLOT_EVERY_S = 60.0
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


@dataclass
class _Child:
    """One child process, the slot it serves and the parent's end of its line."""

    slot: int
    process: subprocess.Popen[bytes]
    line: int
    # When a child leaving for its replacement must have exited (then SIGKILL).
    leave_by: float = 0.0


class Prefork:
    """The parent: start(), wait() for a stop request or a child's death, then stop().

    Each of the N slots has one serving child. A child may ask, over its line, to
    be replaced (gateway.recycling): a new child starts in its slot, and once the
    new one serves the old one gets SIGTERM and drains.
    """

    def __init__(self, spec: PreforkSpec) -> None:
        if spec.port == 0:
            raise ConfigError(f"{spec.name}: {spec.processes} processes need a fixed port, not 0")
        self.spec = spec
        self.metrics_dir: Path | None = None
        self._metrics = contextlib.ExitStack()
        self._requested: int | None = None
        self._serving: list[_Child] = []
        # A replacement started for a slot, until it serves.
        self._incoming: dict[int, _Child] = {}
        # Children replaced, until they have drained and exited.
        self._leaving: list[_Child] = []
        # When each slot last started a replacement.
        self._replaced_at: dict[int, float] = {}

    @property
    def children(self) -> list[subprocess.Popen[bytes]]:
        """Every child process running or not yet reaped."""
        everyone = [*self._serving, *self._incoming.values(), *self._leaving]
        return [child.process for child in everyone]

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
        for slot in range(spec.processes):
            self._serving.append(self._spawn(slot))
        if self.metrics_dir is not None:
            registry = CollectorRegistry()
            # (prometheus_client's multiprocess module has no type annotations)
            MultiProcessCollector(registry, path=str(self.metrics_dir))  # type: ignore[no-untyped-call]
            self._metrics.enter_context(serving_metrics(spec.host, spec.metrics_port, registry))

    def wait(self) -> bool:
        """Blocks until a stop is requested (True) or a serving child exits unasked (False)."""
        while self._requested is None:
            self._read_lines(timeout_s=0.1)
            for child in self._serving:
                if child.process.poll() is not None:
                    fields = {
                        "index": child.slot,
                        "pid": child.process.pid,
                        "code": child.process.returncode,
                    }
                    log.error("child exited unasked; stopping the others", extra={"fields": fields})
                    return False
            self._reap_replacements()
        log.info("stopping", extra={"fields": {"signal": signal.Signals(self._requested).name}})
        return True

    def stop(self) -> bool:
        """SIGTERMs the children and waits for their drain; True if all serving ones exited 0.

        Safe to call twice.
        """
        terminate(self.children, self.spec.grace_s + _EXIT_MARGIN_S)
        self._metrics.close()
        if self.metrics_dir is not None:
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
            self.metrics_dir = None
        for child in [*self._serving, *self._incoming.values(), *self._leaving]:
            _close(child)
        codes = [child.process.returncode for child in self._serving]
        if codes:
            log.info("stopped", extra={"fields": {"codes": codes}})
        return all(code == 0 for code in codes)

    def _read_lines(self, timeout_s: float) -> None:
        """Acts on what the children said over their lines, waiting at most timeout_s."""
        everyone = [*self._serving, *self._incoming.values()]
        speaking = {child.line: child for child in everyone if child.line >= 0}
        if not speaking:
            time.sleep(timeout_s)
            return
        readable, _, _ = select.select(list(speaking), [], [], timeout_s)
        for line in readable:
            child = speaking[line]
            said = os.read(line, 64)
            if not said:  # the child closed its end (it exited): poll() tells how
                _close(child)
            if recycling.READY in said and self._incoming.get(child.slot) is child:
                self._take_over(child)
            if recycling.REPLACE_ME in said and child in self._serving:
                self._replace(child)

    def _replace(self, old: _Child) -> None:
        if old.slot in self._incoming:
            return
        # Children whose working set outgrows MODELGW_RECYCLE_GROWTH_MB would
        # otherwise replace each other as fast as they start.
        last = self._replaced_at.get(old.slot)
        if last is not None and time.monotonic() - last < REPLACE_SLOT_EVERY_S:
            return
        self._replaced_at[old.slot] = time.monotonic()
        try:
            new = self._incoming[old.slot] = self._spawn(old.slot)
        except OSError as exc:  # no fork, no pipe: the old child goes on serving
            fields = {"index": old.slot, "pid": old.process.pid, "error": str(exc)}
            log.error("cannot start a replacement", extra={"fields": fields})
            return
        fields = {"index": old.slot, "pid": old.process.pid, "replacement": new.process.pid}
        log.info("replacing a child that asked for it", extra={"fields": fields})

    def _take_over(self, new: _Child) -> None:
        """The replacement serves: it takes the slot, and the old child drains."""
        del self._incoming[new.slot]
        old = self._serving[new.slot]
        self._serving[new.slot] = new
        old.leave_by = time.monotonic() + self.spec.grace_s + _EXIT_MARGIN_S
        with contextlib.suppress(ProcessLookupError):
            old.process.send_signal(signal.SIGTERM)
        self._leaving.append(old)
        fields = {"index": new.slot, "pid": new.process.pid, "replaced": old.process.pid}
        log.info("child replaced", extra={"fields": fields})

    def _reap_replacements(self) -> None:
        for slot, new in list(self._incoming.items()):
            if new.process.poll() is not None:
                # The old child still serves; a replacement that could not start
                # does not take the others down.
                del self._incoming[slot]
                _close(new)
                fields = {"index": slot, "pid": new.process.pid, "code": new.process.returncode}
                log.error("a replacement exited before serving", extra={"fields": fields})
        for old in list(self._leaving):
            if old.process.poll() is None and time.monotonic() > old.leave_by:
                with contextlib.suppress(ProcessLookupError):
                    old.process.kill()
            if old.process.poll() is not None:
                self._leaving.remove(old)
                _close(old)
                fields = {"pid": old.process.pid, "code": old.process.returncode}
                log.info("replaced child exited", extra={"fields": fields})

    def _spawn(self, slot: int) -> _Child:
        line, child_end = os.pipe()
        env = {
            **os.environ,
            **self.spec.env,
            PREFORK_CHILD_ENV: str(slot),
            PREFORK_LINE_ENV: str(child_end),
            PREFORK_PARENT_ENV: str(os.getpid()),
            "MODELGW_SERVER_PROCESSES": str(self.spec.processes),
        }
        if self.metrics_dir is not None:
            env[MULTIPROC_DIR_ENV] = str(self.metrics_dir)
        try:
            process = subprocess.Popen(
                self.spec.argv,
                env=env,
                stdin=subprocess.DEVNULL,
                pass_fds=(child_end,),
                # Its own session: a terminal's Ctrl-C reaches the parent only, which
                # forwards it once, rather than every child getting it twice.
                start_new_session=True,
            )
        except BaseException:
            os.close(line)
            raise
        finally:
            os.close(child_end)
        log.info("child started", extra={"fields": {"index": slot, "pid": process.pid}})
        return _Child(slot, process, line)


def _close(child: _Child) -> None:
    if child.line >= 0:
        os.close(child.line)
        child.line = -1


def bind_to_parent(env: Mapping[str, str]) -> None:
    """In a child: die with the parent (SIGTERM), so that a parent killed outright
    (SIGKILL, OOM) leaves nothing holding the port for its restart.

    The child asks this itself rather than in a preexec_fn, which is unsafe in a
    fork of a process with threads: the parent starts replacements while its
    metrics thread runs.
    """
    die_with_parent()
    if str(os.getppid()) != env.get(PREFORK_PARENT_ENV):
        sys.exit("the prefork parent exited before this child started")


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

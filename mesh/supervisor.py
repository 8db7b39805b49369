"""`modelgw up`: PostgreSQL, Redis and the gateway servers as local processes.

Start order: PostgreSQL, Redis, then SERVICES one by one (each must be ready before
the next starts, so only one applies database migrations at a time; a one-shot step
must have exited 0). A part that fails to start stops the mesh. Once all are up, a
part that dies (a store or a service; not a one-shot step, which is done) is
started again as before, after a backoff (mesh.restarts); one that crashes
too often stops the mesh. Stop order is the reverse: the services, then Redis, then
PostgreSQL. An isolated service (the worker) gets only the environment
mesh.isolation allows and, when the supervisor runs as root, an
unprivileged user.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType

from mesh.isolation import (
    ISOLATED_CWD,
    isolated_env,
    unprivileged_user,
    worker_interpreter,
)
from mesh.postgres import LocalPostgres
from mesh.process import (
    MeshError,
    exit_reason,
    is_root,
    log_tail,
    spawn,
    terminate,
    wait_until,
)
from mesh.redis import LocalRedis
from mesh.restarts import CrashHistory, RestartPolicy
from mesh.services import SERVICES, Service, is_ready
from mesh.signals import ignore_stop_signals, on_stop_signals
from settings import SettingsError
from settings.env import port as read_port

QUERY_DATABASE_URL = "MODELGW_QUERY_DATABASE_URL"


def _memory(env: Mapping[str, str], name: str, default: str) -> str:
    raw = (env.get(name, "").strip() or default).lower()
    number = raw.removesuffix("b").rstrip("kmg")
    if not number.isdigit() or int(number) == 0:
        raise SettingsError(f"{name} must be a size such as 512mb or 2gb, got {raw!r}")
    return raw


@dataclass(frozen=True)
class MeshConfig:
    """Where the mesh keeps its data and where each part listens."""

    home: Path
    host: str = "127.0.0.1"
    pg_port: int = 55432
    redis_port: int = 56379
    redis_maxmemory: str = "1gb"
    service_ports: Mapping[str, int] = field(default_factory=dict)
    start_timeout: float = 60.0
    stop_grace: float = 10.0
    restarts: RestartPolicy = field(default_factory=RestartPolicy)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, services: Sequence[Service] = SERVICES
    ) -> MeshConfig:
        """Read MODELGW_HOME, MODELGW_HOST, MODELGW_PG_PORT, MODELGW_REDIS_PORT and
        each service's port variable; MeshError on a bad value."""
        try:
            return cls._read(env, services)
        except SettingsError as error:
            raise MeshError(str(error)) from None

    @classmethod
    def _read(cls, env: Mapping[str, str], services: Sequence[Service]) -> MeshConfig:
        return cls(
            home=Path(env.get("MODELGW_HOME") or ".modelgw").absolute(),
            host=env.get("MODELGW_HOST") or "127.0.0.1",
            pg_port=read_port(env, "MODELGW_PG_PORT", 55432, minimum=1),
            redis_port=read_port(env, "MODELGW_REDIS_PORT", 56379, minimum=1),
            redis_maxmemory=_memory(env, "MODELGW_REDIS_MAXMEMORY", "1gb"),
            service_ports={
                s.port_env: read_port(env, s.port_env, s.default_port, minimum=1)
                for s in services
                if s.port_env is not None and s.default_port is not None
            },
        )

    def port_of(self, service: Service) -> int | None:
        """The port `service` listens on; None for one without a port."""
        return self.service_ports.get(service.port_env) if service.port_env else None


# The stores' names in the supervisor's messages; the services go by their own.
POSTGRES, REDIS = "postgres", "redis"

# Under MODELGW_HOME, for the supervisor's user only: Redis's data, the processes'
# logs, the envoy configuration, the audit log and its spool (their default places).
PRIVATE_DIRS = ("redis", "logs", "envoy", "audit", "audit-spool")


class Mesh:
    """The running processes; start() then wait(), and stop() in a finally."""

    def __init__(self, config: MeshConfig, services: Sequence[Service] = SERVICES) -> None:
        self.config = config
        self.services = list(services)
        self.postgres = LocalPostgres(config.home / "postgres", config.pg_port)
        self.redis = LocalRedis(
            config.home / "redis", config.redis_port, maxmemory=config.redis_maxmemory
        )
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        # How each service was started: a restart starts it the same way.
        self._launchers: dict[str, Callable[[], subprocess.Popen[bytes]]] = {}
        self._crashes: dict[str, CrashHistory] = {}

    def log_path(self, service: Service) -> Path:
        return self.config.home / "logs" / f"{service.name}.log"

    def start(self) -> None:
        """Start everything; raises MeshError (with the failing part's log) if a part fails."""
        self._prepare_home()
        isolation = self._isolation()
        env = self.child_env(self.postgres.start(), self.redis.start())
        for service in self.services:
            launch = self._launcher(service, self._service_env(service, env), isolation)
            self._launchers[service.name] = launch
            self.children[service.name] = launch()
            self._await_ready(service)

    def _launcher(
        self,
        service: Service,
        env: dict[str, str],
        isolation: tuple[pwd.struct_passwd, Path] | None,
    ) -> Callable[[], subprocess.Popen[bytes]]:
        """How to start `service`: the first time and after each crash alike."""
        log = self.log_path(service)
        if not service.isolated:
            return partial(spawn, service.argv(), log, env)
        argv, user = service.argv(), None
        if isolation is not None:
            user, python = isolation
            if argv[0] == sys.executable:
                argv[0] = str(python)
        return partial(spawn, argv, log, isolated_env(env), user=user, cwd=ISOLATED_CWD)

    def wait(self) -> None:
        """Watch the parts until a signal stops the mesh: start again, after its
        backoff, one that died; raise MeshError, with its log, when one crashes too often."""
        due: dict[str, float] = {}  # a dead part's name: when to start it again
        while True:
            for name in self._watched():
                if name not in due and (reason := self._ended(name)) is not None:
                    due[name] = time.monotonic() + self._backoff(name, reason)
            for name in [name for name, at in due.items() if at <= time.monotonic()]:
                del due[name]
                try:
                    self._restart(name)
                except MeshError as error:
                    reason = f"did not start again ({str(error).splitlines()[0]})"
                    due[name] = time.monotonic() + self._backoff(name, reason)
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the services, then Redis, then PostgreSQL. Safe to call twice."""
        try:
            terminate(list(reversed(self.children.values())), self.config.stop_grace)
            self.redis.stop()
        finally:
            self.postgres.stop()

    def child_env(self, database_url: str, redis_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MODELGW_HOME": str(self.config.home),
            "MODELGW_HOST": self.config.host,
            "MODELGW_DATABASE_URL": database_url,
            "MODELGW_REDIS_URL": redis_url,
            **{name: str(port) for name, port in self.config.service_ports.items()},
        }

    def _prepare_home(self) -> None:
        """MODELGW_HOME may be traversed (PostgreSQL's and the worker's users go through
        it) but not listed; what holds job data or logs is the supervisor's user's alone.

        Redis's files hold every job's inputs and results: a model running as the
        worker's user must not read them off the disk instead of through Redis.
        """
        home = self.config.home
        home.mkdir(mode=0o711, parents=True, exist_ok=True)
        home.chmod(0o711)
        for private in PRIVATE_DIRS:
            (home / private).mkdir(mode=0o700, exist_ok=True)
            (home / private).chmod(0o700)

    def _service_env(self, service: Service, env: Mapping[str, str]) -> dict[str, str]:
        """`env`, and the SQL console role's DSN for the service that runs the console only."""
        own = {name: value for name, value in env.items() if name != QUERY_DATABASE_URL}
        if service.sql_console:
            own[QUERY_DATABASE_URL] = self.postgres.query_dsn
        return own

    def _isolation(self) -> tuple[pwd.struct_passwd, Path] | None:
        """Under root, the user isolated services run as and the interpreter that user
        can run, found (or built) before anything starts."""
        if not is_root() or not any(s.isolated for s in self.services):
            return None
        user = unprivileged_user()
        return user, worker_interpreter(user, self.config.home)

    def _await_ready(self, service: Service) -> None:
        if service.probe == "exit":
            self._await_exit(service)
            return
        port = self.config.port_of(service)

        def ready() -> bool:
            self._check_alive(service)
            return is_ready(service.probe, self.config.host, port)

        if not wait_until(ready, self.config.start_timeout, interval=0.25):
            raise MeshError(
                f"{service.name} did not become ready on {self.config.host}:{port} "
                f"within {self.config.start_timeout:.0f}s\n{self._tail(service)}"
            )

    def _await_exit(self, service: Service) -> None:
        try:
            code = self.children[service.name].wait(timeout=self.config.start_timeout)
        except subprocess.TimeoutExpired:
            raise MeshError(
                f"{service.name} did not finish within {self.config.start_timeout:.0f}s\n"
                f"{self._tail(service)}"
            ) from None
        if code != 0:
            raise MeshError(f"{service.name} exited with code {code}\n{self._tail(service)}")

    def _check_alive(self, service: Service) -> None:
        code = self.children[service.name].poll()
        if code is not None:
            raise MeshError(f"{service.name} {exit_reason(code)}\n{self._tail(service)}")

    def _tail(self, part: Service | str) -> str:
        if part == POSTGRES:
            path = self.postgres.log_path
        elif part == REDIS:
            path = self.redis.log_path
        else:
            path = self.log_path(self._service(part))
        return f"--- {path} (tail) ---\n{log_tail(path)}"

    def _service(self, part: Service | str) -> Service:
        if isinstance(part, Service):
            return part
        return next(service for service in self.services if service.name == part)

    def _watched(self) -> list[str]:
        """What wait() restarts, stores first: a one-shot step is done once it succeeded."""
        return [POSTGRES, REDIS, *(s.name for s in self.services if s.probe != "exit")]

    def _ended(self, name: str) -> str | None:
        """How part `name` ended, or None while it runs."""
        if name == POSTGRES:
            return None if self.postgres.pid() is not None else "is not running"
        child = self.redis.process if name == REDIS else self.children[name]
        if child is None:
            return "is not running"
        code = child.poll()
        return None if code is None else exit_reason(code)

    def _backoff(self, name: str, reason: str) -> float:
        """Count a crash of `name`: the seconds until its restart, said on stderr; or
        MeshError, with its log's tail, when it crashed too often."""
        history = self._crashes.setdefault(name, CrashHistory(self.config.restarts))
        delay = history.crashed(time.monotonic())
        if delay is None:
            raise MeshError(
                f"{name} {reason}: it crashed {history.recent} times within "
                f"{self.config.restarts.window:g}s; giving up\n{self._tail(name)}"
            )
        _say(f"{name} {reason}; restarting it in {delay:g}s")
        return delay

    def _restart(self, name: str) -> None:
        """Start part `name` as it was started first; MeshError if a store fails to."""
        if name == POSTGRES:
            self.postgres.start()
        elif name == REDIS:
            self.redis.start()
        else:
            self.children[name] = self._launchers[name]()
        _say(f"restarted {name}")


def _say(message: str) -> None:
    print(f"modelgw up: {message}", file=sys.stderr, flush=True)


class _StopRequested(BaseException):
    """SIGINT or SIGTERM arrived; raised in the main thread to unwind into stop()."""


def _request_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopRequested(signal.Signals(signum).name)


def summary(mesh: Mesh) -> str:
    """The table `modelgw up` prints once everything is ready."""
    config = mesh.config
    rows = [
        ("postgres", mesh.postgres.dsn, mesh.postgres.log_path),
        ("redis", mesh.redis.display_url, mesh.redis.log_path),
    ]
    for service in mesh.services:
        port = config.port_of(service)
        address = f"{config.host}:{port}" if port else "-"
        rows.append((service.name, address, mesh.log_path(service)))
    width = max(len(address) for _, address, _ in rows)
    lines = [f"Model Gateway is up; data in {config.home}", ""]
    lines += [f"  {name:<10} {address:<{width}}  log {log}" for name, address, log in rows]
    modelgw = _relative(Path(sys.executable).with_name("modelgw"))
    lines += [
        "",
        f"Get a token:  {modelgw} token create --user alice [--superuser]",
        "Stop with Ctrl-C.",
    ]
    return "\n".join(lines)


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def run_mesh(config: MeshConfig, services: Sequence[Service] = SERVICES) -> int:
    """Run the mesh until SIGINT/SIGTERM (exit 0) or until a part fails (exit 1)."""
    mesh = Mesh(config, services)
    with on_stop_signals(_request_stop):
        try:
            mesh.start()
            print(summary(mesh), flush=True)
            mesh.wait()
        except _StopRequested as stop:
            print(f"\n{stop}: stopping the services, Redis, then PostgreSQL", flush=True)
            return 0
        except MeshError as error:
            print(f"modelgw up: {error}", file=sys.stderr, flush=True)
            return 1
        finally:
            ignore_stop_signals()
            try:
                mesh.stop()
                print("modelgw up: stopped", flush=True)
            except MeshError as error:
                print(f"modelgw up: while stopping: {error}", file=sys.stderr, flush=True)
    return 0


def main_up() -> int:
    """The `modelgw up` command: configuration from the environment, then run_mesh."""
    try:
        config = MeshConfig.from_env()
    except MeshError as error:
        print(f"modelgw up: {error}", file=sys.stderr)
        return 1
    return run_mesh(config)

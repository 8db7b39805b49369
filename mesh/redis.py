"""Private Redis servers: one node, or a 6-node cluster for tests that need one."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import redis

from mesh.process import MeshError, log_tail, spawn, terminate, wait_until

# RDB snapshots (after 1 change in an hour, 100 in 5 minutes, 10,000 in a minute)
# plus the append-only file, fsynced every second.
_PERSISTENT = {
    "appendonly": "yes",
    "appendfsync": "everysec",
    "save": "3600 1 300 100 60 10000",
}
_EPHEMERAL = {"appendonly": "no", "save": '""'}


def _redis_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MeshError(f"{name} was not found: run `make system-packages`")
    return path


class LocalRedis:
    """A Redis server on 127.0.0.1:`port` and a unix socket, all its files under `data_dir`.

    A single node requires a password (`requirepass`), generated on first start
    and kept in `data_dir/password` (0600): any local process can reach
    127.0.0.1, and whoever reaches the queues can read every job's inputs and
    forge its results. Only processes given the URL (servers, workers, the
    scheduler) know it; a model's subprocess gets a scrubbed environment.
    The test-only cluster nodes run without one.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int,
        *,
        persistence: bool = True,
        cluster: bool = False,
        timeout: float = 30.0,
        maxmemory: str = "1gb",
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.maxmemory = maxmemory
        self.port = port
        self.persistence = persistence
        self.cluster = cluster
        self.timeout = timeout
        self.config_path = self.data_dir / "redis.conf"
        self.log_path = self.data_dir / "redis.log"
        self.password_path = self.data_dir / "password"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL clients connect with, the password included."""
        password = self._password()
        auth = f":{quote(password, safe='')}@" if password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def display_url(self) -> str:
        """The URL without its password, for logs and summaries."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The server's process: None before start() and after stop()."""
        return self._proc

    def start(self) -> str:
        """Start the server (again, if it exited) and wait until it answers PING;
        returns its URL."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        # Its files hold every job's records: the server's user's alone.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._ensure_password()
        # The configuration holds the password: readable by this user only.
        self.config_path.touch(mode=0o600)
        self.config_path.chmod(0o600)
        self.config_path.write_text(self._config())
        self._proc = spawn(
            [_redis_binary("redis-server"), str(self.config_path)], self.data_dir / "stdout.log"
        )
        if not wait_until(self._answers, self.timeout):
            self.stop()
            raise MeshError(
                f"Redis on port {self.port} did not start within {self.timeout:.0f}s\n"
                f"--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}"
            )
        return self.url

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM the server, which then saves its data and exits. Safe to call twice."""
        if self._proc is not None:
            terminate([self._proc], grace)
            self._proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, password=self._password(), socket_timeout=5
        )

    def _ensure_password(self) -> None:
        if self.cluster or self.password_path.exists():
            return
        fd = os.open(self.password_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))

    def _password(self) -> str | None:
        if self.cluster:
            return None
        try:
            return self.password_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _answers(self) -> bool:
        if self._proc is None or self._proc.poll() is not None:
            raise MeshError(
                f"Redis on port {self.port} exited at start\n"
                f"--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}"
            )
        try:
            with self.client() as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False
        except redis.AuthenticationError as exc:
            message = f"Redis on port {self.port} refused {self.password_path}: {exc}"
            raise MeshError(message) from exc

    def _config(self) -> str:
        settings = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "protected-mode": "yes",
            "unixsocket": str(self.data_dir / "redis.sock"),
            "unixsocketperm": "700",
            "dir": str(self.data_dir),
            "logfile": str(self.log_path),
            "daemonize": "no",
            "dbfilename": "dump.rdb",
            # Full is full: writes are refused (the gateway answers RESOURCE_EXHAUSTED)
            # rather than jobs evicted, or the machine's memory taken.
            "maxmemory": self.maxmemory,
            "maxmemory-policy": "noeviction",
            **(_PERSISTENT if self.persistence else _EPHEMERAL),
        }
        password = self._password()
        if password:
            settings["requirepass"] = password
        if self.cluster:
            settings |= {
                "cluster-enabled": "yes",
                "cluster-config-file": "nodes.conf",
                "cluster-node-timeout": "2000",
                # CLUSTER SLOTS lists a replica once it has synced and its
                # replication offset has moved. A new test cluster gets there in
                # about a second: the first sync starts at once (not after 5 s
                # waiting for more replicas), and an idle master pings its
                # replicas, moving the offset, every second (not every 10 s).
                "repl-diskless-sync-delay": "0",
                "repl-ping-replica-period": "1",
            }
        return "".join(f"{key} {value}\n" for key, value in settings.items())


class LocalRedisCluster:
    """Six cluster nodes on `base_port`..`base_port + 5`: three masters, three replicas.

    Each node's cluster bus takes its port + 10000 too. A restart in the same
    `data_dir` rejoins the existing cluster from the nodes' nodes.conf.
    """

    SIZE = 6

    def __init__(self, data_dir: Path, base_port: int, *, persistence: bool = False) -> None:
        self.data_dir = data_dir.absolute()
        self.ports = [base_port + i for i in range(self.SIZE)]
        self.nodes = [
            LocalRedis(self.data_dir / str(port), port, persistence=persistence, cluster=True)
            for port in self.ports
        ]

    @property
    def url(self) -> str:
        """The URL of one node; cluster clients discover the others from it."""
        return self.nodes[0].url

    def start(self, timeout: float = 30.0) -> str:
        """Start the nodes, form the cluster if it is new, wait until it is ok; returns a URL."""
        try:
            for node in self.nodes:
                node.start()
            if self._info(self.nodes[0])["cluster_known_nodes"] == "1":
                self._create()
            if not wait_until(self._ok, timeout, interval=0.2):
                raise MeshError(f"Redis cluster on ports {self.ports} did not reach state ok")
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def _create(self) -> None:
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        out = subprocess.run(
            [
                *(_redis_binary("redis-cli"), "--cluster", "create", *addresses),
                *("--cluster-replicas", "1", "--cluster-yes"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise MeshError(f"redis-cli --cluster create failed:\n{out.stdout}{out.stderr}")

    def _ok(self) -> bool:
        """Every node sees all six nodes, state ok, and a replica beside each master."""
        return all(
            info["cluster_state"] == "ok" and info["cluster_known_nodes"] == str(self.SIZE)
            for info in map(self._info, self.nodes)
        ) and all(map(self._has_replicas, self.nodes))

    @staticmethod
    def _has_replicas(node: LocalRedis) -> bool:
        with node.client() as client:
            slots = client.execute_command("CLUSTER SLOTS")
        # Each entry is [first slot, last slot, master, replica...].
        return len(slots) == 3 and all(len(entry) >= 4 for entry in slots)

    @staticmethod
    def _info(node: LocalRedis) -> dict[str, str]:
        with node.client() as client:
            info = client.execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
        return {str(key): str(value) for key, value in dict(info).items()}

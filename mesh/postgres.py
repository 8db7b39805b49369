"""A private PostgreSQL server in a data directory of its own, started with initdb + pg_ctl.

Every role authenticates over TCP (see mesh._pg_auth); the roles and
their privileges come from the package's bootstrap SQL, applied as the
`postgres` superuser over the unix socket at every start.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from mesh._pg_auth import ensure_passfile, read_password, scram_verifier, write_hba
from mesh.process import MeshError, is_alive, is_root, log_tail

DATABASE = "modelgw"
ROLE = "modelgw"
# The admin SQL console's role (QueryModelDatabase), made by the bootstrap SQL.
QUERY_ROLE = "modelgw_query"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; as root we run its programs as this system user.
SYSTEM_USER = "postgres"
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Idempotent: psql's \gexec runs each generated statement, and none is generated
# when the role or database already exists. The bootstrap SQL does the rest.
_ENSURE_DATABASE_SQL = f"""
SELECT 'CREATE ROLE {ROLE} LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}')\\gexec
SELECT 'CREATE DATABASE {DATABASE} OWNER {ROLE}'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec
"""


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if out.returncode == 0 and (bindir / "initdb").exists():
            return bindir
    installed = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if installed:
        return installed[-1].parent
    raise MeshError("PostgreSQL's initdb was not found: run `make system-packages`")


class LocalPostgres:
    """PostgreSQL on 127.0.0.1:`port` and a unix socket, all its files under `data_dir`.

    Layout: `data_dir/pgdata` (the cluster), `data_dir/run` (the socket),
    `data_dir/secrets` (the login roles' password files), `data_dir/postgres.log`.
    A second start in the same `data_dir` reuses the cluster.
    """

    def __init__(
        self, data_dir: Path, port: int, *, durable: bool = True, timeout: float = 60.0
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.durable = durable
        self.timeout = timeout
        self.pgdata = self.data_dir / "pgdata"
        self.socket_dir = self.data_dir / "run"
        self.secrets_dir = self.data_dir / "secrets"
        self.log_path = self.data_dir / "postgres.log"
        self._bindir: Path | None = None

    @property
    def dsn(self) -> str:
        """The gateway role's DSN for the gateway's database."""
        return self.dsn_for(DATABASE)

    @property
    def query_dsn(self) -> str:
        """The SQL console role's DSN for the gateway's database (the admin server's
        MODELGW_QUERY_DATABASE_URL)."""
        return self.dsn_for(DATABASE, QUERY_ROLE)

    def dsn_for(self, database: str, role: str = ROLE) -> str:
        """A DSN naming the role's password file, not the password: safe to print."""
        passfile = quote(str(self.passfile(role)), safe="/")
        return f"postgresql://{role}@127.0.0.1:{self.port}/{database}?passfile={passfile}"

    def passfile(self, role: str) -> Path:
        return self.secrets_dir / f"{role}.pgpass"

    def start(self) -> str:
        """Initialise the cluster if needed, start the server, ensure roles and database.

        Returns the DSN. Raises MeshError, with the server log's tail, when it fails.
        """
        self._prepare_dirs()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        if self._is_running():
            # Left over from a supervisor that was killed: restart it with our settings.
            self._pg_ctl("stop", "-m", "fast")
        write_hba(self.pgdata, superuser=SUPERUSER, os_user=self._server_os_user())
        self._pg_ctl("start", "-l", str(self.log_path), "-o", self._server_options())
        self._psql("postgres", _ENSURE_DATABASE_SQL)
        self._bootstrap(DATABASE)
        return self.dsn

    def pid(self) -> int | None:
        """The server's process id while it runs, else None.

        Read from postmaster.pid, without pg_ctl: cheap enough to poll. pg_ctl
        daemonises the server, so it is nobody's child here and its exit code is lost.
        """
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def recreate_database(self, name: str) -> str:
        """Drop the database `name` if it exists and create it empty, owned by the
        gateway role and bootstrapped like the gateway's own; returns its DSN.

        For tests that need a database of their own: the gateway role may not
        create databases, so this goes through the superuser over the socket.
        """
        if not _DATABASE_NAME.fullmatch(name):
            raise MeshError(f"database name {name!r}: use lower-case letters, digits and _")
        self._psql(
            "postgres",
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);\n'
            f'CREATE DATABASE "{name}" OWNER {ROLE};\n',
        )
        self._bootstrap(name)
        return self.dsn_for(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown) if it runs. Safe to call twice."""
        if self._is_running():
            self._pg_ctl("stop", "-m", "fast")

    def _server_options(self) -> str:
        options = [
            f"-p {self.port}",
            f"-k {shlex.quote(str(self.socket_dir))}",
            "-c listen_addresses=127.0.0.1",
        ]
        if not self.durable:
            # For throwaway test servers: a crash may lose data, which they never keep.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def _prepare_dirs(self) -> None:
        for path in (self.data_dir, self.socket_dir):
            path.mkdir(mode=0o755, parents=True, exist_ok=True)
        if is_root():
            _check_traversable(self.data_dir.parent)
            user = _system_user()
            for path in (self.data_dir, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            if self.pgdata.exists():
                os.chown(self.pgdata, user.pw_uid, user.pw_gid)

    def _initdb(self) -> None:
        # No password for the superuser: it logs in only by peer over the socket.
        # start() rewrites these rules (pg_hba.conf) every time anyway.
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            f"--username={SUPERUSER}",
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        )

    def _server_os_user(self) -> str:
        """Who runs the server, and so may be `postgres` over the socket (peer)."""
        return SYSTEM_USER if is_root() else pwd.getpwuid(os.geteuid()).pw_name

    def _bootstrap(self, database: str) -> None:
        """The bootstrap SQL in `database`, with the passwords from the secrets dir.

        Passwords go in as SCRAM verifiers on psql's stdin: never on a command line.
        """
        gateway, console = (
            scram_verifier(read_password(ensure_passfile(self.secrets_dir, role)))
            for role in (ROLE, QUERY_ROLE)
        )
        variables = (
            f"\\set gateway_role {ROLE}\n"
            f"\\set gateway_password '{gateway}'\n"
            f"\\set query_password '{console}'\n"
        )
        script = resources.files("gateway.registry").joinpath("bootstrap.sql").read_text()
        self._psql(database, variables + script)

    def _is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode == 0

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run(
            "pg_ctl", action, "-D", str(self.pgdata), "-w", "-t", str(int(self.timeout)), *args
        )

    def _psql(self, database: str, script: str) -> None:
        """Run a psql script as the superuser, over the socket (peer authentication)."""
        self._run(
            "psql",
            *("-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER),
            *("-d", database, "-X", "-q", "-v", "ON_ERROR_STOP=1"),
            stdin=script,
        )

    def _run(
        self, program: str, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / program), *args]
        if is_root():
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        out = subprocess.run(
            argv,
            cwd=self.data_dir,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and out.returncode != 0:
            raise MeshError(
                f"{program} {args[0] if args else ''} failed (exit {out.returncode}) "
                f"for PostgreSQL on port {self.port}:\n{out.stdout}{out.stderr}\n"
                f"--- {self.log_path} (tail) ---\n{log_tail(self.log_path)}"
            )
        return out


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise MeshError(
            f"no '{SYSTEM_USER}' system user to run PostgreSQL as (it refuses root): "
            "install the postgresql package (`make system-packages`)"
        ) from None


def _check_traversable(directory: Path) -> None:
    """The postgres user must be able to walk down to its data directory."""
    for path in (directory, *directory.parents):
        if not path.stat().st_mode & stat.S_IXOTH:
            raise MeshError(
                f"{path} is not traversable by the '{SYSTEM_USER}' user, which runs "
                f"PostgreSQL: `chmod o+x {path}` or choose another MODELGW_HOME"
            )

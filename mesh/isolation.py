"""The mesh's worker runs owners' models, so it runs without the platform's secrets.

It gets only the variables ISOLATED_ENV names (Redis, the queue settings, its
allow-list and sandbox limits: never the database URL, the signing key's path,
cloud credentials or MODELGW_HOME), and when `modelgw up` runs as root it runs
as UNPRIVILEGED_USER, which cannot read the 0600 signing key or PostgreSQL's
files. That user must reach the interpreter, the virtualenv and the checkout;
check_reachable says precisely which directory is in the way when it cannot.

When this virtualenv's interpreter sits where that user cannot go (a pyenv
Python under /root, as on many build machines), worker_interpreter builds a
small virtualenv under MODELGW_HOME on the system's own Python of the same
version (Debian 12 ships /usr/bin/python3.11), reading this virtualenv's
packages: the same code and wheels, an interpreter the worker's user can run.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path

from backendspec.policy import ALLOWED_CALLABLES_ENV, ALLOWED_COMMANDS_ENV
from mesh.process import MeshError
from workers.backends.sandbox import CPU_ENV, FILE_ENV, MEMORY_ENV, SANDBOX_PATH

UNPRIVILEGED_USER = "nobody"
# Everything the worker reads (gateway.config for Redis and the queue, workers.backends
# for its allow-list and limits). Allow-listed, not deny-listed: a secret added to the
# supervisor's environment tomorrow stays out of the worker without anyone remembering.
ISOLATED_ENV = (
    "LANG",
    "LC_ALL",
    "TZ",
    "PYTHONUNBUFFERED",
    "MODELGW_HOST",
    "MODELGW_LOG_LEVEL",
    "MODELGW_REDIS_URL",
    "MODELGW_REDIS_POOL_MAX",
    "MODELGW_REDIS_TIMEOUT",
    "MODELGW_JOB_TTL",
    "MODELGW_LEASE_SECONDS",
    "MODELGW_DELIVERY_LIMIT",
    "MODELGW_AUDIT_INLINE_BYTES",
    "MODELGW_WORKER_PRESENCE_SECONDS",
    "MODELGW_WORKER_METRICS_PORT",
    ALLOWED_CALLABLES_ENV,
    ALLOWED_COMMANDS_ENV,
    MEMORY_ENV,
    CPU_ENV,
    FILE_ENV,
)
# Its working directory: nothing of the platform's, and nothing it may write.
ISOLATED_CWD = Path("/")


def isolated_env(env: Mapping[str, str]) -> dict[str, str]:
    """The worker's whole environment: the ISOLATED_ENV names of env and a fixed PATH."""
    return {"PATH": SANDBOX_PATH, **{name: env[name] for name in ISOLATED_ENV if name in env}}


def unprivileged_user() -> pwd.struct_passwd:
    try:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise MeshError(
            f"no '{UNPRIVILEGED_USER}' user to run the worker as (it runs models, never as "
            f"root): create it, e.g. `useradd --system --no-create-home {UNPRIVILEGED_USER}`"
        ) from None
    if user.pw_uid == 0 or user.pw_gid == 0:
        raise MeshError(f"the '{UNPRIVILEGED_USER}' user has uid or gid 0: it is not unprivileged")
    return user


def python_paths(python: Path | None = None) -> list[Path]:
    """What the worker's interpreter reads: itself, its virtualenv, the standard library,
    the site-packages, and this checkout (an editable install imports from it).

    ``python`` is another interpreter that reads this virtualenv's packages (see
    worker_interpreter); its own standard library is then checked instead.
    """
    paths = [Path(sys.executable), Path(sys.executable).resolve(), Path(sys.prefix)]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if python is not None:
        paths = [python, python.resolve()]
        stdlib = python.resolve().parent.parent / "lib" / python.resolve().name
    paths += [stdlib, *(Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib"))]
    paths.append(Path(__file__).resolve().parents[1])
    return list(dict.fromkeys(paths))


SYSTEM_PYTHON_DIRS = (Path("/usr/bin"), Path("/usr/local/bin"))


def worker_interpreter(user: pwd.struct_passwd, home: Path) -> Path:
    """An interpreter ``user`` can run that imports this virtualenv's packages.

    This one when the user reaches it; else one built under ``home`` on the
    system's Python of the same version. MeshError, naming what is in the
    way, when there is neither.
    """
    try:
        check_reachable(user, python_paths())
        return Path(sys.executable)
    except MeshError as unreachable:
        system = _system_python(user)
        if system is None:
            raise unreachable from None
    python = _reading_venv(system, home / "worker-python")
    check_reachable(user, python_paths(python))
    return python


def _system_python(user: pwd.struct_passwd) -> Path | None:
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for directory in SYSTEM_PYTHON_DIRS:
        candidate = directory / name
        if not candidate.exists():
            continue
        try:
            check_reachable(user, [candidate, candidate.resolve()])
        except MeshError:
            continue
        return candidate
    return None


def _reading_venv(system: Path, venv: Path) -> Path:
    """A virtualenv at ``venv`` on ``system`` whose site-packages adds this one's."""
    python = venv / "bin" / "python"
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir, not a bare path: this virtualenv's .pth files (the editable
    # install's finder) must be processed too.
    line = f"import site; site.addsitedir({ours!r})\n"
    pth = next(iter(sorted((venv / "lib").glob("python3*/site-packages"))), None)
    if pth is None or not python.exists() or _read(pth / "modelgw-packages.pth") != line:
        out = subprocess.run(
            [str(system), "-m", "venv", "--without-pip", "--clear", str(venv)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise MeshError(f"cannot build the worker's interpreter at {venv}: {out.stderr}")
        pth = next(iter(sorted((venv / "lib").glob("python3*/site-packages"))))
        (pth / "modelgw-packages.pth").write_text(line)
    return python


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def check_reachable(user: pwd.struct_passwd, paths: Iterable[Path]) -> None:
    """Raise MeshError naming the first directory or file user cannot reach in paths.

    Every directory above a path must be searchable (x) by the user, and the path
    itself readable (and searchable, for a directory). Mode bits only: ACLs are
    not read, so a file they deny is reported by the worker's own log instead.
    """
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for path in paths:
        path = path.absolute()
        for directory in reversed(path.parents):
            _require(user, groups, directory, stat.S_IXUSR, "searchable (x)", "x")
        own = stat.S_IRUSR | (stat.S_IXUSR if path.is_dir() else 0)
        _require(user, groups, path, own, "readable", "rx" if path.is_dir() else "r")


def _require(
    user: pwd.struct_passwd, groups: set[int], path: Path, bits: int, what: str, chmod: str
) -> None:
    info = path.stat()
    if info.st_uid == user.pw_uid:
        granted = info.st_mode & bits
    elif info.st_gid in groups:
        granted = (info.st_mode << 3) & bits
    else:
        granted = (info.st_mode << 6) & bits
    if granted != bits:
        raise MeshError(
            f"{path} is not {what} by the '{user.pw_name}' user, which runs the mesh's "
            f"worker (it runs models, so never as root): `chmod o+{chmod} {path}`, or keep "
            "the checkout, its virtualenv and their Python out of private directories "
            "such as /root"
        )

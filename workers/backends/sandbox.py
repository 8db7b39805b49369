"""What a model subprocess gets: a scrubbed environment, a private directory, resource limits.

The worker's environment holds what the platform needs (the Redis URL, cloud
credentials, the allow-list), and a model is the owner's code: it gets none of
it. Each run gets:

- an environment of PATH (fixed), LANG and LC_ALL (C.UTF-8), HOME and TMPDIR
  (its own directory), plus the owner's `env` minus the names
  backendspec.subprocess_kind.OWNER_ENV_RULE refuses;
- a fresh directory of its own (0700, under the worker's temporary directory),
  its working directory, removed when the run ends;
- resource limits set in the child before it runs the program: address space
  (RLIMIT_AS), CPU seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL one second after),
  the size of any file it writes (RLIMIT_FSIZE), open files (RLIMIT_NOFILE) and
  no core files (RLIMIT_CORE 0). The worker's limits come from
  MODELGW_SUBPROCESS_* (or its flags); a version's `limits` may lower them,
  never raise them.

RLIMIT_AS counts reserved address space, not resident memory: runtimes that
reserve large ranges up front (the JVM, Go, some GPU stacks) need a higher limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import resource
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from settings.env import optional_whole, whole

SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_LOCALE = "C.UTF-8"
MEMORY_ENV = "MODELGW_SUBPROCESS_MEMORY_MB"
CPU_ENV = "MODELGW_SUBPROCESS_CPU_SECONDS"
FILE_ENV = "MODELGW_SUBPROCESS_FILE_MB"
DEFAULT_MEMORY_MB = 2048
DEFAULT_FILE_MB = 1024
# The CPU limit when neither the worker nor the job's timeout sets one.
DEFAULT_CPU_SECONDS = 300
OPEN_FILES = 1024

_PR_SET_DUMPABLE = 4


@dataclass(frozen=True)
class RunLimits:
    """The limits one run gets; applied in the child between fork and exec."""

    memory_mb: int
    cpu_seconds: int
    file_mb: int

    def rlimits(self) -> list[tuple[int, tuple[int, int]]]:
        """(resource, (soft, hard)) pairs, never above the worker's own hard limits."""
        wanted = [
            (resource.RLIMIT_AS, self.memory_mb * 1024 * 1024, 0),
            # One second between SIGXCPU and SIGKILL, for a program that catches the first.
            (resource.RLIMIT_CPU, self.cpu_seconds, 1),
            (resource.RLIMIT_FSIZE, self.file_mb * 1024 * 1024, 0),
            (resource.RLIMIT_NOFILE, OPEN_FILES, 0),
            (resource.RLIMIT_CORE, 0, 0),
        ]
        pairs = []
        for which, soft, grace in wanted:
            hard = resource.getrlimit(which)[1]
            cap = math.inf if hard == resource.RLIM_INFINITY else hard
            pairs.append((which, (int(min(soft, cap)), int(min(soft + grace, cap)))))
        return pairs

    def describe(self) -> str:
        return (
            f"a memory limit of {self.memory_mb} MB ({MEMORY_ENV}), a CPU limit of "
            f"{self.cpu_seconds} s ({CPU_ENV}) and a file size limit of {self.file_mb} MB "
            f"({FILE_ENV}); a version's limits may lower them"
        )


@dataclass(frozen=True)
class SubprocessLimits:
    """A worker's ceiling for every model subprocess it starts."""

    memory_mb: int = DEFAULT_MEMORY_MB
    # None: each run's CPU limit is its job's timeout (DEFAULT_CPU_SECONDS without one).
    cpu_seconds: int | None = None
    file_mb: int = DEFAULT_FILE_MB

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        memory_mb: int | None = None,
        cpu_seconds: int | None = None,
        file_mb: int | None = None,
    ) -> SubprocessLimits:
        """The limits from MODELGW_SUBPROCESS_*; the arguments (a worker's flags) replace them."""
        env = os.environ if env is None else env
        return cls(
            memory_mb=memory_mb or whole(env, MEMORY_ENV, DEFAULT_MEMORY_MB, minimum=1),
            cpu_seconds=cpu_seconds or optional_whole(env, CPU_ENV, minimum=1),
            file_mb=file_mb or whole(env, FILE_ENV, DEFAULT_FILE_MB, minimum=1),
        )

    def for_run(self, version_limits: Mapping[str, Any], timeout_s: float | None) -> RunLimits:
        """This worker's limits, lowered where the version asks for less."""
        cpu = self.cpu_seconds or math.ceil(timeout_s or DEFAULT_CPU_SECONDS)
        return RunLimits(
            memory_mb=_lower(self.memory_mb, version_limits.get("memory_mb")),
            cpu_seconds=_lower(cpu, version_limits.get("cpu_seconds")),
            file_mb=_lower(self.file_mb, version_limits.get("file_mb")),
        )


def _lower(ceiling: int, asked: object) -> int:
    if isinstance(asked, int | float) and not isinstance(asked, bool) and asked >= 1:
        return min(ceiling, int(asked))
    return ceiling


def sandbox_env(owner_env: Mapping[str, str], run_dir: Path) -> dict[str, str]:
    """The whole environment of a run; owner_env must have passed owner_env_problem."""
    return {
        "LANG": SANDBOX_LOCALE,
        "LC_ALL": SANDBOX_LOCALE,
        **owner_env,
        "PATH": SANDBOX_PATH,
        "HOME": str(run_dir),
        "TMPDIR": str(run_dir),
    }


@contextlib.contextmanager
def private_directory() -> Iterator[Path]:
    """A new 0700 directory for one run, removed (whatever the model left in it) after."""
    path = Path(tempfile.mkdtemp(prefix="modelgw-run-"))
    try:
        yield path
    finally:
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """rmtree that also removes what the model made unwritable (a directory chmod 0500)."""

    def make_writable_and_retry(function: Any, failed: str, _: Any) -> None:
        with contextlib.suppress(OSError):
            parent = os.path.dirname(failed)
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, stat.S_IRWXU)
            function(failed)

    shutil.rmtree(path, onerror=make_writable_and_retry)
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)


def make_undumpable() -> None:
    """Make this process non-dumpable (prctl PR_SET_DUMPABLE 0).

    A model subprocess runs as the same user as its worker; without this it could
    read the worker's /proc/PID/environ and memory, or ptrace it. Exec resets the
    flag in children, so models themselves stay dumpable.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_DUMPABLE, 0) failed: {os.strerror(errno)}")

"""Helpers shared by the local servers: ports, waiting, log tails and child processes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


class MeshError(RuntimeError):
    """A local server could not be started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    return free_port_block(1, host=host)


def free_port_block(count: int, *, offset: int = 0, host: str = "127.0.0.1") -> int:
    """A port P such that P..P+count-1 (and, with `offset`, P+offset..P+offset+count-1,
    such as a Redis cluster's bus ports) are all free right now.

    Chosen at random below the kernel's ephemeral range: a port the kernel hands
    out for bind(0) is also what it gives outgoing connections, so one could
    take it between this check and the server's own bind. Below that range only
    another caller of this function can, and rarely, picking at random.
    """
    low = _ephemeral_low()
    top = low - offset - count
    for _ in range(200):
        base = random.randrange(10_000, top) if top > 11_000 else _kernel_port(host)
        ports = [base + i for i in range(count)]
        if offset:
            ports += [port + offset for port in ports]
        if all(_bindable(host, port) for port in ports):
            return base
    raise MeshError(f"no block of {count} free ports (offset {offset}) on {host}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _kernel_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, or a note when it does not exist."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(ready: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `ready` until it returns True or `timeout` seconds pass; says which happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(interval)
    return ready()


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this (child) process if the supervisor itself dies.

    Used as `preexec_fn`, so a supervisor killed with SIGKILL leaves nothing running.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    *,
    user: pwd.struct_passwd | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session, output appended to `log_path`.

    Its own session keeps a terminal's Ctrl-C away from it: the supervisor decides the
    order in which children stop. With `user` it runs as that user, its group and no
    supplementary group (root's would otherwise stay with it); the log file is opened
    here, so the user needs no access to the logs directory.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    as_user: dict[str, Any] = {}
    if user is not None:
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=die_with_parent,  # runs after the switch to user, so it survives it
            **as_user,
        )


def terminate(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every process, give them `grace` seconds in all, then SIGKILL the rest.

    Safe to call twice, and on processes that already exited.
    """
    running = [proc for proc in procs if proc.poll() is None]
    for proc in running:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait()


def exit_reason(code: int) -> str:
    """How a child ended, from its Popen return code: "exited with code 3" or
    "was killed by SIGKILL"."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def is_alive(pid: int) -> bool:
    """Whether process `pid` runs: it exists and is not a zombie waiting to be reaped
    (a daemon's parent may be slow to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def is_root() -> bool:
    return os.geteuid() == 0

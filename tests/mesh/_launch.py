"""`modelgw up` (run_mesh) in a process of its own, as the mesh tests start it: its
output read line by line, its children found in /proc, SIGINT at the end."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

READY = "Stop with Ctrl-C"


@dataclass
class Supervisor:
    """The supervisor's process and the lines it has printed, not yet expected."""

    process: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    """Its output, line by line; None once it has closed it (exited)."""

    def expect(self, pattern: str, timeout: float = 20) -> str:
        """The next line of the supervisor's output matching `pattern`."""
        seen = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)  # for the next expect too
                break
            seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")

    def child_pid(self, runs: Callable[[list[bytes]], bool], what: str) -> int:
        """The pid of the supervisor's child whose argv `runs` recognises."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == self.process.pid and runs(argv):
                return int(entry.name)
        raise AssertionError(f"the mesh's {what} is not running")

    def interrupt(self, timeout: float = 60) -> int:
        """Ctrl-C, as an operator stops `modelgw up`; its exit code."""
        os.kill(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)


Launch = Callable[[], tuple[list[str], dict[str, str] | None]]
"""The arguments of the run_mesh script and its environment (None: this process's),
with ports picked anew at each call."""


@contextmanager
def supervisor(script: str, launch: Launch, ready_s: float = 60) -> Iterator[Supervisor]:
    """`python -c script args...` (a run_mesh call) until it says it is ready; stopped
    with SIGINT at the end (SIGKILL past a minute) if the test has not stopped it.

    A supervisor that exits at start because a port it was given is taken (another
    process bound it after free_port() saw it free) is launched again with the
    arguments `launch` gives next, twice at the most.
    """
    for attempt in range(3):
        launched = _spawn(script, *launch())
        try:
            launched.expect(READY, timeout=ready_s)
            break
        except AssertionError as failed:
            _stop(launched.process)
            if attempt == 2 or "Address already in use" not in str(failed):
                raise
    try:
        yield launched
    finally:
        _stop(launched.process)


def _spawn(script: str, args: list[str], env: dict[str, str] | None) -> Supervisor:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output = process.stdout
    assert output is not None

    def pump() -> None:
        # Read all along: a supervisor whose pipe fills up would block on its next print.
        for line in output:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return Supervisor(process, lines)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()

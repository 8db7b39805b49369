"""loadtest.mesh.cpu_seconds: a process tree's CPU time, children that exited included."""

from __future__ import annotations

import os
import subprocess
import sys

from loadtest.mesh import cpu_seconds

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_a_child_that_exited_and_was_reaped_still_counts() -> None:
    before = cpu_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", BURN], check=True)  # run, exited, reaped

    assert cpu_seconds(os.getpid()) - before >= 0.3


def test_without_descendants_only_the_process_itself_counts() -> None:
    before = cpu_seconds(os.getpid(), with_descendants=False)
    subprocess.run([sys.executable, "-c", BURN], check=True)

    # This process only waited; python's start-up here costs well under 0.3 s.
    assert cpu_seconds(os.getpid(), with_descendants=False) - before < 0.2

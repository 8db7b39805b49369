"""A worker runs only the backends its operator allowed: a job outside its allow-list
fails at once with reason backend_not_allowed, without importing the callable or
starting the command, and is not delivered again.

The session's registry allows the models below (tests/conftest.py); the workers here
are started with narrower allow-lists, as a worker of a tighter pool would be."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelgateway.v1 import job_pb2
from tests.harness import Mesh, spawn_modelgw, stop_process

from .conftest import ANY, Jobs, _register, register_backend

TOOL = str(Path(__file__).parents[2] / "workers" / "tool.py")
FAILED = job_pb2.JOB_STATUS_FAILED


def _register_command(mesh: Mesh, name: str, command: list[str]) -> None:
    register_backend(mesh, name, "subprocess", {"command": command}, {})


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("markers")


@pytest.fixture(scope="module")
def narrow(mesh: Mesh, markers: Path) -> Iterator[Jobs]:
    """A worker whose environment allows only the built-in callables and no command."""
    jobs = Jobs(mesh, "narrow")
    _register(mesh, jobs.model("tripwire"), "tests.gateway.execution.tripwire:run", ANY, {})
    _register_command(
        mesh, jobs.model("touch"), [sys.executable, TOOL, "touch", str(markers / "ran")]
    )
    worker = spawn_modelgw(
        mesh,
        ["worker", "--models", f"{jobs.model('tripwire')},{jobs.model('touch')}"],
        "worker-narrow",
        env={
            "MODELGW_ALLOWED_CALLABLES": "workers.builtin",
            "MODELGW_ALLOWED_COMMANDS": "",
            "TRIPWIRE_MARKER": str(markers / "imported"),
        },
    )
    yield jobs
    stop_process(worker)


def _refused(jobs: Jobs, suffix: str) -> job_pb2.Job:
    done = jobs.wait(jobs.submit(suffix, [{"x": 1}]).id)
    assert done.status == FAILED, done
    assert done.error.reason == "backend_not_allowed", done.error
    assert done.attempts == 1, "a job outside the allow-list was delivered again"
    return done


def test_a_callable_outside_the_allow_list_is_never_imported(narrow: Jobs, markers: Path) -> None:
    done = _refused(narrow, "tripwire")
    assert "tests.gateway.execution.tripwire:run" in done.error.message
    assert "MODELGW_ALLOWED_CALLABLES" in done.error.message
    assert "--allow-callables" in done.error.message
    assert not (markers / "imported").exists(), "the worker imported a module it may not run"


def test_a_command_outside_the_allow_list_is_never_started(narrow: Jobs, markers: Path) -> None:
    done = _refused(narrow, "touch")
    assert sys.executable in done.error.message
    assert "MODELGW_ALLOWED_COMMANDS" in done.error.message
    assert "--allow-commands" in done.error.message
    assert not (markers / "ran").exists(), "the worker started a command it may not run"


def test_flags_override_the_environment(mesh: Mesh, markers: Path) -> None:
    jobs = Jobs(mesh, "flagged")
    _register(mesh, jobs.model("tripwire"), "tests.gateway.execution.tripwire:run", ANY, {})
    _register(mesh, jobs.model("echo"), "workers.builtin.demo:echo", ANY, {})
    _register_command(mesh, jobs.model("touch"), [sys.executable, TOOL, "touch", str(markers / "x")])
    models = ",".join(jobs.model(s) for s in ("tripwire", "echo", "touch"))
    worker: subprocess.Popen[bytes] = spawn_modelgw(
        mesh,
        ["worker", "--models", models, "--allow-callables", "tests.gateway.execution.tripwire",
         "--allow-commands", "/usr/bin/true"],
        "worker-flagged",
        env={"MODELGW_ALLOWED_CALLABLES": "", "TRIPWIRE_MARKER": str(markers / "flagged")},
    )
    try:
        ran = jobs.wait(jobs.submit("tripwire", [{"x": 1}]).id)
        assert ran.status == job_pb2.JOB_STATUS_SUCCEEDED, ran.error
        assert (markers / "flagged").exists()
        # The flag replaced the list: the built-ins are not in it.
        assert "--allow-callables" in _refused(jobs, "echo").error.message
        # ... and the session's MODELGW_ALLOWED_COMMANDS does not apply.
        assert "--allow-commands" in _refused(jobs, "touch").error.message
        assert not (markers / "x").exists()
    finally:
        stop_process(worker)

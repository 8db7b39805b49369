"""`modelgw up` as root: the mesh's worker runs models without the platform's secrets.

The supervisor runs for real, as root, in a process of its own (PostgreSQL, Redis, the
registry and execution servers, the built-in registration and the worker, on free
ports). A superuser adds to demo.echo (a queue the mesh's worker serves) a subprocess
version whose command tries to read the JWT signing key and the worker's own
environment; the job's output is what a hostile model owner would get.

The worker runs as `nobody`, which must be able to run the interpreter. When this
checkout's virtualenv is built on a Python nobody cannot reach (pyenv under /root),
the supervisor runs the worker on a virtualenv it builds under MODELGW_HOME on the
system's own Python of the same version (Debian 12's /usr/bin/python3.11), reading
this virtualenv's packages; with neither, it refuses to start, naming the directory
in the way (test_an_unreachable_python_is_refused_naming_the_directory).

The same mesh survives its parts: a worker, server, Redis or PostgreSQL killed with
SIGKILL is restarted by the supervisor, and a job submitted afterwards succeeds.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from gateway.authn import create_token
from gateway.config import METRICS_PORTS, GatewayConfig
from mesh import MeshError, free_port
from mesh.isolation import check_reachable, python_paths, worker_interpreter
from mesh.process import is_alive, wait_until
from modelgateway.v1 import execution_pb2, execution_pb2_grpc, job_pb2, model_pb2, registry_pb2_grpc
from modelgateway.v1 import registry_pb2 as R
from tests.conftest import make_scratch_dir

from ._launch import Supervisor, supervisor

TOOL = str(Path(__file__).parents[1] / "workers" / "tool.py")
PARTS = "registry,execution,builtins,scheduler,worker"
DECOY_SECRET = "AKIA-decoy-secret-of-the-supervisor"
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
RUN_UP = textwrap.dedent(
    """
    import sys
    from mesh.services import SERVICES
    from mesh.supervisor import MeshConfig, run_mesh
    parts = sys.argv[1].split(",")
    sys.exit(run_mesh(MeshConfig.from_env(), [s for s in SERVICES if s.name in parts]))
    """
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="`modelgw up` as root is the case")


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    path = make_scratch_dir("root-mesh")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def python_for_nobody(home: Path) -> str:
    """The interpreter the mesh's worker will run on: this one, or (pyenv under /root)
    the one `modelgw up` builds under MODELGW_HOME on the system's Python."""
    try:
        return str(worker_interpreter(pwd.getpwnam("nobody"), home))
    except MeshError as unreachable:
        pytest.skip(f"no Python the nobody user can run: {unreachable}")


@dataclass
class RootMesh(Supervisor):
    home: Path
    ports: dict[str, int]
    python: str

    def address(self, service: str) -> str:
        return f"127.0.0.1:{self.ports[service]}"

    def worker_pid(self) -> int:
        return self.part_pid("worker")

    def part_pid(self, part: str) -> int:
        """The pid of the supervisor's child running `part` (a service, or redis), or
        of PostgreSQL's server."""
        if part == "postgres":
            return int((self.home / "postgres/pgdata/postmaster.pid").read_text().split()[0])
        return self.child_pid(partial(_runs, part=part), part)


def _runs(argv: list[bytes], part: str) -> bool:
    if part == "redis":
        return b"redis-server" in argv[0]  # its title: "redis-server host:port"
    if part == "worker":
        return b"worker" in argv
    return argv[-2:] == [b"serve", part.encode()] or argv[-3:-1] == [b"serve", part.encode()]


@pytest.fixture(scope="module")
def root_mesh(python_for_nobody: str, home: Path) -> Iterator[RootMesh]:
    """One mesh for the module, with the default 30 s lease: the isolation test reads
    it, then the restart test kills its parts (and checks that they come back)."""
    ports: dict[str, int] = {}

    def launch() -> tuple[list[str], dict[str, str]]:
        ports.update({name: free_port() for name in ("registry", "execution", "admin", "envoy")})
        env = {
            **os.environ,
            **{f"MODELGW_{name.upper()}_PORT": str(port) for name, port in ports.items()},
            **{f"MODELGW_{name.upper()}_METRICS_PORT": "0" for name in METRICS_PORTS},
            "MODELGW_HOME": str(home),
            "MODELGW_PG_PORT": str(free_port()),
            "MODELGW_REDIS_PORT": str(free_port()),
            # The operator allows the interpreter, so that a superuser may register the
            # probe; everything else about the worker is as `modelgw up` makes it.
            "MODELGW_ALLOWED_COMMANDS": python_for_nobody,
            "AWS_SECRET_ACCESS_KEY": DECOY_SECRET,
        }
        for name in ("MODELGW_JWT_SIGNING_KEY", "MODELGW_DATABASE_URL", "MODELGW_ALLOWED_CALLABLES"):
            env.pop(name, None)
        return [PARTS], env

    with supervisor(RUN_UP, launch) as up:
        yield RootMesh(up.process, up.lines, home, ports, python_for_nobody)


def _superuser(mesh: RootMesh) -> tuple[tuple[str, str], ...]:
    auth = GatewayConfig.from_env({"MODELGW_HOME": str(mesh.home)}).auth
    token = create_token(auth, "test-admin", superuser=True, ttl_s=600)
    return (("authorization", f"Bearer {token}"),)


def _wait_registered(stub: registry_pb2_grpc.RegistryServiceStub, md: Any, name: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if stub.GetModel(R.GetModelRequest(name=name), metadata=md).model.resolved_version:
                return
        except grpc.RpcError:
            pass
        assert time.monotonic() < deadline, f"{name} was not registered"
        time.sleep(0.2)


def _run(mesh: RootMesh, md: Any, model: str, version: str, record: dict[str, Any]) -> job_pb2.Job:
    with grpc.insecure_channel(mesh.address("execution")) as channel:
        stub = execution_pb2_grpc.ExecutionServiceStub(channel)
        message = struct_pb2.Struct()
        message.update(record)
        request = execution_pb2.SubmitJobRequest(model=model, version=version, records=[message])
        job = stub.SubmitJob(request, metadata=md, timeout=10).job
        deadline = time.monotonic() + 60
        while job.status not in (job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED):
            assert time.monotonic() < deadline, f"job {job.id} did not finish"
            time.sleep(0.2)
            job = stub.GetJob(execution_pb2.GetJobRequest(id=job.id), metadata=md).job
        return job


def _add_probe_version(mesh: RootMesh, md: Any, key: Path) -> str:
    version = model_pb2.ModelVersion(version="0.0.1-probe", notes="reads what it should not")
    version.backend.kind = "subprocess"
    version.backend.config.update({"command": [mesh.python, TOOL, "probe", str(key)]})
    with grpc.insecure_channel(mesh.address("registry")) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        stub.CreateModelVersion(
            R.CreateModelVersionRequest(model="demo.echo", version=version), metadata=md
        )
    return version.version


def _credentials(pid: int) -> tuple[int, int, list[int]]:
    """Real uid, real gid and supplementary groups of a process, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    groups = [int(g) for g in fields["Groups"].split()]
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0]), groups


def _python_model_processes(worker: int) -> list[int]:
    pids = [
        int(pid)
        for task in Path(f"/proc/{worker}/task").iterdir()
        for pid in (task / "children").read_text().split()
    ]
    return [
        pid
        for pid in pids
        if b"workers.backends.python_child" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def test_the_worker_is_unprivileged_and_its_models_see_no_secret(root_mesh: RootMesh) -> None:
    md = _superuser(root_mesh)
    with grpc.insecure_channel(root_mesh.address("registry")) as channel:
        _wait_registered(registry_pb2_grpc.RegistryServiceStub(channel), md, "demo.echo")
    key = root_mesh.home / "keys" / "jwt-signing-key.pem"
    assert "PRIVATE KEY" in key.read_text()  # the servers made it; root may read it

    # The built-in models run in the unprivileged worker under the default allow-list,
    # and so do the demo consensus models over them (the scheduler fans out to it).
    logp = _run(root_mesh, md, "rdkit.logp", "", {"smiles": CAFFEINE})
    assert logp.status == job_pb2.JOB_STATUS_SUCCEEDED, logp.error.message
    assert logp.results[0].output["logp"] == pytest.approx(-1.0293, abs=1e-3)
    consensus = _run(root_mesh, md, "demo.paper-consensus", "", {"smiles": CAFFEINE})
    assert consensus.status == job_pb2.JOB_STATUS_SUCCEEDED, consensus.error.message
    assert "consensus" in consensus.results[0].output

    job = _run(root_mesh, md, "demo.echo", _add_probe_version(root_mesh, md, key), {})
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error.message
    seen = json_format.MessageToDict(job.results[0].output)
    everything = json.dumps(seen)
    assert "PRIVATE KEY" not in everything
    assert seen["key"].startswith("PermissionError"), (seen["key"], oct(key.stat().st_mode))
    assert seen["uid"] != 0
    for secret in ("MODELGW_DATABASE_URL", "MODELGW_REDIS_URL", "MODELGW_HOME", DECOY_SECRET):
        assert secret not in everything
    # The worker is not dumpable: its model cannot read its /proc environ (or ptrace it).
    assert seen["parent_environ"].startswith("PermissionError"), seen["parent_environ"]

    worker = root_mesh.worker_pid()
    uid, gid, groups = _credentials(worker)
    assert uid == seen["uid"] != 0 and gid != 0 and groups == [], "root's groups stayed"
    environ = Path(f"/proc/{worker}/environ").read_bytes().decode().split("\0")
    names = {entry.partition("=")[0] for entry in environ if entry}
    assert not names & {"MODELGW_DATABASE_URL", "MODELGW_JWT_SIGNING_KEY", "AWS_SECRET_ACCESS_KEY"}
    assert "MODELGW_HOME" not in names
    assert DECOY_SECRET not in "".join(environ)
    # rdkit.logp ran in one of the worker's python model processes: the same user, and
    # not even the worker's reduced environment (its Redis URL) reaches the model's code.
    children = _python_model_processes(worker)
    assert children, "the worker started a python model process"
    for child in children:
        assert _credentials(child) == (uid, gid, groups)
        child_environ = Path(f"/proc/{child}/environ").read_bytes().decode()
        assert "MODELGW_" not in child_environ and DECOY_SECRET not in child_environ
    # What the proof rests on: the key is not readable by the worker's user.
    assert not key.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH)


def _run_within(
    mesh: RootMesh, md: Any, seconds: float, record: dict[str, Any]
) -> job_pb2.Job:
    """A demo.echo job, submitted (again) until the mesh answers or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return _run(mesh, md, "demo.echo", "", record)
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _restarted(mesh: RootMesh, part: str, killed: int) -> bool:
    try:
        return mesh.part_pid(part) != killed and is_alive(mesh.part_pid(part))
    except (AssertionError, OSError, ValueError):
        return False


def test_the_mesh_restarts_a_killed_worker_server_or_store(root_mesh: RootMesh) -> None:
    """Each job submitted after a restart runs well within the 30 s lease: none waits
    for a lease (a start that failed on a connection to the Redis that was killed is
    retried on a new one)."""
    md = _superuser(root_mesh)
    with grpc.insecure_channel(root_mesh.address("registry")) as channel:
        _wait_registered(registry_pb2_grpc.RegistryServiceStub(channel), md, "demo.echo")
    nobody = _credentials(root_mesh.worker_pid())[0]
    for part in ("worker", "execution", "redis", "postgres"):
        killed = root_mesh.part_pid(part)
        os.kill(killed, signal.SIGKILL)
        started = time.monotonic()
        back = partial(_restarted, root_mesh, part, killed)
        assert wait_until(back, 15, interval=0.2), f"{part} was not restarted"
        job = _run_within(root_mesh, md, 15, {"after": part})
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, (part, job.error.message)
        # The registry reads the database (the execution server may have the model cached).
        with grpc.insecure_channel(root_mesh.address("registry")) as channel:
            _wait_registered(registry_pb2_grpc.RegistryServiceStub(channel), md, "demo.echo")
        assert time.monotonic() - started < 20, part
        assert root_mesh.process.poll() is None, part
    # The restarted worker is as unprivileged as the first.
    assert _credentials(root_mesh.worker_pid())[0] == nobody != 0


def test_an_unreachable_python_is_refused_naming_the_directory(scratch_dir: Path) -> None:
    """As PostgreSQL's check does: a loud, precise refusal instead of a worker that dies."""
    private = scratch_dir / "private"
    (private / "venv" / "bin").mkdir(parents=True)
    python = private / "venv" / "bin" / "python"
    python.write_text("")
    python.chmod(0o755)
    private.chmod(0o700)
    with pytest.raises(MeshError) as caught:
        check_reachable(pwd.getpwnam("nobody"), [python])
    assert f"{private} is not searchable (x) by the 'nobody' user" in str(caught.value)
    assert f"chmod o+x {private}" in str(caught.value)
    private.chmod(0o755)
    python.chmod(0o700)
    with pytest.raises(MeshError, match=f"{python} is not readable"):
        check_reachable(pwd.getpwnam("nobody"), [python])


def test_what_the_worker_needs_is_checked() -> None:
    paths = python_paths()
    assert Path(sys.executable) in paths and Path(sys.prefix) in paths
    assert Path(__file__).resolve().parents[2] in paths  # the checkout (editable install)

"""What the admin tests share: a real S3 API (moto's server mode), process
starters for the shipper, scheduler and workers, servers of their own, and the
AdminService stub."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelgateway.v1 import admin_pb2_grpc
from tests.harness import Mesh, free_port, wait_or_kill

BUCKET = "modelgw-audit-test"
PREFIX = "audit"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class S3Server:
    """moto_server as a process; stop() and start() simulate an outage (moto keeps
    its data in memory, so a restart begins with no buckets)."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def start(self) -> None:
        moto = Path(sys.executable).parent / "moto_server"
        self.process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client().create_bucket(Bucket=BUCKET)
                return
            except Exception:
                assert time.monotonic() < deadline, "moto_server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def records(self) -> list[dict[str, Any]]:
        """Every audit record in the bucket, from every object."""
        client = self.client()
        out: list[dict[str, Any]] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                out += [json.loads(line) for line in gzip.decompress(body).splitlines()]
        return out

    def keys(self) -> list[str]:
        client = self.client()
        listing = client.list_objects_v2(Bucket=BUCKET)
        return [item["Key"] for item in listing.get("Contents", [])]


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(free_port(), tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Processes:
    """Extra processes a test starts against the session mesh; all stopped at the end."""

    mesh: Mesh
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.mesh.logs["registry"].parent / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env={**self.mesh.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            wait_or_kill(process, 15)


def admin_stub(mesh: Mesh, address: str | None = None) -> admin_pb2_grpc.AdminServiceStub:
    if address is None:
        return admin_pb2_grpc.AdminServiceStub(mesh.channel("admin"))
    import grpc

    return admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(address))

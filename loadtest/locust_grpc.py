"""Locust over gRPC: (a) job submission and (b) job result retrieval, with the generated
stubs `modelgateway.v1.execution_pb2_grpc`.

    locust -f loadtest/locust_grpc.py --headless -u 1000 -r 100 -t 10m \\
        --host 127.0.0.1:50052 --model demo.echo --csv out/grpc SubmitUser

Every call is reported to locust's request event (type "grpc", name = method)
with its response time and its exception, so failures, rates and percentiles
appear in the stats and the CSV like HTTP requests.
"""

from __future__ import annotations

import itertools
import random
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from google.protobuf import struct_pb2
from locust import User, task

try:
    from loadtest import locust_common as common
except ImportError:  # locust puts this file's directory on sys.path, not the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import locust_common as common  # type: ignore[no-redef]

from modelgateway.v1 import execution_pb2, execution_pb2_grpc, job_pb2

# gRPC's own threads must cooperate with gevent, which locust runs on.
grpc_gevent.init_gevent()

_channels: dict[str, list[grpc.Channel]] = {}
_next = itertools.count()


def _channel(target: str, count: int) -> grpc.Channel:
    """One of `count` channels to `target` in this process (each its own TCP connection)."""
    if target not in _channels:
        options = [("grpc.use_local_subchannel_pool", 1)]
        _channels[target] = [grpc.insecure_channel(target, options=options) for _ in range(count)]
    pool = _channels[target]
    return pool[next(_next) % len(pool)]


class GrpcUser(User):
    """A user with an ExecutionService stub that reports each call to locust."""

    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        options = environment.parsed_options
        target = options.grpc_target or (self.host or "").split("://")[-1]
        if not target:
            raise ValueError("give --host HOST:PORT or --grpc-target")
        self.options = options
        self.stub = execution_pb2_grpc.ExecutionServiceStub(_channel(target, options.grpc_channels))
        self.metadata = (("authorization", f"Bearer {common.bearer(options)}"),)
        record = struct_pb2.Struct()
        record.update(common.record(options))
        self.submit_request = execution_pb2.SubmitJobRequest(model=options.model, records=[record])

    def wait_time(self) -> float:
        return common.wait_seconds(self.options)

    def call(self, name: str, request: Any) -> Any:
        method = getattr(self.stub, name)
        began = time.perf_counter()
        reply, exception, length = None, None, 0
        try:
            reply = method(request, metadata=self.metadata, timeout=self.options.call_timeout)
            length = reply.ByteSize()
        except grpc.RpcError as exc:
            exception = exc
        self.environment.events.request.fire(
            request_type="grpc",
            name=name,
            response_time=(time.perf_counter() - began) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )
        return reply


class SubmitUser(GrpcUser):
    """(a) Job submission: SubmitJob, answered at once with the job's UUID."""

    @task
    def submit(self) -> None:
        self.call("SubmitJob", self.submit_request)


class ResultUser(GrpcUser):
    """(b) Job result retrieval: GetJob of jobs this user submitted at start."""

    def on_start(self) -> None:
        self.jobs = []
        for _ in range(self.options.result_jobs):
            reply = self.call("SubmitJob", self.submit_request)
            if reply is not None:
                self.jobs.append(reply.job.id)

    @task
    def get_result(self) -> None:
        if not self.jobs:
            self.on_start()
            return
        reply = self.call("GetJob", execution_pb2.GetJobRequest(id=random.choice(self.jobs)))
        _ = reply is not None and reply.job.status == job_pb2.JOB_STATUS_SUCCEEDED

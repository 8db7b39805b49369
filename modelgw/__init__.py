"""The Python client of Model Gateway.

    import modelgw

    with modelgw.Client() as client:          # MODELGW_TARGET, MODELGW_TOKEN
        job = client.submit("rdkit.logp", [{"smiles": "CCO"}])
        print(job.result(timeout_s=60)[0].output)

`Client` blocks; `AsyncClient` has the same methods over grpc.aio. Everything
returned is a plain dataclass (modelgw.models); every failure a subclass of
modelgw.errors.GatewayError.
"""

from __future__ import annotations

from modelgw.aio import AsyncClient
from modelgw.client import Client
from modelgw.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    GatewayError,
    InvalidInput,
    JobFailed,
    JobsRefused,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from modelgw.jobs import AsyncJob, Job
from modelgw.models import (
    ConsensusCheck,
    ConsensusProblem,
    JobInfo,
    Model,
    RecordResult,
    SearchHit,
    Version,
)

__all__ = [
    "AlreadyExists", "AsyncClient", "AsyncJob", "Client", "ConsensusCheck", "ConsensusProblem",
    "DeadlineExceeded", "FailedPrecondition", "GatewayError", "InvalidInput", "Job", "JobFailed",
    "JobInfo", "JobsRefused", "Model", "NotFound", "PermissionDenied", "RecordResult",
    "ResourceExhausted", "SearchHit", "Unauthenticated", "Unavailable", "Version",
]  # fmt: skip

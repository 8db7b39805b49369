"""The request messages both clients send, built and checked in one place."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from modelgateway.v1 import execution_pb2, registry_pb2
from modelgw import _convert
from modelgw.errors import InvalidInput

MAX_PAGE = 1000
MAX_SEARCH_PAGE = 100
_TOP_KEY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*:", re.MULTILINE)


def text(value: Any, what: str, limit: int = 10_000) -> str:
    """A string argument, refused when it is not one or is absurdly long."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidInput(f"{what} is {len(value)} characters; at most {limit}")
    return value


def positive(value: Any, what: str) -> int:
    """A whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a whole number of at least 1, not {value!r}")
    return value


def search(
    query: str, tags: Sequence[str], owner: str, backend_kind: str, page_size: int, token: str
) -> registry_pb2.SearchModelsRequest:
    """One page of SearchModels."""
    if isinstance(tags, str):
        tags = (tags,)
    return registry_pb2.SearchModelsRequest(
        q=text(query, "query"),
        tags=[text(t, "a tag", 200) for t in tags],
        owner=text(owner, "owner", 200),
        backend_kind=text(backend_kind, "backend_kind", 50),
        page_size=min(page_size, MAX_SEARCH_PAGE),
        page_token=token,
    )


def submit(
    model: str,
    records: Iterable[Any],
    version: str,
    idempotency_key: str | None,
    routing_key: str = "",
) -> execution_pb2.SubmitJobRequest:
    """A SubmitJob with its records as Structs and an idempotency key (a new uuid4
    unless given), so that a retried submission returns the same job; a routing
    key keeps a caller on one version while a rollout splits the traffic."""
    if isinstance(records, (dict, str, bytes)):
        raise InvalidInput(
            "records must be a list of dicts, not a single " + type(records).__name__
        )
    structs = [_convert.to_struct(record, index) for index, record in enumerate(records)]
    key = (
        str(uuid.uuid4())
        if idempotency_key is None
        else text(idempotency_key, "idempotency_key", 128)
    )
    return execution_pb2.SubmitJobRequest(
        model=text(model, "model", 200),
        version=text(version, "version", 200),
        records=structs,
        idempotency_key=key,
        routing_key=text(routing_key, "routing_key", 128),
    )


def list_jobs(model: str, status: str, page_size: int, token: str) -> execution_pb2.ListJobsRequest:
    """One page of ListJobs."""
    return execution_pb2.ListJobsRequest(
        model=text(model, "model", 200),
        status=_convert.status_value(text(status, "status", 40)),
        page_size=min(page_size, MAX_PAGE),
        page_token=token,
    )


def verify_consensus(document: str, name: str) -> registry_pb2.VerifyConsensusModelRequest:
    """A VerifyConsensusModel of an Algorithm 1 YAML document, named by its top-level
    key unless ``name`` is given."""
    document = text(document, "document", 1_000_000)
    if not name:
        match = _TOP_KEY.search(document)
        name = match[1] if match else ""
    return registry_pb2.VerifyConsensusModelRequest(name=text(name, "name", 200), yaml=document)

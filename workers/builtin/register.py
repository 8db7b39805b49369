"""Registers the built-in models through the registry API, as public models.

Idempotent: a model or version that already exists is left as it is, so
`modelgw builtins register` can run at every `make up`. It needs a superuser's
token, so it runs as a step of its own and never inside a worker, which runs
owners' models.
"""

from __future__ import annotations

import logging

import grpc

from modelgateway.v1 import model_pb2, registry_pb2, registry_pb2_grpc
from workers.builtin.catalog import BUILTIN_MODELS, BuiltinModel
from workers.builtin.consensus_models import CONSENSUS_DOCUMENTS

log = logging.getLogger("modelgw.builtins")


async def register_builtins(registry_address: str, token: str) -> list[str]:
    """Registers every built-in model not yet registered; returns the names created."""
    metadata = (("authorization", f"Bearer {token}"),)
    created = []
    async with grpc.aio.insecure_channel(registry_address) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        for model in BUILTIN_MODELS:
            if await _register(stub, model, metadata):
                created.append(model.name)
        for document in CONSENSUS_DOCUMENTS:
            name = await _import_consensus(stub, document, metadata)
            if name:
                created.append(name)
    if created:
        log.info("registered built-in models", extra={"fields": {"models": created}})
    return created


async def _import_consensus(
    stub: registry_pb2_grpc.RegistryServiceStub,
    document: str,
    metadata: tuple[tuple[str, str], ...],
) -> str:
    try:
        reply = await stub.ImportConsensusModel(
            registry_pb2.ImportConsensusModelRequest(yaml=document), metadata=metadata
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        return ""
    await stub.SetVisibility(
        registry_pb2.SetVisibilityRequest(
            name=reply.model.name, visibility=model_pb2.VISIBILITY_PUBLIC
        ),
        metadata=metadata,
    )
    return str(reply.model.name)


async def _register(
    stub: registry_pb2_grpc.RegistryServiceStub,
    model: BuiltinModel,
    metadata: tuple[tuple[str, str], ...],
) -> bool:
    message = model_pb2.Model(
        name=model.name,
        display_name=model.display_name,
        description=model.description,
        tags=list(model.tags),
        backend=model.backend_info,
    )
    try:
        await stub.CreateModel(registry_pb2.CreateModelRequest(model=message), metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        return False
    version = model_pb2.ModelVersion(version=model.version, notes="Built-in model.")
    version.backend.kind = model.backend["kind"]
    version.backend.config.update({**model.backend["config"], "timeout_s": model.timeout_s})
    version.input_schema.update(model.input_schema)
    version.output_schema.update(model.output_schema)
    await stub.CreateModelVersion(
        registry_pb2.CreateModelVersionRequest(model=model.name, version=version), metadata=metadata
    )
    await stub.SetVisibility(
        registry_pb2.SetVisibilityRequest(name=model.name, visibility=model_pb2.VISIBILITY_PUBLIC),
        metadata=metadata,
    )
    return True

"""Registers the models of a catalog file through the registry API: by default the
repository's catalog, whose models are the built-in ones.

Idempotent: a model that already exists is left as it is, so `modelgw builtins
register` can run at every `make up`. It needs a superuser's token, so it runs
as a step of its own and never inside a worker, which runs owners' models.
Unlike RefreshModelDatabase it writes through the registry's RPCs, so every
version passes the same checks (allow-list, consensus verification) as any
owner's.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc

from gateway.admin.catalog import CatalogModel, CatalogVersion, load
from gateway.config import DEFAULT_CATALOG
from modelgateway.v1 import model_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger("modelgw.builtins")

Metadata = tuple[tuple[str, str], ...]


async def register_builtins(
    registry_address: str, token: str, path: Path = DEFAULT_CATALOG
) -> list[str]:
    """Registers every model of the catalog not yet registered; returns the names created.

    The registry checks each version against its own allow-list, so the catalog is
    read for its shape alone.
    """
    metadata = (("authorization", f"Bearer {token}"),)
    created = []
    async with grpc.aio.insecure_channel(registry_address) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        for model in load(path, None):  # in file order: consensus children come first
            if await _register(stub, model, metadata):
                created.append(model.name)
    if created:
        log.info("registered built-in models", extra={"fields": {"models": created}})
    return created


def version_message(version: CatalogVersion) -> model_pb2.ModelVersion:
    """A catalog version as CreateModelVersion takes it."""
    message = model_pb2.ModelVersion(version=version.version, notes=version.notes)
    message.backend.kind = version.backend_kind
    message.backend.config.update(version.backend_config)
    message.input_schema.update(version.input_schema)
    message.output_schema.update(version.output_schema)
    return message


async def _register(
    stub: registry_pb2_grpc.RegistryServiceStub, model: CatalogModel, metadata: Metadata
) -> bool:
    message = model_pb2.Model(name=model.name, **model.fields())
    try:
        await stub.CreateModel(registry_pb2.CreateModelRequest(model=message), metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise
        return False
    for version in model.versions:
        await stub.CreateModelVersion(
            registry_pb2.CreateModelVersionRequest(
                model=model.name, version=version_message(version)
            ),
            metadata=metadata,
        )
    if model.default_version:
        await stub.SetDefaultVersion(
            registry_pb2.SetDefaultVersionRequest(name=model.name, version=model.default_version),
            metadata=metadata,
        )
    await _grant(stub, model, metadata)
    if model.public:
        await stub.SetVisibility(
            registry_pb2.SetVisibilityRequest(
                name=model.name, visibility=model_pb2.VISIBILITY_PUBLIC
            ),
            metadata=metadata,
        )
    return True


async def _grant(
    stub: registry_pb2_grpc.RegistryServiceStub, model: CatalogModel, metadata: Metadata
) -> None:
    roles = [(u, model_pb2.ACCESS_ROLE_OWNER) for u in model.owners]
    roles += [(u, model_pb2.ACCESS_ROLE_READER) for u in model.readers]
    for user, role in roles:
        await stub.GrantAccess(
            registry_pb2.GrantAccessRequest(name=model.name, user=user, role=role),
            metadata=metadata,
        )

"""What the registry's RPC tests share: the superuser's metadata and a failure check."""

from __future__ import annotations

import grpc
import pytest

from tests.harness import Mesh

INVALID, NOT_FOUND, EXISTS = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
)


def su(mesh: Mesh) -> tuple[tuple[str, str], ...]:
    return mesh.metadata("root", superuser=True)


def expect(code: grpc.StatusCode, call, *words: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as failure:
        call()
    assert failure.value.code() == code, failure.value.details()
    for word in words:
        assert word in failure.value.details()
    return str(failure.value.details())

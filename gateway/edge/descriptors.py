"""The API's FileDescriptorSet: what Envoy transcodes with, grpcurl reads as a
protoset, and the OpenAPI document is generated from.

Built from protos/ on every render rather than committed, so it cannot drift from
the .proto files. It carries every import and the source info (the proto comments
become the OpenAPI descriptions), plus google/rpc/status.proto and
error_details.proto, without which Envoy cannot print an error's details.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import google.rpc
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

PROTOS = Path(__file__).resolve().parents[2] / "protos"
API_DIR = PROTOS / "modelgateway" / "v1"
ERROR_PROTOS = ("google/rpc/status.proto", "google/rpc/error_details.proto")


class DescriptorError(RuntimeError):
    """protoc refused the protos."""


def build_descriptor_set(out: Path, protos: Path = PROTOS) -> descriptor_pb2.FileDescriptorSet:
    """Compiles every modelgateway/v1 proto (and the google.rpc error protos) into
    `out`, with imports and source info; returns the parsed set."""
    out.parent.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    # googleapis-common-protos ships google/rpc/*.proto beside its Python modules.
    googleapis = Path(next(iter(google.rpc.__path__))).parents[1]
    sources = sorted(
        p.relative_to(protos).as_posix() for p in (protos / "modelgateway" / "v1").glob("*.proto")
    )
    args = [
        "protoc",
        f"-I{protos}",
        f"-I{protos / 'third_party'}",
        f"-I{well_known}",
        f"-I{googleapis}",
        "--include_imports",
        "--include_source_info",
        f"--descriptor_set_out={out}",
        *sources,
        *ERROR_PROTOS,
    ]
    if protoc.main(args) != 0:
        raise DescriptorError(f"protoc could not build {out}: see the messages above")
    return load_descriptor_set(out)


def load_descriptor_set(path: Path) -> descriptor_pb2.FileDescriptorSet:
    """The FileDescriptorSet protoc wrote to path."""
    return descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())

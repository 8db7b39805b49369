"""Generates the Python code of the modelgateway.v1 API from the .proto files.

    python protos/generate.py            # regenerate in place (what `make proto` runs)
    python protos/generate.py OUT_DIR    # generate into OUT_DIR (the drift test compares)

Only our own protos are generated: google/api comes from googleapis-common-protos
at run time, and generating it here would shadow that package.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

PROTOS = Path(__file__).resolve().parent
API_DIR = PROTOS / "modelgateway" / "v1"


def generate(out_dir: Path) -> list[Path]:
    """Runs protoc for every modelgateway/v1 proto; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    sources = sorted(p.relative_to(PROTOS).as_posix() for p in API_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{PROTOS / 'third_party'}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed: see the messages above")
    package = out_dir / "modelgateway" / "v1"
    for init in (out_dir / "modelgateway" / "__init__.py", package / "__init__.py"):
        init.touch()
    return sorted(package.glob("*_pb2*.py*"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PROTOS
    for path in generate(target):
        print(path)

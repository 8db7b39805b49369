"""The committed generated code matches the .proto files, and buf accepts them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "protos" / "modelgateway" / "v1"


def test_generated_code_has_not_drifted(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "protos" / "generate.py"), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "modelgateway" / "v1").glob("*_pb2*.py*")}
    committed = {p.name: p.read_bytes() for p in API.glob("*_pb2*.py*")}
    assert fresh.keys() == committed.keys(), "run `make proto` and commit the result"
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"generated code is stale for {stale}: run `make proto` and commit"


def test_buf_lint_and_build(tmp_path: Path) -> None:
    buf = Path(sys.executable).parent / "buf"
    lint = subprocess.run([buf, "lint"], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    build = subprocess.run(
        [buf, "build", "-o", tmp_path / "image.binpb"], cwd=ROOT, capture_output=True, text=True
    )
    assert build.returncode == 0, build.stdout + build.stderr


def test_every_rpc_is_documented() -> None:
    for proto in API.glob("*.proto"):
        lines = proto.read_text().splitlines()
        for i, line in enumerate(lines):
            stripped = line.strip()
            if stripped.startswith(("rpc ", "service ", "message ", "enum ")) or (
                stripped
                and stripped[0].isalpha()
                and "=" in stripped
                and stripped.endswith(";")
                and not stripped.startswith(("option", "syntax", "package", "import"))
            ):
                assert lines[i - 1].strip().startswith("//"), (
                    f"{proto.name}:{i + 1} lacks a doc comment: {stripped}"
                )

"""The local spool: audit objects on disk, durable before their sources are
acknowledged and kept until they are uploaded.

An object is written as a temporary file, fsynced, then renamed into place
under its final key (prefix/dt=.../hour=.../<uuid>.jsonl.gz), so a crash
leaves either a whole object or none.
"""

from __future__ import annotations

import gzip
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from audit.records import encode, partition


class Spool:
    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self._prefix = prefix
        root.mkdir(parents=True, exist_ok=True)

    def write(self, records: Iterable[dict[str, Any]]) -> list[Path]:
        """Writes the records as one object per hour partition; returns the files."""
        groups: dict[str, list[bytes]] = {}
        for record in records:
            groups.setdefault(partition(record), []).append(encode(record))
        return [self._write_one(part, lines) for part, lines in sorted(groups.items())]

    def _write_one(self, part: str, lines: list[bytes]) -> Path:
        key = "/".join(p for p in (self._prefix, part, f"{uuid.uuid4()}.jsonl.gz") if p)
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.tmp")
        with temporary.open("wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb") as compressed:
                compressed.writelines(lines)
            raw.flush()
            os.fsync(raw.fileno())
        temporary.rename(final)
        _fsync_dir(final.parent)
        return final

    def pending(self) -> list[Path]:
        """Spooled objects not yet uploaded, oldest partition first."""
        return sorted(p for p in self.root.rglob("*.jsonl.gz") if not p.name.startswith("."))

    def key_of(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

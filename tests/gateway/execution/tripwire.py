"""A model module that leaves a mark when it is imported, so a test can tell whether a
worker imported it: the file named by TRIPWIRE_MARKER is created."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_MARKER = os.environ.get("TRIPWIRE_MARKER")
if _MARKER:
    Path(_MARKER).touch()


def run(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"imported": True} for _ in records]

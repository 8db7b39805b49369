"""The model catalog file: it loads, it describes the built-in models exactly as
the worker registers them, and a broken entry is reported by its place. No servers."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backendspec import BackendPolicy
from gateway.admin.catalog import builtin_entries, load
from gateway.config import DEFAULT_CATALOG
from gateway.errors import FailedPrecondition


def test_the_repository_catalog_describes_the_builtin_models() -> None:
    listed = {m["name"]: m for m in yaml.safe_load(DEFAULT_CATALOG.read_text())["models"]}
    for entry in builtin_entries():
        assert listed.get(entry["name"]) == entry, (
            f"{entry['name']} drifted: regenerate with `python -m gateway.admin.catalog`"
        )
    assert len(load(DEFAULT_CATALOG, BackendPolicy())) == len(listed)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Bad Name"}, "models[0]: name 'Bad Name' is not a valid model name"),
        ({"name": "a.b", "visibility": "secret"}, "visibility 'secret'"),
        ({"name": "a.b", "versions": [{"version": "1", "backend": {"kind": "cobol"}}]}, "unknown"),
        ({"name": "a.b", "default_version": "9", "versions": []}, "default_version '9'"),
        (
            {"name": "a.b", "versions": [
                {"version": "1", "backend": {"kind": "python", "config": {"callable": "os:system"}}}
            ]},
            "module 'os' is outside MODELGW_ALLOWED_CALLABLES (workers.builtin)",
        ),
    ],
)
def test_a_broken_entry_is_named(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    with pytest.raises(FailedPrecondition) as failure:
        load(path, BackendPolicy())
    assert message in failure.value.message

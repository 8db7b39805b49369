"""SearchModels through real gRPC calls on the test session's PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from gateway.registry import search as registry_search
from gateway.registry._search_sql import Mode
from gateway.registry.database import init_connection
from modelgateway.v1 import admin_pb2, admin_pb2_grpc, model_pb2
from modelgateway.v1 import registry_pb2 as R
from tests.gateway.conftest import Mesh, any_object_version, unique_name
from tests.gateway.registry._calls import INVALID, expect, su


@pytest.fixture(scope="module", autouse=True)
def builtins(mesh: Mesh) -> None:
    """The catalog's built-in models, which the ranking tests search among."""
    admin = admin_pb2_grpc.AdminServiceStub(mesh.channel("admin"))
    admin.RefreshModelDatabase(admin_pb2.RefreshModelDatabaseRequest(), metadata=su(mesh))


def seed(
    mesh: Mesh,
    tag: str,
    description: str,
    *,
    fields: dict[str, str] | None = None,
    public: bool = False,
    display_name: str = "",
) -> str:
    """A model tagged tag with one version whose input schema has these fields."""
    stub, name = mesh.registry(), unique_name("s")
    model = model_pb2.Model(
        name=name, display_name=display_name, description=description, tags=[tag]
    )
    stub.CreateModel(R.CreateModelRequest(model=model), metadata=su(mesh))
    version = any_object_version("1.0.0")
    if fields:
        properties = {k: {"type": "string", "description": d} for k, d in fields.items()}
        version.input_schema.update({"type": "object", "properties": properties})
    stub.CreateModelVersion(
        R.CreateModelVersionRequest(model=name, version=version), metadata=su(mesh)
    )
    if public:
        stub.SetVisibility(
            R.SetVisibilityRequest(name=name, visibility=model_pb2.VISIBILITY_PUBLIC),
            metadata=su(mesh),
        )
    return name


def search(mesh: Mesh, metadata: Any = None, **fields: Any) -> R.SearchModelsResponse:
    return mesh.registry().SearchModels(
        R.SearchModelsRequest(**fields), metadata=metadata or su(mesh)
    )


def ranked(page: R.SearchModelsResponse) -> list[tuple[str, float]]:
    return [(h.model.name, h.score) for h in page.hits]


def test_aqueous_solubility_ranks_esol_first(mesh: Mesh) -> None:
    page = search(mesh, q="aqueous solubility")
    assert page.hits[0].model.name == "rdkit.esol"
    top = page.hits[0]
    assert "[aqueous]" in top.snippet.lower() and "[solubility]" in top.snippet.lower()
    assert {"display_name", "description"} <= set(top.matched_fields)
    assert [h.score for h in page.hits] == sorted((h.score for h in page.hits), reverse=True)


def test_a_schema_field_name_finds_its_model(mesh: Mesh) -> None:
    tag = unique_name("t")
    name = seed(mesh, tag, "A thermal model.", fields={"meltingPoint": "In kelvin."})
    other = seed(mesh, tag, "Nothing about heat.")
    page = search(mesh, q="melting point", tags=[tag])
    assert [h.model.name for h in page.hits] == [name]
    assert page.hits[0].matched_fields == ["input_schema"]
    assert other not in {h.model.name for h in search(mesh, q="kelvin", tags=[tag]).hits}


def test_a_typo_still_finds_its_model(mesh: Mesh) -> None:
    page = search(mesh, q="solubilty")
    assert "rdkit.esol" in [h.model.name for h in page.hits]
    esol = next(h for h in page.hits if h.model.name == "rdkit.esol")
    assert "[solubility]" in esol.snippet.lower() or "[solubility," in esol.snippet.lower()
    assert esol.matched_fields


async def test_the_prefix_fallback_finds_a_typo(mesh: Mesh) -> None:
    """Where pg_trgm is missing, a typo is matched by the prefixes of its words."""
    tag = unique_name("t")
    name = seed(mesh, tag, "Thermostat calibration curves.")
    seed(mesh, tag, "Nothing about heat.")
    query = registry_search.SearchQuery("thermostatt", [tag], "", "", 20, "")
    conn = await asyncpg.connect(mesh.env["MODELGW_DATABASE_URL"])
    try:
        await init_connection(conn)
        page = await registry_search.search(conn, query, None, fallback=Mode.PREFIX)
        assert [h.row.name for h in page.hits] == [name]
        assert "[thermostat]" in page.hits[0].snippet.lower()
        assert page.hits[0].matched_fields == ["description"] and page.hits[0].score > 0
        hidden = await registry_search.search(conn, query, [], fallback=Mode.PREFIX)
        assert hidden.hits == []
    finally:
        await conn.close()


def test_empty_q_lists_by_name_with_filters(mesh: Mesh) -> None:
    tag = unique_name("t")
    names = sorted(seed(mesh, tag, f"model {i}") for i in range(3))
    assert [h.model.name for h in search(mesh, tags=[tag]).hits] == names
    owner = f"owner-{tag}"
    mesh.registry().GrantAccess(
        R.GrantAccessRequest(name=names[1], user=owner, role=model_pb2.ACCESS_ROLE_OWNER),
        metadata=su(mesh),
    )
    assert [h.model.name for h in search(mesh, tags=[tag], owner=owner).hits] == [names[1]]
    assert [
        h.model.name for h in search(mesh, mesh.metadata(owner), tags=[tag], owner=owner).hits
    ] == [names[1]]
    assert search(mesh, tags=[tag, "no-such-tag"]).hits == []


def test_backend_kind_filter(mesh: Mesh) -> None:
    consensus = {h.model.name for h in search(mesh, backend_kind="consensus", page_size=100).hits}
    assert "demo.paper-consensus" in consensus and "rdkit.esol" not in consensus
    python = {h.model.name for h in search(mesh, q="solubility", backend_kind="python").hits}
    assert "rdkit.esol" in python and "demo.paper-consensus" not in python


def test_pages_cover_every_hit_once(mesh: Mesh) -> None:
    tag = unique_name("t")
    names = {seed(mesh, tag, "viscosity " * (i + 1) + "of liquids") for i in range(5)}
    seen: list[tuple[str, float]] = []
    token = ""
    for _ in range(10):
        page = search(mesh, q="viscosity", tags=[tag], page_size=2, page_token=token)
        seen += ranked(page)
        token = page.next_page_token
        if not token:
            break
    assert sorted(n for n, _ in seen) == sorted(names)
    assert seen == sorted(seen, key=lambda hit: (-hit[1], hit[0]))
    expect(
        INVALID,
        lambda: search(
            mesh, q="liquids", tags=[tag], page_size=2, page_token=first_token(mesh, tag)
        ),
        "same q, tags",
    )


def first_token(mesh: Mesh, tag: str) -> str:
    return search(mesh, q="viscosity", tags=[tag], page_size=2).next_page_token


def test_a_private_model_neither_appears_nor_moves_other_hits(mesh: Mesh) -> None:
    tag = unique_name("t")
    for text in ("aqueous solubility of salts", "solubility tables", "aqueous chemistry"):
        seed(mesh, tag, text, public=True)
    stranger = mesh.metadata(f"stranger-{tag}")
    before = ranked(search(mesh, stranger, q="aqueous or solubility", tags=[tag]))
    hidden = seed(
        mesh, tag, "aqueous solubility, aqueous solubility", display_name="Aqueous solubility"
    )
    after = ranked(search(mesh, stranger, q="aqueous or solubility", tags=[tag]))
    assert after == before and len(before) == 3
    assert hidden not in {n for n, _ in ranked(search(mesh, stranger, q="aqueous", tags=[tag]))}
    assert ranked(search(mesh, q="aqueous solubility", tags=[tag]))[0][0] == hidden
    # Nor does it turn a search the caller's models fail into a typo search.
    assert ranked(search(mesh, stranger, q="aqueous solubility salts", tags=[tag]))[0][1] > 0


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"q": "x" * 501}, ("q is 501 characters", "500")),
        ({"page_size": 101}, ("page_size 101", "1 to 100")),
        ({"page_size": -1}, ("page_size -1",)),
        ({"backend_kind": "fortran"}, ("backend_kind 'fortran' is unknown", "python")),
        ({"page_token": "not-a-token"}, ("page_token",)),
        ({"q": "a\x00b"}, ("NUL",)),
        ({"owner": "*"}, ("user",)),
    ],
)
def test_bad_input_is_invalid_argument(
    mesh: Mesh, fields: dict[str, Any], words: tuple[str, ...]
) -> None:
    expect(INVALID, lambda: search(mesh, **fields), *words)


def test_hostile_queries_are_only_words(mesh: Mesh) -> None:
    for q in ("'; DROP TABLE models; --", "a & | ! :* (", '"unbalanced', "-", "!!!", "é ü 漢字"):
        search(mesh, q=q)

"""search_models over SearchModels (the registry's search, merged from hs-search)."""

from __future__ import annotations

import pytest

import modelgw
from tests.gateway.edge.conftest import Edge


def test_search_finds_the_logp_model(alice: modelgw.Client) -> None:
    hits = alice.search_models("logp")
    assert hits and all(isinstance(h, modelgw.SearchHit) for h in hits)
    assert "rdkit.logp" in [h.model.name for h in hits]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.matched_fields for h in hits)
    assert len(alice.search_models("logp", limit=1)) == 1


def test_search_filters_and_hostile_queries(alice: modelgw.Client) -> None:
    assert alice.search_models("logp", tags=["no-such-tag-anywhere"]) == []
    assert alice.search_models("logp", owner="nobody-at-all") == []
    with pytest.raises(modelgw.InvalidInput):
        alice.search_models("x" * 501)
    for hostile in ("'; DROP TABLE models; --", "\\", "a & | ! ( ) :*", "[]"):
        assert isinstance(alice.search_models(hostile), list)


async def test_async_search(gateway: Edge) -> None:
    async with modelgw.AsyncClient(gateway.address, gateway.mesh.token("alice")) as client:
        hits = await client.search_models("logp", limit=5)
        assert "rdkit.logp" in [h.model.name for h in hits]

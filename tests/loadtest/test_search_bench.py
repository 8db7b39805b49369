"""The SearchModels bench at 200 models: it seeds, searches as both callers and stops.
It checks that the bench works, never the figures."""

from __future__ import annotations

from loadtest.search_bench import run


def test_search_bench_runs_small() -> None:
    result = run(models=200, calls=30, reader_fraction=0.1)
    assert result["models"] == 200 and 0 < result["reader_models"] < 200
    for caller in ("superuser", "reader"):
        assert result[caller]["calls"] == 30
        assert result[caller]["p50_ms"] <= result[caller]["p95_ms"] <= result[caller]["p99_ms"]
    assert result["reader"]["mean_hits"] <= result["superuser"]["mean_hits"]

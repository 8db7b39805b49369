"""SearchModels latency over many models: `python -m loadtest.search_bench`.

Starts a throwaway mesh of PostgreSQL, Redis and the registry server on free
ports, seeds the models straight into the registry's tables (the search
triggers of migration 0008 index each one as it is written), grants a reader a
fraction of them, then times SearchModels calls through gRPC one at a time, as
a superuser and as that reader, and prints p50/p95/p99 per caller as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import grpc

from gateway.authn import create_token
from gateway.config import METRICS_PORTS, GatewayConfig
from gateway.registry.database import init_connection
from loadtest.stats import percentile
from mesh import free_port
from mesh.services import SERVICES
from mesh.supervisor import Mesh, MeshConfig
from modelgateway.v1 import registry_pb2, registry_pb2_grpc

READER = "bench-reader"
_VOCABULARY = (
    "aqueous solubility lipophilicity partition coefficient polar surface area molecular "
    "weight drug likeness toxicity mutagenic binding affinity kinase protein ligand docking "
    "pose energy charge dipole boiling melting point vapour pressure density viscosity "
    "refractive index permeability absorption metabolism clearance half life plasma blood "
    "brain barrier hepatic renal cardiac ion channel receptor agonist antagonist inhibitor "
    "enzyme substrate fragment scaffold ring aromatic chiral stereo isomer tautomer "
    "conformer fingerprint descriptor embedding graph neural network forest regression "
    "classifier ensemble consensus uncertainty calibration yield reaction retrosynthesis "
    "catalyst solvent temperature spectrum infrared nuclear magnetic resonance mass "
    "fluorescence quantum orbital gap ionization electron affinity acidity basicity "
    "hydrogen bond donor acceptor rotatable count volume shape similarity cluster"
)
WORDS = tuple(_VOCABULARY.split())
TAGS = tuple(f"tag{i}" for i in range(24))


class _SearchMesh(Mesh):
    """The registry alone, its metrics ports chosen by the system."""

    def child_env(self, database_url: str, redis_url: str) -> dict[str, str]:
        quiet = {f"MODELGW_{name.upper()}_METRICS_PORT": "0" for name in METRICS_PORTS}
        return {**super().child_env(database_url, redis_url), **quiet}


def _model_rows(count: int, rng: random.Random) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(count):
        a, b = rng.sample(WORDS, 2)
        description = " ".join(rng.choices(WORDS, k=rng.randint(10, 25))).capitalize() + "."
        tags = rng.sample(TAGS, 2)
        rows.append((f"bench.{a}-{b}-{i}", f"{a.title()} {b}", description, tags))
    return rows


def _schema(rng: random.Random) -> dict[str, Any]:
    names = rng.sample(WORDS, 3)
    properties = {
        f"{n}_{rng.choice(WORDS)}": {"type": "number", "description": f"The {n}, in units."}
        for n in names
    }
    return {"type": "object", "properties": properties}


async def seed(dsn: str, count: int, reader_fraction: float, seed_value: int = 7) -> int:
    """Writes count models with one version each; grants READER a fraction of them.
    Returns how many READER may read."""
    rng = random.Random(seed_value)
    rows = _model_rows(count, rng)
    conn = await asyncpg.connect(dsn)
    try:
        await init_connection(conn)
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO models (name, display_name, description, tags)"
                " VALUES ($1, $2, $3, $4)",
                rows,
            )
            await conn.executemany(
                "INSERT INTO model_versions (model, version, backend_kind, backend_config,"
                " input_schema, output_schema) VALUES ($1, '1.0.0', 'python', $2, $3, $4)",
                [(r[0], {"callable": "x:y"}, _schema(rng), _schema(rng)) for r in rows],
            )
            granted = [r[0] for r in rows if rng.random() < reader_fraction]
            await conn.executemany(
                "INSERT INTO casbin_rule (ptype, v0, v1, v2) VALUES ('g', $1, 'role:reader', $2)",
                [(f"user:{READER}", name) for name in granted],
            )
            await conn.execute("SELECT pg_notify('modelgw_policy', '*')")
        # Each model's search rows were written twice (its insert, then its
        # version's): vacuum the dead half as autovacuum would within a minute.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return len(granted)


def queries(count: int, seed_value: int = 11) -> list[registry_pb2.SearchModelsRequest]:
    """A mix: one or two words, a typo, a tag filter, and a few empty queries."""
    rng = random.Random(seed_value)
    out = []
    for i in range(count):
        words = rng.sample(WORDS, 1 + i % 2)
        if i % 7 == 3:
            word = words[0]
            cut = rng.randrange(1, len(word))
            words[0] = word[:cut] + word[cut + 1 :]  # a typo
        tags = [rng.choice(TAGS)] if i % 5 == 4 else []
        q = "" if i % 23 == 22 else " ".join(words)
        out.append(registry_pb2.SearchModelsRequest(q=q, tags=tags))
    return out


async def _time_calls(
    address: str, token: str, requests: Sequence[registry_pb2.SearchModelsRequest]
) -> dict[str, float]:
    md = (("authorization", f"Bearer {token}"),)
    latencies, hits = [], 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        for request in requests[:20]:  # warm the pool, the plan cache, the policy
            await stub.SearchModels(request, metadata=md)
        for request in requests:
            start = time.perf_counter()
            reply = await stub.SearchModels(request, metadata=md)
            latencies.append((time.perf_counter() - start) * 1000)
            hits += len(reply.hits)
    latencies.sort()
    return {
        "calls": len(latencies),
        "mean_hits": round(hits / len(latencies), 1),
        **{f"p{q}_ms": round(percentile(latencies, q), 2) for q in (50, 95, 99)},
    }


async def _wait_for_grants(address: str, token: str, expected: int) -> None:
    md = (("authorization", f"Bearer {token}"),)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        for _ in range(100):
            reply = await stub.SearchModels(registry_pb2.SearchModelsRequest(), metadata=md)
            if len(reply.hits) > 0 or expected == 0:
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("the registry never saw the reader's grants")


def run(models: int, calls: int, reader_fraction: float) -> dict[str, Any]:
    """Starts the mesh, seeds it, times both callers, stops the mesh."""
    home = Path(tempfile.mkdtemp(prefix="modelgw-search-bench-", dir="/tmp"))
    home.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
    port = free_port()
    config = MeshConfig(
        home=home,
        pg_port=free_port(),
        redis_port=free_port(),
        service_ports={"MODELGW_REGISTRY_PORT": port},
    )
    mesh = _SearchMesh(config, [s for s in SERVICES if s.name == "registry"])
    try:
        mesh.start()
        env: Mapping[str, str] = mesh.child_env(mesh.postgres.dsn, mesh.redis.url)
        started = time.perf_counter()
        readable = asyncio.run(seed(mesh.postgres.dsn, models, reader_fraction))
        seeded_s = time.perf_counter() - started
        auth = GatewayConfig.from_env(env).auth
        root = create_token(auth, "bench-root", superuser=True, ttl_s=3600)
        reader = create_token(auth, READER, superuser=False, ttl_s=3600)
        address = f"127.0.0.1:{port}"
        asyncio.run(_wait_for_grants(address, reader, readable))
        plan = queries(calls)
        return {
            "models": models,
            "reader_models": readable,
            "seed_s": round(seeded_s, 1),
            "superuser": asyncio.run(_time_calls(address, root, plan)),
            "reader": asyncio.run(_time_calls(address, reader, plan)),
        }
    finally:
        mesh.stop()
        shutil.rmtree(home, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Parses the options, runs the bench, prints the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--reader-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    result = run(args.models, args.calls, args.reader_fraction)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())

"""The web console's speed in Chromium: what its first load transfers, and how long
the models page takes to list 1,000 models. Its own mesh (registry, execution,
admin and Envoy), the models written straight into PostgreSQL.

    python -m loadtest.console_bench [--models 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.authn import create_token
from gateway.config import METRICS_PORTS, GatewayConfig
from loadtest.search_bench import READER, seed
from mesh import free_port
from mesh.services import SERVICES
from mesh.supervisor import Mesh, MeshConfig

CHROMIUM = shutil.which("chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
_PARTS = ("registry", "execution", "admin", "envoy")


class _ConsoleMesh(Mesh):
    def child_env(self, database_url: str, redis_url: str) -> dict[str, str]:
        quiet = {f"MODELGW_{name.upper()}_METRICS_PORT": "0" for name in METRICS_PORTS}
        quiet["MODELGW_ENVOY_ADMIN_PORT"] = str(free_port())
        return {**super().child_env(database_url, redis_url), **quiet}


def _measure(url: str, token: str, models: int, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    loads, renders = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.goto(url + "#/signin", wait_until="networkidle")
            page.evaluate("t => sessionStorage.setItem('modelgw.token', t)", token)
            started = time.perf_counter()
            page.goto(url + "#/models")
            page.wait_for_function(
                f"() => document.querySelector('.count')?.textContent === '{models} models'",
                timeout=60_000,
            )
            renders.append((time.perf_counter() - started) * 1000)
            loads.append(page.evaluate(_TRANSFERRED))
            context.close()
        browser.close()
    console = [load["console"] for load in loads]
    return {
        "models": models,
        "runs": runs,
        "first_load_console_bytes": max(console),
        "first_load_api_bytes": max(load["api"] for load in loads),
        "models_page_ms": {"median": round(statistics.median(renders)), "max": round(max(renders))},
    }


# Bytes the page received, console files apart from API replies (the data).
_TRANSFERRED = """() => {
  const entries = [...performance.getEntriesByType('navigation'),
                   ...performance.getEntriesByType('resource')];
  const size = (e) => e.encodedBodySize || e.transferSize || 0;
  const api = entries.filter((e) => new URL(e.name).pathname.startsWith('/v1/'));
  const console = entries.filter((e) => !new URL(e.name).pathname.startsWith('/v1/'));
  return {console: console.reduce((n, e) => n + size(e), 0),
          api: api.reduce((n, e) => n + size(e), 0)};
}"""


def run(models: int, runs: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="modelgw-console-bench-", dir="/tmp"))
    home.chmod(0o755)  # PostgreSQL runs as `postgres` when we are root
    ports = {name: free_port() for name in _PARTS}
    config = MeshConfig(
        home=home, pg_port=free_port(), redis_port=free_port(),
        service_ports={f"MODELGW_{name.upper()}_PORT": port for name, port in ports.items()},
    )  # fmt: skip
    mesh = _ConsoleMesh(config, [s for s in SERVICES if s.name in _PARTS])
    try:
        mesh.start()
        env = mesh.child_env(mesh.postgres.dsn, mesh.redis.url)
        asyncio.run(seed(mesh.postgres.dsn, models, reader_fraction=1.0))
        token = create_token(GatewayConfig.from_env(env).auth, READER, superuser=False, ttl_s=3600)
        time.sleep(1.0)  # the registry hears of the grants by NOTIFY
        return _measure(f"http://127.0.0.1:{ports['envoy']}/console/", token, models, runs)
    finally:
        mesh.stop()
        shutil.rmtree(home, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.console_bench")
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.models, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

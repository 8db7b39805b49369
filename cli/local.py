"""`modelgw up` (the local mesh) and `modelgw envoy-config` (the REST edge's files)."""

from __future__ import annotations

import argparse

from cli._run import Commands


def add_commands(commands: Commands) -> None:
    """Adds `up` and `envoy-config`."""
    up = commands.add_parser("up", help="run the local mesh in the foreground (Ctrl-C stops it)")
    up.set_defaults(run=run_up)
    envoy_config = commands.add_parser(
        "envoy-config",
        help="render Envoy's configuration, descriptor set, OpenAPI document and docs page "
        "under MODELGW_HOME/envoy; prints the bootstrap's path",
    )
    envoy_config.set_defaults(run=render_envoy_config)


def run_up(args: argparse.Namespace) -> int:
    """Runs the local mesh until Ctrl-C (mesh.supervisor)."""
    from mesh.supervisor import main_up

    return main_up()


def render_envoy_config(args: argparse.Namespace) -> int:
    """Renders the edge's files under MODELGW_HOME/envoy and prints the bootstrap's path."""
    from gateway.edge.config import EdgeConfig
    from gateway.edge.envoy_config import render

    rendered = render(EdgeConfig.from_env())
    print(rendered.bootstrap)
    return 0

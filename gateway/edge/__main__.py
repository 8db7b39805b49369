"""`python -m gateway.edge`: render the configuration, then become Envoy.

What `modelgw up` runs. exec, not a child process, so that the supervisor's
SIGTERM reaches Envoy itself.
"""

from __future__ import annotations

import os
import sys

from gateway.edge.config import EdgeConfig
from gateway.edge.envoy_config import envoy_argv, render
from settings import SettingsError


def main() -> int:
    """Render the configuration under MODELGW_HOME/envoy, then exec Envoy on it."""
    try:
        rendered = render(EdgeConfig.from_env())
    except SettingsError as exc:
        print(f"modelgw edge: configuration error: {exc}", file=sys.stderr)
        return 2
    argv = envoy_argv(rendered.bootstrap)
    sys.stdout.flush()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())

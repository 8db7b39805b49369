"""`python -m gateway.edge`: render the configuration, then become Envoy.

What `modelgw up` runs. exec, not a child process, so that the supervisor's
SIGTERM reaches Envoy itself.
"""

from __future__ import annotations

import os
import sys

from gateway.config import ConfigError
from gateway.edge.config import EdgeConfig
from gateway.edge.envoy_config import envoy_argv, render


def main() -> int:
    try:
        rendered = render(EdgeConfig.from_env())
    except ConfigError as exc:
        print(f"modelgw edge: configuration error: {exc}", file=sys.stderr)
        return 2
    argv = envoy_argv(rendered.bootstrap)
    sys.stdout.flush()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main())

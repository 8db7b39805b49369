"""The `modelgw` command: each subcommand builds one process of the platform from
its configuration and runs it (the composition root)."""

import os

# Before anything imports grpc, whose core reads this once: the platform's
# processes start children by fork and exec (the mesh, prefork, the worker)
# after using gRPC, and gRPC's fork support hooks every fork (pthread_atfork).
# A fork that meets gRPC's shutdown thread then waits forever: `modelgw up`
# hung spawning a step after its health checks had closed their channels. No
# child keeps using its parent's gRPC, so the support is off unless set.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

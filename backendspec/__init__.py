"""What a model version's backend spec may be: its kinds, the shape of each kind's
config, and the operator's allow-list of what may run at all.

A version's spec is {"kind": ..., "config": {...}}. The registry checks a spec when
the version is created and a worker checks it again before running it (a version
stored under older rules may break newer ones), both with this package: pure
checks, with no I/O, that neither the gateway nor the workers own.
"""

from backendspec.base import BackendSpecError
from backendspec.kinds import BACKEND_KINDS, check_backend_spec, check_config
from backendspec.policy import BackendNotAllowed, BackendPolicy

__all__ = [
    "BACKEND_KINDS",
    "BackendNotAllowed",
    "BackendPolicy",
    "BackendSpecError",
    "check_backend_spec",
    "check_config",
]

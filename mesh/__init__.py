"""The local mesh: PostgreSQL, Redis and the gateway servers as local processes (`modelgw up`)."""

from mesh.postgres import LocalPostgres
from mesh.process import MeshError, free_port, free_port_block
from mesh.redis import LocalRedis, LocalRedisCluster

__all__ = [
    "LocalPostgres",
    "LocalRedis",
    "LocalRedisCluster",
    "MeshError",
    "free_port",
    "free_port_block",
]

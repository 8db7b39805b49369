"""The local mesh: PostgreSQL, Redis and the gateway servers as local processes (`modelgw up`)."""

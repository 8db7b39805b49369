"""Load tests (locust) and the `make bench` load generator for Model Gateway.

- `locust_grpc.py`, `locust_rest.py`: locustfiles, job submission and job result
  retrieval over gRPC and over REST through Envoy (see README.md).
- `bench.py`: `python -m loadtest.bench`, the asyncio generator behind `make bench`.
"""

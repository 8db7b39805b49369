"""The gateway: the Registry, Execution and Admin gRPC servers."""

"""The model registry: models, versions and their resolution, stored in PostgreSQL."""

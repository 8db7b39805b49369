"""Built-in models' code: RDKit chemistry and demonstration models. The models
themselves (names, schemas, which callable) are declared in catalog/models.yaml."""

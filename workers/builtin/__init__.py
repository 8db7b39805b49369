"""Built-in models: RDKit chemistry and demonstration models, listed in catalog.BUILTIN_MODELS."""

"""Consensus models: a formula over the outputs of child models (paper III.F, Algorithm 1)."""

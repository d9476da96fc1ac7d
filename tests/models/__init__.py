"""Tests of the model library, ``ncf_movielens.models``."""

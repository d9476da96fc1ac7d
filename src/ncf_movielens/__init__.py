"""ncf-movielens: NCF (NeuMF) vs LightFM on MovieLens as a Kedro project."""

import os

# TensorFlow's C++ INFO lines (CUDA probing on CPU-only machines) drown the
# pipeline's own log; warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"

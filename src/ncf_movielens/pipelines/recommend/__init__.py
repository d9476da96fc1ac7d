"""recommend pipeline."""

from .pipeline import SHOW_NODE, create_pipeline

__all__ = ["SHOW_NODE", "create_pipeline"]

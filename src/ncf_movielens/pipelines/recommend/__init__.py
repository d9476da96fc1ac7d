"""recommend pipeline, and the recommendations pipeline that stores what it shows."""

from .pipeline import create_pipeline, create_recommendations_pipeline

__all__ = ["create_pipeline", "create_recommendations_pipeline"]

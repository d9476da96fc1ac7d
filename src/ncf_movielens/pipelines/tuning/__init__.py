"""tuning pipeline."""

from .pipeline import OPTION_GROUPS, create_pipeline, create_tuned_pipeline

__all__ = ["OPTION_GROUPS", "create_pipeline", "create_tuned_pipeline"]

"""The models this study compares, in the order the comparison shows them.

The pipeline registry reads this one declaration to build each model's
training, evaluation and recommendation pipelines under the model's name
(its namespace, its parameters key and the prefix of its catalog entries).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StudyModel:
    #: namespace, parameters key and catalog prefix, e.g. ``ncf.model``
    name: str
    #: the model's row in the comparison, the figure and the recommendations
    label: str
    #: rerun with the extra seeds of the ``seeds`` parameter
    stochastic: bool


MODELS = (
    StudyModel("ncf", "NCF (NeuMF)", stochastic=True),
    StudyModel("lightfm", "LightFM (WARP)", stochastic=True),
    StudyModel("most_popular", "Most popular", stochastic=False),
    StudyModel("ease", "EASE (lambda 300)", stochastic=False),
)
if len({model.label for model in MODELS}) != len(MODELS):
    raise ValueError("every model of the study needs its own label")


def extra_seeds(seed: int, seeds: int) -> list[int]:
    """The seeds after the main run's: ``seed + 1 .. seed + seeds - 1``."""
    return [seed + offset for offset in range(1, seeds)]

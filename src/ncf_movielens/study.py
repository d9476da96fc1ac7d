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
    #: the tuned model's row (``kedro run --pipelines=tuning``); None: not tuned
    tuned_label: str | None = None
    #: its parameters group has a ``settings`` name (``ncf.settings``) that,
    #: when set, its label carries (``labelled``); False for a model without
    #: options and for a tuned model, whose label already says "tuned"
    named_settings: bool = False

    def tuned(self) -> StudyModel:
        """The model retrained with its study's best parameters."""
        if self.tuned_label is None:
            raise ValueError(f"{self.name} is not tuned")
        return StudyModel(f"{self.name}_tuned", self.tuned_label, self.stochastic)


MODELS = (
    StudyModel(
        "ncf",
        "NCF (NeuMF)",
        stochastic=True,
        tuned_label="NCF (NeuMF), tuned",
        named_settings=True,
    ),
    StudyModel(
        "lightfm",
        "LightFM (WARP)",
        stochastic=True,
        tuned_label="LightFM, tuned",
        named_settings=True,
    ),
    StudyModel(
        "ials",
        "iALS (implicit)",
        stochastic=True,
        tuned_label="iALS (implicit), tuned",
        named_settings=True,
    ),
    StudyModel("most_popular", "Most popular", stochastic=False),
    StudyModel(
        "ease",
        "EASE (lambda 300)",
        stochastic=False,
        tuned_label="EASE, tuned",
        named_settings=True,
    ),
)
#: The models with a study (``tuned_label``), and their tuned versions.
TUNABLE = tuple(model for model in MODELS if model.tuned_label)
TUNED_MODELS = tuple(model.tuned() for model in TUNABLE)
_LABELS = [model.label for model in MODELS + TUNED_MODELS]
if len(set(_LABELS)) != len(_LABELS):
    raise ValueError("every model of the study needs its own label")


def labelled(label: str, settings: str | None) -> str:
    """A model's label in every output: ``label``, or with named settings
    (``kedro run --env=notebook`` sets ``ncf.settings: notebook``)
    ``"<label>, <settings> settings"``, e.g. "NCF (NeuMF), notebook settings"."""
    return f"{label}, {settings} settings" if settings else label


def extra_seeds(seed: int, seeds: int) -> list[int]:
    """The seeds after the main run's: ``seed + 1 .. seed + seeds - 1``."""
    return [seed + offset for offset in range(1, seeds)]

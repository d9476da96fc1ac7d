"""Tuning (``kedro run --pipelines=tuning``): the validation split carved from
train, one Optuna study per tunable model (namespace ``tuning.<model>``), and
each tuned model's retrain on the whole train matrix (namespace
``<model>_tuned``). No tuning node takes the test matrix."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import TUNERS, split_validation, tuned_options_of

#: Each tunable model's option groups, the node inputs of its training.
OPTION_GROUPS = {
    "ncf": ("model_options", "training_options"),
    "lightfm": ("model_options", "training_options"),
    "ials": ("model_options", "training_options"),
    "ease": ("model_options",),
}


def create_pipeline(models: tuple[StudyModel, ...], **kwargs) -> Pipeline:
    split = Pipeline(
        [
            node(
                split_validation,
                inputs=["train_matrix", "params:validation_options"],
                outputs=["fit_matrix", "validation_matrix"],
                name="split_validation",
            )
        ]
    )
    studies = []
    for model in models:
        options = [
            f"params:{model.name}.{group}" for group in OPTION_GROUPS[model.name]
        ]
        params = [
            "params:tuning.study",
            f"params:tuning.{model.name}",
            # The evaluation's sanity check: a trial it would refuse is pruned.
            "params:evaluation_options.min_score_std",
            *options,
        ]
        studies.append(
            Pipeline(
                [
                    node(
                        TUNERS[model.name],
                        inputs=["fit_matrix", "validation_matrix", *params],
                        outputs=["best_parameters", "trials"],
                        name="tune",
                    )
                ],
                namespace=f"tuning.{model.name}",
                inputs={"fit_matrix", "validation_matrix"},
                # Un-dotted: the tuned retrain and the report read them.
                outputs={
                    "best_parameters": f"{model.name}_best_parameters",
                    "trials": f"{model.name}_trials",
                },
                parameters=set(params),
                tags=[model.name],
            )
        )
    return Pipeline([split, *studies], tags=["tuning"])


def create_tuned_pipeline(model: StudyModel, base: str, training: Pipeline) -> Pipeline:
    """``training`` (the ``base`` model's training template, built in
    ``model``'s namespace with options as inputs) after the node that reads
    the study's best parameters into those options."""
    groups = OPTION_GROUPS[base]
    best = f"{base}_best_parameters"
    options = Pipeline(
        [
            node(
                tuned_options_of(base),
                inputs=best,
                outputs=groups[0] if len(groups) == 1 else list(groups),
                name="tuned_options",
            )
        ],
        namespace=model.name,
        inputs={best},
        tags=[model.name, "tuned"],
    )
    return options + training

"""The same evaluation template for every model of the study, each under the
model's own namespace: score and measure, nothing else (the models come from
their own pipelines). A model with named settings (``StudyModel.named_settings``)
also takes its ``settings`` parameter, which its label then carries."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import evaluate_model_as, evaluate_other_seeds_as

_DATA = ["train_matrix", "test_matrix", "params:evaluation_options"]


def evaluation_template(model: StudyModel) -> Pipeline:
    # params:settings becomes params:<model>.settings in the namespace.
    data = [*_DATA, "params:settings"] if model.named_settings else _DATA
    nodes = [
        node(
            evaluate_model_as(model.label),
            inputs=["model", *data],
            outputs="metrics",
            name="evaluate_model",
        )
    ]
    if model.stochastic:
        nodes.append(
            node(
                evaluate_other_seeds_as(model.label),
                inputs=["other_seed_models", *data],
                outputs="seed_metrics",
                name="evaluate_other_seeds",
            )
        )
    return Pipeline(nodes)


def create_pipeline(models: tuple[StudyModel, ...], **kwargs) -> Pipeline:
    return Pipeline(
        [
            Pipeline(
                evaluation_template(model),
                namespace=model.name,
                inputs={"train_matrix", "test_matrix"},
                # Un-dotted so that the reporting pipeline (outside every
                # namespace) reads them without Kedro's namespacing warning.
                outputs={
                    "metrics": f"{model.name}_metrics",
                    **(
                        {"seed_metrics": f"{model.name}_seed_metrics"}
                        if model.stochastic
                        else {}
                    ),
                },
                parameters={"params:evaluation_options"},
                tags=[model.name],
            )
            for model in models
        ],
        tags=["evaluation"],
    )

"""Fit iALS on the train matrix (namespace ``ials``)."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import train_model, train_other_seeds

#: The option inputs of the training nodes: the model's parameters, or (for a
#: tuned model) datasets of its namespace that a node before them makes.
PARAMETERS = ("params:model_options", "params:training_options")


def create_pipeline(
    model: StudyModel, options: tuple[str, ...] = PARAMETERS, **kwargs
) -> Pipeline:
    inputs = ["train_matrix", *options]
    nodes = [node(train_model, inputs=inputs, outputs="model", name="train_model")]
    if model.stochastic:
        nodes.append(
            node(
                train_other_seeds,
                inputs=[*inputs, "params:seeds"],
                outputs="other_seed_models",
                name="train_other_seeds",
            )
        )
    return Pipeline(
        nodes,
        namespace=model.name,
        inputs={"train_matrix"},
        # `seeds` is one top-level parameter, not per model (only with the node)
        parameters={"params:seeds"} if model.stochastic else set(),
        tags=[model.name, "training"],
    )

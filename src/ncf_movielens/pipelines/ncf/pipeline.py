"""Train NeuMF on the long user x item table (namespace ``ncf``)."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import train_model, train_other_seeds

#: The option inputs of the training nodes: the model's parameters, or (for a
#: tuned model) datasets of its namespace that a node before them makes.
PARAMETERS = ("params:model_options", "params:training_options")


def create_pipeline(
    model: StudyModel, options: tuple[str, ...] = PARAMETERS, **kwargs
) -> Pipeline:
    data = ["model_input_table", "train_matrix"]
    options = list(options)
    nodes = [
        node(
            train_model,
            inputs=data + options,
            outputs=["model", "training_history"],
            name="train_model",
        )
    ]
    if model.stochastic:
        nodes.append(
            node(
                train_other_seeds,
                inputs=[*data, *options, "params:seeds"],
                outputs="other_seed_models",
                name="train_other_seeds",
            )
        )
    return Pipeline(
        nodes,
        namespace=model.name,
        inputs=set(data),
        # Un-dotted: the report outside this namespace plots it.
        outputs={"training_history": f"{model.name}_training_history"},
        # `seeds` is one top-level parameter, not per model (only with the node)
        parameters={"params:seeds"} if model.stochastic else set(),
        tags=[model.name, "training"],
    )

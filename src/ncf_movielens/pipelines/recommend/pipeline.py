"""Recommendations in two pipelines: ``recommendations`` scores every user with
each model once and stores their top unseen movies (namespaced per model, part
of every full run); ``recommend`` shows one user's stored lists side by side,
without scoring or writing anything:
``kedro run --pipelines=recommend --params=recommend.user_id=42``."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import recommend_top_k_as, show_user_recommendations

_STORE_PARAMS = ["params:recommend.stored_top_k", "params:recommend.batch_size"]


def _per_model(model: StudyModel) -> Pipeline:
    # A model with named settings labels its lists with them: params:settings,
    # params:<model>.settings in the namespace.
    settings = ["params:settings"] if model.named_settings else []
    template = Pipeline(
        [
            node(
                recommend_top_k_as(model.label),
                inputs=["model", "train_matrix", "movies", *_STORE_PARAMS, *settings],
                outputs="recommendations",
                name="recommend_top_k",
            )
        ]
    )
    return Pipeline(
        template,
        namespace=model.name,
        inputs={"train_matrix", "movies"},
        outputs={"recommendations": f"{model.name}_recommendations"},
        parameters=set(_STORE_PARAMS),
        tags=[model.name],
    )


def create_recommendations_pipeline(models: tuple[StudyModel, ...]) -> Pipeline:
    """``<model>.recommend_top_k`` for each model: its ``<model>_recommendations``."""
    return Pipeline([_per_model(model) for model in models], tags=["recommend"])


def create_pipeline(models: tuple[StudyModel, ...], **kwargs) -> Pipeline:
    """``show_user_recommendations``, from the stored ``<model>_recommendations``."""
    show = node(
        show_user_recommendations,
        inputs=["params:recommend"]
        + [f"{model.name}_recommendations" for model in models],
        outputs="user_recommendations",
        name="show_user_recommendations",
    )
    return Pipeline([show], tags=["recommend"])

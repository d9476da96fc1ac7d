"""Each model's top unseen movies for every user (namespaced per model), and
one user's lists side by side:
``kedro run --pipelines=recommend --params=recommend.user_id=42``."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.study import StudyModel

from .nodes import recommend_top_k_as, show_user_recommendations

SHOW_NODE = "show_user_recommendations"


def _per_model(model: StudyModel) -> Pipeline:
    template = Pipeline(
        [
            node(
                recommend_top_k_as(model.label),
                inputs=["model", "train_matrix", "movies", "params:recommend"],
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
        parameters={"params:recommend"},
        tags=[model.name],
    )


def create_pipeline(models: tuple[StudyModel, ...], **kwargs) -> Pipeline:
    show = node(
        show_user_recommendations,
        inputs=["params:recommend"]
        + [f"{model.name}_recommendations" for model in models],
        outputs="user_recommendations",
        name=SHOW_NODE,
    )
    return Pipeline(
        [*(_per_model(model) for model in models), show], tags=["recommend"]
    )

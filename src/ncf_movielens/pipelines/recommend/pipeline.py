"""Each model's top unseen movies for every user (namespaced per model), and
one user's lists side by side:
``kedro run --pipelines=recommend --params=recommend.user_id=42``."""

from kedro.pipeline import Pipeline, node

from ncf_movielens.pipelines.evaluation.pipeline import MODELS

from .nodes import recommend_top_k, show_user_recommendations


def _per_model(name: str) -> Pipeline:
    template = Pipeline(
        [
            node(
                recommend_top_k,
                inputs=[
                    "model",
                    "train_matrix",
                    "movies",
                    "params:recommend",
                    "params:evaluation",
                ],
                outputs="recommendations",
                name="recommend_top_k",
            )
        ]
    )
    return Pipeline(
        template,
        namespace=name,
        inputs={"train_matrix", "movies"},
        outputs={"recommendations": f"{name}_recommendations"},
        parameters={"params:recommend"},
        tags=[name],
    )


def create_pipeline(**kwargs) -> Pipeline:
    show = Pipeline(
        [
            node(
                show_user_recommendations,
                inputs=["params:recommend"]
                + [f"{name}_recommendations" for name in MODELS],
                outputs="user_recommendations",
                name="show_user_recommendations",
            )
        ]
    )
    return Pipeline([*(_per_model(name) for name in MODELS), show], tags=["recommend"])

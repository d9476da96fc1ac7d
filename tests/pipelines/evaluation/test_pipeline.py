"""The evaluation pipeline run by Kedro's runner: every model of the study
measured under its label, its extra-seed runs one by one, and nothing trained."""

from __future__ import annotations

from ncf_movielens.models.lightfm import fit_lightfm
from ncf_movielens.parameter_errors import validate_parameters
from ncf_movielens.parameters import EvaluationOptions
from ncf_movielens.pipelines import evaluation, lightfm
from ncf_movielens.pipelines.evaluation.nodes import measure
from ncf_movielens.study import MODELS
from tests.support import project_options, project_params

STOCHASTIC = [model.name for model in MODELS if model.stochastic]


def test_the_pipeline_reads_models_and_writes_metrics():
    pipeline = evaluation.create_pipeline(models=MODELS)
    assert pipeline.inputs() == {
        "train_matrix",
        "test_matrix",
        "params:evaluation_options",
        *(f"params:{model.name}.settings" for model in MODELS if model.named_settings),
        *(f"{model.name}.model" for model in MODELS),
        *(f"{name}.other_seed_models" for name in STOCHASTIC),
    }
    assert pipeline.outputs() == {
        *(f"{model.name}_metrics" for model in MODELS),
        *(f"{name}_seed_metrics" for name in STOCHASTIC),
    }


def test_every_model_is_measured_under_its_label(matrices, run, model_datasets):
    train, test = matrices
    outputs = run(
        evaluation.create_pipeline(models=MODELS),
        {
            "train_matrix": train,
            "test_matrix": test,
            **model_datasets,
            **{f"{name}.other_seed_models": {} for name in STOCHASTIC},
        },
    )
    options = project_options(EvaluationOptions, "evaluation_options")
    for model in MODELS:
        fitted = model_datasets[f"{model.name}.model"].load()
        metrics = outputs[f"{model.name}_metrics"]
        assert metrics["model"] == model.label
        assert metrics == measure(fitted, train, test, options, model.label)
    for name in STOCHASTIC:
        assert outputs[f"{name}_seed_metrics"] == []


def test_extra_seed_runs_are_measured_one_by_one(matrices, run):
    """seeds=3 after seed 42: runs with seeds 43 and 44, each measured as a
    model fitted directly with that seed."""
    train, test = matrices
    model = next(model for model in MODELS if model.name == "lightfm")
    fast = {"training_options": {"epochs": 3}}
    pipeline = lightfm.create_pipeline(model=model) + evaluation.create_pipeline(
        models=(model,)
    )
    outputs = run(
        pipeline, {"train_matrix": train, "test_matrix": test}, lightfm=fast, seeds=3
    )
    params = validate_parameters(project_params(lightfm=fast, seeds=3))
    options = params.lightfm.training_options
    runs = outputs["lightfm_seed_metrics"]
    assert [metrics["seed"] for metrics in runs] == [43, 44]
    for metrics in runs:
        direct = fit_lightfm(
            train,
            params.lightfm.model_options,
            options.model_copy(update={"seed": metrics["seed"]}),
        )
        expected = measure(direct, train, test, params.evaluation_options, model.label)
        assert metrics == {**expected, "seed": metrics["seed"]}
    assert runs[0]["protocols"] != runs[1]["protocols"]
    assert outputs["lightfm_metrics"] == measure(
        fit_lightfm(train, params.lightfm.model_options, options),
        train,
        test,
        params.evaluation_options,
        model.label,
    )


def test_named_settings_label_every_models_metrics(matrices, run, model_datasets):
    """``<model>.settings`` set, as an environment sets it: that model's main
    and extra-seed metrics carry "<label>, <settings> settings"; the others'
    labels stay theirs."""
    train, test = matrices
    ncf = next(model for model in MODELS if model.name == "ncf")
    outputs = run(
        evaluation.create_pipeline(models=MODELS),
        {
            "train_matrix": train,
            "test_matrix": test,
            **model_datasets,
            "ncf.other_seed_models": {43: model_datasets["ncf.model"].load()},
            **{f"{name}.other_seed_models": {} for name in STOCHASTIC if name != "ncf"},
        },
        ncf={"settings": "notebook"},
    )
    assert outputs["ncf_metrics"]["model"] == "NCF (NeuMF), notebook settings"
    assert [m["model"] for m in outputs["ncf_seed_metrics"]] == [
        "NCF (NeuMF), notebook settings"
    ]
    for model in MODELS:
        if model is not ncf:
            assert outputs[f"{model.name}_metrics"]["model"] == model.label

"""The NCF pipeline run by Kedro's runner: the long table and the typed
``ncf.*`` options in; NeuMF, its training history and (with one seed) no other
model out."""

from __future__ import annotations

from kedro.io import MemoryDataset

from ncf_movielens.models.neumf import NeuMF
from ncf_movielens.parameters import ReshapeOptions
from ncf_movielens.pipelines.data_engineering.nodes import matrix_to_long
from ncf_movielens.pipelines.ncf import create_pipeline
from ncf_movielens.study import MODELS, StudyModel
from tests.support import fast_ncf, project_options, project_params

MODEL = next(model for model in MODELS if model.name == "ncf")


def test_the_pipeline_reads_the_table_and_its_typed_options():
    pipeline = create_pipeline(model=MODEL)
    assert {node.name for node in pipeline.nodes} == {
        "ncf.train_model",
        "ncf.train_other_seeds",
    }
    assert pipeline.inputs() == {
        "model_input_table",
        "train_matrix",
        "params:ncf.model_options",
        "params:ncf.training_options",
        "params:seeds",
    }
    # The history is un-dotted: the report, outside the namespace, plots it.
    assert pipeline.outputs() == {
        "ncf.model",
        "ncf_training_history",
        "ncf.other_seed_models",
    }


def test_a_deterministic_model_has_no_other_seeds():
    pipeline = create_pipeline(model=StudyModel("ncf", "NCF", stochastic=False))
    assert [node.name for node in pipeline.nodes] == ["ncf.train_model"]


def test_the_pipeline_trains_neumf_with_its_parameters(matrices, run):
    train, _ = matrices
    table = matrix_to_long(train, project_options(ReshapeOptions, "reshape_options"))
    fast = fast_ncf(epochs=2)
    outputs = run(
        create_pipeline(model=MODEL),
        {"model_input_table": MemoryDataset(table), "train_matrix": train},
        ncf=fast,
    )
    model = outputs["ncf.model"]
    assert isinstance(model, NeuMF)
    # The matrix's users and items, and the model options as --params set them.
    params = project_params(ncf=fast)["ncf"]
    dims = (
        params["model_options"]["latent_dim_mf"],
        fast["model_options"]["latent_dim_mlp"],
    )
    assert model.get_layer("mf_user_embedding").input_dim == train.shape[0]
    assert model.get_layer("mf_item_embedding").input_dim == train.shape[1]
    assert model.get_layer("mf_user_embedding").output_dim == dims[0]
    assert model.get_layer("mlp_user_embedding").output_dim == dims[1]
    # The training options: 2 epochs (patience 2 cannot stop them), and every
    # train positive with `negatives` sampled items, a share held out.
    options = params["training_options"]
    history = outputs["ncf_training_history"]
    assert (history["epochs_run"], history["stopped_early"]) == (2, False)
    n_val = round(train.nnz * options["validation_split"])
    assert history["train_rows"] == (1 + options["negatives"]) * (train.nnz - n_val)
    assert outputs["ncf.other_seed_models"] == {}

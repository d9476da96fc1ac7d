"""Another MovieLens release (``--params=variant=ml-1m``) on synthetic files in
ml-1m's own format: it is parsed, and every output goes under
``data/<layer>/ml-1m/``, none into the ml-100k datasets (README, "Other
MovieLens releases")."""

from __future__ import annotations

import pandas as pd
import pytest

from .support import (
    FAST_PARAMS,
    data_files,
    kedro_in_process,
    make_project,
    ml_1m_files,
    project_params,
    version_file,
    versioned_outputs,
)

# 1,000 ratings: every user keeps train ratings after the split holds out 10
N_USERS, N_ITEMS, N_RATINGS = 40, 50, 1000
#: The data engineering pipeline and one cheap model, evaluated and recommending.
COMMAND = (
    "kedro run --params=variant=ml-1m --to-outputs="
    "model_input_table,most_popular_metrics,most_popular_recommendations"
)


@pytest.mark.slow
def test_ml_1m_writes_only_under_its_own_folders(tmp_path):
    raw = ml_1m_files(N_USERS, N_ITEMS, N_RATINGS, seed=1)
    project = make_project(
        tmp_path / "project", raw, variant="ml-1m", params=FAST_PARAMS
    )
    kedro_in_process(project, COMMAND)
    data = project / "data"

    # The run lock and run records are the project's, not a release's.
    written = data_files(data)
    assert written
    outside = [path for path in written if path.parts[1] != "ml-1m"]
    assert not outside, f"written outside the ml-1m folders: {outside}"
    layers = {path.parts[0] for path in written}
    assert layers == {
        "01_raw",
        "02_intermediate",
        "03_primary",
        "05_model_input",
        "06_models",
        "07_model_output",
        "08_reporting",
    }
    catalog = versioned_outputs(project, runtime_params={"variant": "ml-1m"})
    for name in ("ratings", "movies", "train_matrix", "most_popular_metrics"):
        assert catalog[name].parts[2] == "ml-1m", name
        assert version_file(project / catalog[name]).is_file(), name

    ratings = pd.read_parquet(version_file(project / catalog["ratings"]))
    assert len(ratings) == N_RATINGS
    assert ratings["user_id"].max() == N_USERS
    assert ratings["item_id"].max() == N_ITEMS
    movies = pd.read_parquet(version_file(project / catalog["movies"]))
    assert len(movies) == N_ITEMS
    assert movies["genres"].str.len().min() > 0


def test_ncf_logs_under_the_release_folder():
    """TensorBoard's folder is a parameter, not a catalog entry: it follows the
    release too."""
    for variant in ("ml-100k", "ml-1m"):
        options = project_params(variant=variant)["ncf"]["training_options"]
        assert options["tensorboard_log_dir"] == (
            f"data/07_model_output/{variant}/ncf_tensorboard"
        )

"""Comparison, report figure, repeated seeds and recommendations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from matplotlib.figure import Figure

from ncf_movielens.pipelines.evaluation.nodes import (
    DegenerateModelError,
    compare_models,
    comparison_text,
    evaluate_lightfm_seeds,
    evaluate_model,
    evaluated_users,
    plot_comparison,
)
from ncf_movielens.pipelines.most_popular.nodes import fit_most_popular
from ncf_movielens.pipelines.recommend.nodes import (
    recommend_top_k,
    show_user_recommendations,
)

EVALUATION_OPTIONS = {
    "top_k": 5,
    "ks": [5, 10],
    "curve_k": 20,
    "min_score_std": 0.01,
    "batch_size": 16,
}
LIGHTFM = (
    {"loss": "warp", "no_components": 5, "learning_rate": 0.05},
    {"seed": 1, "epochs": 3, "num_threads": 1},
)


def _metrics(label: str, p5: float) -> dict:
    return {
        "model": label,
        "protocols": {
            "seed": {"description": "seed: d", "precision@5": p5 / 2},
            "standard": {"description": "standard: d", "users": 9, "precision@5": p5},
        },
        "curves": {"k": [1, 2], "precision": [p5, p5], "recall": [0.1, 0.2]},
    }


@pytest.fixture(scope="module")
def matrices() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    rng = np.random.default_rng(0)
    both = sp.random(30, 40, density=0.3, format="csr", random_state=rng)
    both.data[:] = 1
    mask = both.copy()
    mask.data = (rng.random(mask.nnz) < 0.2).astype(float)
    test = both.multiply(mask).tocsr()
    train = (both - test).tocsr()
    for m in (train, test):
        m.eliminate_zeros()
    return train.astype(np.int8), test.astype(np.int8)


def test_compare_single_runs_has_no_std_columns():
    comparison, table, markdown = compare_models(
        _metrics("A", 0.3), _metrics("B", 0.1), []
    )
    assert table["model"].tolist() == ["A", "B"]
    assert table["runs"].tolist() == [1, 1]
    assert table.loc[0, "standard/precision@5"] == pytest.approx(0.3)
    assert not any(column.endswith(" std") for column in table.columns)
    assert comparison["models"]["B"]["seed/precision@5"]["mean"] == pytest.approx(0.05)
    assert "## Protocol `seed`" in markdown and "## Protocol `standard`" in markdown
    assert "| A | 1 | 0.3000 |" in markdown


def test_compare_reports_mean_and_std_over_seeds():
    runs = [
        _metrics("A", 0.2),
        [_metrics("A", 0.4), _metrics("A", 0.3)],
        _metrics("B", 0.1),
    ]
    comparison, table, markdown = compare_models(*runs)
    a = comparison["models"]["A"]["standard/precision@5"]
    assert a["runs"] == 3
    assert a["mean"] == pytest.approx(0.3)
    assert a["std"] == pytest.approx(np.std([0.2, 0.4, 0.3], ddof=1))
    row = table.set_index("model").loc["A"]
    assert row["runs"] == 3
    assert row["standard/precision@5 std"] == pytest.approx(a["std"])
    assert "0.3000 ± 0.1000" in markdown


def test_plot_has_curves_and_training_panels():
    history = {"history": {"loss": [0.5, 0.3], "val_loss": [0.6, 0.4]}}
    figure = plot_comparison(history, _metrics("A", 0.3), _metrics("B", 0.1))
    assert isinstance(figure, Figure)
    curves, _, training = figure.axes
    assert [line.get_label() for line in curves.get_lines()] == ["A", "B"]
    assert [line.get_label() for line in training.get_lines()] == ["loss", "val_loss"]


def test_extra_seeds_rerun_lightfm(matrices):
    train, test = matrices
    label = {"label": "LightFM"}
    assert (
        evaluate_lightfm_seeds(train, test, *LIGHTFM, EVALUATION_OPTIONS, label, 1)
        == []
    )
    runs = evaluate_lightfm_seeds(train, test, *LIGHTFM, EVALUATION_OPTIONS, label, 3)
    assert [run["seed"] for run in runs] == [2, 3]
    assert runs[0]["protocols"] != runs[1]["protocols"]


def test_flat_scores_fail_the_seed_sanity_check(matrices):
    train, test = matrices
    flat = fit_most_popular(sp.csr_matrix(train.shape, dtype=np.int8))
    with pytest.raises(DegenerateModelError, match="Flat: .*standard deviation"):
        evaluate_model(flat, train, test, EVALUATION_OPTIONS, {"label": "Flat"})


def test_recommendations_skip_seen_movies_and_carry_titles(matrices):
    train, _ = matrices
    movies = pd.DataFrame(
        {"item_id": np.arange(1, 41), "title": [f"T{i}" for i in range(1, 41)]}
    )
    model = fit_most_popular(train)
    recs = recommend_top_k(
        model, train, movies, {"stored_top_k": 4, "batch_size": 7}, {"label": "Pop"}
    )
    assert list(recs.columns) == [
        "model",
        "user_id",
        "rank",
        "item_id",
        "title",
        "score",
    ]
    assert recs.groupby("user_id").size().eq(4).all()
    assert recs["user_id"].nunique() == 30
    seen = {(u + 1, i + 1) for u, i in zip(*train.nonzero(), strict=True)}
    assert not seen & set(zip(recs["user_id"], recs["item_id"], strict=True))
    assert (recs["title"] == "T" + recs["item_id"].astype(str)).all()
    first = recs[recs["user_id"] == 1].sort_values("rank")
    assert first["score"].is_monotonic_decreasing


def test_show_one_users_lists_side_by_side(caplog):
    recs = pd.DataFrame(
        {
            "model": ["A", "A", "B", "B"],
            "user_id": [7, 7, 7, 7],
            "rank": [1, 2, 1, 2],
            "item_id": [1, 2, 3, 4],
            "title": ["Up", "Heat", "Fargo", "Alien"],
            "score": [2.0, 1.0, 2.0, 1.0],
        }
    )
    with caplog.at_level("INFO"):
        view = show_user_recommendations({"user_id": 7, "top_k": 2}, recs)
    assert view["A"].tolist() == ["Up", "Heat"]
    assert view["B"].tolist() == ["Fargo", "Alien"]
    assert "Top 2 movies for user 7" in caplog.text and "Fargo" in caplog.text
    with pytest.raises(ValueError, match="user_id 8 has no recommendations"):
        show_user_recommendations({"user_id": 8, "top_k": 2}, recs)
    with pytest.raises(ValueError, match="stored_top_k"):
        show_user_recommendations({"user_id": 7, "top_k": 3}, recs)


def test_user_sample_is_fixed_and_bounded(matrices):
    np.testing.assert_array_equal(evaluated_users(30, None), np.arange(30))
    sample = evaluated_users(30, 10)
    assert len(np.unique(sample)) == 10 and sample.max() < 30
    np.testing.assert_array_equal(sample, evaluated_users(30, 10))
    train, test = matrices
    model = fit_most_popular(train)
    options = {**EVALUATION_OPTIONS, "max_users": 10}
    metrics = evaluate_model(model, train, test, options, {"label": "Pop"})
    assert metrics["protocols"]["standard"]["users_sampled"] is True
    assert metrics["protocols"]["standard"]["users"] <= 10


def test_comparison_text_has_one_block_per_protocol():
    _, table, _ = compare_models(_metrics("A", 0.3), _metrics("B", 0.1))
    text = comparison_text(table)
    assert text.startswith("Model comparison")
    assert "Protocol 'seed'" in text and "Protocol 'standard'" in text
    header = next(line for line in text.splitlines() if line.startswith("model"))
    assert header.split()[1:] == ["A", "B"]
    _, table, _ = compare_models(
        [_metrics("A", 0.2), _metrics("A", 0.4)], _metrics("B", 0.1)
    )
    assert "0.3000 ± 0.1414" in comparison_text(table)

"""The metrics module against independent implementations on random data:
Keras for the seed protocol, lightfm.evaluation and plain per-user loops for
the standard protocol."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from lightfm import LightFM
from lightfm.evaluation import auc_score, precision_at_k, recall_at_k

from ncf_movielens.metrics import RankingEvaluator, evaluate_scores, top_k_indices
from ncf_movielens.scoring import iter_user_batches, score_users

N_USERS, N_ITEMS = 70, 90


def _binary(density: float, seed: int) -> sp.csr_matrix:
    matrix = sp.random(
        N_USERS, N_ITEMS, density=density, format="csr", random_state=seed
    )
    matrix.data[:] = 1
    return matrix.astype(np.int8)


@pytest.fixture(scope="module")
def split() -> tuple[sp.csr_matrix, sp.csr_matrix]:
    both = _binary(0.2, seed=0)
    mask = sp.random(N_USERS, N_ITEMS, density=0.25, format="csr", random_state=1)
    mask.data[:] = 1
    test = both.multiply(mask).tocsr().astype(np.int8)
    train = (both - test).tocsr().astype(np.int8)
    train.eliminate_zeros()
    test.eliminate_zeros()
    return train, test


@pytest.fixture(scope="module")
def lightfm_model(split) -> LightFM:
    model = LightFM(no_components=8, loss="warp", random_state=0)
    model.fit(split[0].tocoo(), epochs=5)
    return model


def _evaluate(model, train, test, batch_size=16, **options) -> RankingEvaluator:
    return evaluate_scores(
        iter_user_batches(model, N_USERS, N_ITEMS, batch_size), train, test, **options
    )


@pytest.mark.parametrize("k", [1, 5, 10])
def test_seed_protocol_matches_keras(split, k):
    train, test = split
    scores = np.random.default_rng(k).random((N_USERS, N_ITEMS)).astype(np.float32)
    evaluator = RankingEvaluator(train, test, seed_k=k)
    for start in range(0, N_USERS, 32):
        users = np.arange(start, min(start + 32, N_USERS))
        evaluator.update(users, scores[users])
    precision = keras.metrics.Precision(top_k=k)
    recall = keras.metrics.Recall(top_k=k)
    precision.update_state(test.toarray(), scores)
    recall.update_state(test.toarray(), scores)
    seed = evaluator.seed_metrics()
    assert seed[f"precision@{k}"] == pytest.approx(float(precision.result()), abs=1e-6)
    assert seed[f"recall@{k}"] == pytest.approx(float(recall.result()), abs=1e-6)


@pytest.mark.parametrize("k", [5, 10])
def test_standard_protocol_matches_lightfm_evaluation(split, lightfm_model, k):
    train, test = split
    metrics = _evaluate(lightfm_model, train, test, ks=(k,)).standard_metrics()
    expected_p = precision_at_k(lightfm_model, test, train_interactions=train, k=k)
    expected_r = recall_at_k(lightfm_model, test, train_interactions=train, k=k)
    assert metrics[f"precision@{k}"] == pytest.approx(expected_p.mean(), abs=1e-6)
    assert metrics[f"recall@{k}"] == pytest.approx(expected_r.mean(), abs=1e-6)


def test_auc_matches_lightfm_evaluation(split, lightfm_model):
    train, test = split
    metrics = _evaluate(lightfm_model, train, test).standard_metrics()
    expected = auc_score(lightfm_model, test, train_interactions=train)
    assert metrics["auc"] == pytest.approx(expected.mean(), abs=1e-6)


def _reference(scores, train, test, k):
    """Per-user metrics with plain Python loops (RecBole's definitions)."""
    out = {
        name: [] for name in ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")
    }
    for user in range(scores.shape[0]):
        relevant = set(test[user].indices)
        if not relevant:
            continue
        seen = set(train[user].indices)
        ranked = [i for i in np.argsort(-scores[user], kind="stable") if i not in seen][
            :k
        ]
        hits = [item in relevant for item in ranked]
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(relevant))
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(relevant), k)))
        out["ndcg"].append(dcg / idcg)
        precisions = [sum(hits[: r + 1]) / (r + 1) for r in range(k)]
        ap = sum(p for p, h in zip(precisions, hits, strict=True) if h)
        out["map"].append(ap / min(len(relevant), k))
        out["hit_rate"].append(float(any(hits)))
        out["mrr"].append(1 / (hits.index(True) + 1) if any(hits) else 0.0)
    return {name: float(np.mean(values)) for name, values in out.items()}


@pytest.mark.parametrize("k", [3, 10])
def test_ranking_metrics_match_reference_loops(split, k):
    train, test = split
    scores = np.random.default_rng(5).random((N_USERS, N_ITEMS)).astype(np.float32)
    evaluator = RankingEvaluator(train, test, ks=(k,), curve_k=k)
    evaluator.update(np.arange(N_USERS), scores)
    metrics = evaluator.standard_metrics()
    for name, value in _reference(scores, train, test, k).items():
        assert metrics[f"{name}@{k}"] == pytest.approx(value, abs=1e-9), name
    curves = evaluator.curves()
    assert curves["precision"][-1] == pytest.approx(metrics[f"precision@{k}"])
    assert curves["recall"][-1] == pytest.approx(metrics[f"recall@{k}"])


def test_results_do_not_depend_on_batch_size(split, lightfm_model):
    train, test = split
    small = _evaluate(lightfm_model, train, test, batch_size=7)
    large = _evaluate(lightfm_model, train, test, batch_size=N_USERS)
    assert small.standard_metrics() == pytest.approx(large.standard_metrics())
    assert small.seed_metrics() == pytest.approx(large.seed_metrics())
    assert small.score_summary() == pytest.approx(large.score_summary())
    scores = score_users(lightfm_model, np.arange(N_USERS), N_ITEMS)
    assert small.score_summary()["std"] == pytest.approx(scores.std(), rel=1e-5)


def test_coverage_and_popular_share():
    train = sp.csr_matrix(
        np.array([[1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=np.int8)
    )
    test = sp.csr_matrix(
        np.array([[0, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 1, 0]], dtype=np.int8)
    )
    # Every user ranks item 0 first; train items are removed before the top 1.
    scores = np.tile(np.array([5, 4, 3, 2, 1], dtype=np.float32), (3, 1))
    evaluator = RankingEvaluator(train, test, ks=(1,), curve_k=1, popular_share=0.2)
    evaluator.update(np.arange(3), scores)
    metrics = evaluator.standard_metrics()
    # Top-1 after removing train items: user0 -> 2, user1 -> 1, user2 -> 3.
    assert metrics["precision@1"] == pytest.approx(1.0)
    assert metrics["coverage@1"] == pytest.approx(3 / 5)
    # The single most popular item (0) is never recommended.
    assert metrics["popular_share@1"] == 0.0


def test_top_k_indices_are_sorted_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 1.0, 2.0, 0.0]])
    np.testing.assert_array_equal(top_k_indices(scores, 3), [[1, 3, 2], [0, 2, 1]])
    np.testing.assert_array_equal(
        top_k_indices(scores, 10), [[1, 3, 2, 0], [0, 2, 1, 3]]
    )

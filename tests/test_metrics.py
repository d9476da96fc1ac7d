"""The metrics package against independent implementations on random data:
Keras for the notebook protocol, lightfm.evaluation and plain per-user loops for
the standard protocol; hand-computed values for the small parts."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from lightfm import LightFM
from lightfm.evaluation import auc_score, precision_at_k, recall_at_k

from ncf_movielens.metrics import RankingEvaluator, evaluate_scores, top_k_indices
from ncf_movielens.metrics.curves import PrecisionRecallCurves
from ncf_movielens.metrics.notebook import NotebookProtocol
from ncf_movielens.metrics.per_user import (
    TopKHits,
    average_precision,
    hit_rate,
    ndcg,
    per_user_auc,
    per_user_metrics,
    precision,
    recall,
    reciprocal_rank,
)
from ncf_movielens.metrics.ranking import RankedBatch
from ncf_movielens.metrics.score_stats import ScoreStats, SharedTopK
from ncf_movielens.scoring import iter_user_batches

N_USERS, N_ITEMS = 70, 90
DEFAULTS = {"ks": (5, 10), "curve_k": 20, "notebook_k": 5}


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


class _LightFMScores:
    """Scores users with ``LightFM.predict``, independently of the project's
    own LightFM wrapper."""

    def __init__(self, model: LightFM) -> None:
        self.model = model

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        items = np.arange(n_items, dtype=np.int32)
        pairs = np.repeat(users, n_items).astype(np.int32), np.tile(items, len(users))
        return self.model.predict(*pairs).reshape(len(users), n_items)


@pytest.fixture(scope="module")
def lightfm_model(split) -> LightFM:
    model = LightFM(no_components=8, loss="warp", random_state=0)
    model.fit(split[0].tocoo(), epochs=5)
    return model


@pytest.fixture(scope="module")
def lightfm_scores(lightfm_model) -> _LightFMScores:
    return _LightFMScores(lightfm_model)


@pytest.fixture(scope="module")
def random_scores() -> np.ndarray:
    return np.random.default_rng(5).random((N_USERS, N_ITEMS)).astype(np.float32)


def _evaluate(model, train, test, batch_size=16, **options) -> RankingEvaluator:
    return evaluate_scores(
        iter_user_batches(model, np.arange(N_USERS), N_ITEMS, batch_size),
        train,
        test,
        **{**DEFAULTS, **options},
    )


def _in_batches(train, test, scores, n_batches, **options) -> RankingEvaluator:
    evaluator = RankingEvaluator(train, test, **options)
    for users in np.array_split(np.arange(len(scores)), n_batches):
        evaluator.update(users, scores[users])
    return evaluator


@pytest.mark.parametrize("k", [1, 5, 10])
def test_seed_protocol_matches_keras(split, k):
    train, test = split
    scores = np.random.default_rng(k).random((N_USERS, N_ITEMS)).astype(np.float32)
    evaluator = RankingEvaluator(train, test, notebook_k=k)
    for start in range(0, N_USERS, 32):
        users = np.arange(start, min(start + 32, N_USERS))
        evaluator.update(users, scores[users])
    precision = keras.metrics.Precision(top_k=k)
    recall = keras.metrics.Recall(top_k=k)
    precision.update_state(test.toarray(), scores)
    recall.update_state(test.toarray(), scores)
    seed = evaluator.notebook_metrics()
    assert seed[f"precision@{k}"] == pytest.approx(float(precision.result()), abs=1e-6)
    assert seed[f"recall@{k}"] == pytest.approx(float(recall.result()), abs=1e-6)


@pytest.mark.parametrize("k", [5, 10])
def test_standard_protocol_matches_lightfm_evaluation(
    split, lightfm_model, lightfm_scores, k
):
    train, test = split
    metrics = _evaluate(lightfm_scores, train, test, ks=(k,)).standard_metrics()
    expected_p = precision_at_k(lightfm_model, test, train_interactions=train, k=k)
    expected_r = recall_at_k(lightfm_model, test, train_interactions=train, k=k)
    assert metrics[f"precision@{k}"] == pytest.approx(expected_p.mean(), abs=1e-6)
    assert metrics[f"recall@{k}"] == pytest.approx(expected_r.mean(), abs=1e-6)


def test_auc_matches_lightfm_evaluation(split, lightfm_model, lightfm_scores):
    train, test = split
    metrics = _evaluate(lightfm_scores, train, test).standard_metrics()
    expected = auc_score(lightfm_model, test, train_interactions=train)
    assert metrics["auc"] == pytest.approx(expected.mean(), abs=1e-6)


def _brute_force_auc(scores, relevant, excluded):
    """Per user: the (relevant, other candidate) pairs ranked strictly right,
    over all such pairs; a tie is a wrong pair, as in lightfm's auc_score."""
    result = []
    for user in range(scores.shape[0]):
        rel = set(relevant[user].indices)
        other = [
            j
            for j in range(scores.shape[1])
            if j not in rel and j not in set(excluded[user].indices)
        ]
        rel -= set(excluded[user].indices)
        if not rel:
            result.append(np.nan)
            continue
        pairs = [scores[user, i] > scores[user, j] for i in rel for j in other]
        result.append(np.mean(pairs) if pairs else 1.0)
    return np.array(result)


def test_auc_counts_a_tie_as_a_wrong_pair():
    """One user, scores [1, 1, 1, 0, 0], relevant items 0 and 1: each relevant
    item beats 2 of the 3 others and ties with one, so AUC is 2/3 (it was 7/6)."""
    scores = np.array([[1, 1, 1, 0, 0]], dtype=np.float32)
    relevant = sp.csr_matrix(np.array([[1, 1, 0, 0, 0]]))
    auc = per_user_auc(scores, relevant, sp.csr_matrix((1, 5)))
    assert auc == pytest.approx([2 / 3], abs=1e-12)
    flat = np.zeros((1, 5), dtype=np.float32)
    assert per_user_auc(flat, relevant, sp.csr_matrix((1, 5))) == pytest.approx([0.0])


@pytest.mark.parametrize("levels", [2, 3, 10])
def test_auc_on_tied_integer_scores_matches_a_pair_count(levels):
    """Integer scores (as most-popular's counts are) tie often; with train items
    excluded, AUC equals a brute-force count of the pairs ranked right."""
    rng = np.random.default_rng(levels)
    scores = rng.integers(0, levels, size=(30, 25)).astype(np.float32)
    relevant = sp.csr_matrix(rng.random((30, 25)) < 0.15, dtype=np.int8)
    excluded = sp.csr_matrix(
        (rng.random((30, 25)) < 0.2) & ~relevant.toarray(), dtype=np.int8
    )
    got = per_user_auc(scores, relevant, excluded)
    expected = _brute_force_auc(scores, relevant, excluded)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def _ranked_unseen(scores, train, user):
    seen = set(train[user].indices)
    return [i for i in np.argsort(-scores[user], kind="stable") if i not in seen]


def _reference(scores, train, test, k):
    """Per-user metrics with plain Python loops (RecBole's definitions)."""
    out = {
        name: [] for name in ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")
    }
    for user in range(scores.shape[0]):
        relevant = set(test[user].indices)
        if not relevant:
            continue
        ranked = _ranked_unseen(scores, train, user)[:k]
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


def _reference_curves(scores, train, test, curve_k):
    """Mean precision and recall at every cut-off 1..curve_k, user by user."""
    precisions, recalls = [], []
    for user in range(scores.shape[0]):
        relevant = set(test[user].indices)
        if not relevant:
            continue
        ranked = _ranked_unseen(scores, train, user)[:curve_k]
        found = np.cumsum([item in relevant for item in ranked])
        precisions.append(found / np.arange(1, curve_k + 1))
        recalls.append(found / len(relevant))
    return np.mean(precisions, axis=0), np.mean(recalls, axis=0)


@pytest.mark.parametrize("k", [3, 10])
def test_ranking_metrics_match_reference_loops(split, random_scores, k):
    train, test = split
    evaluator = RankingEvaluator(train, test, ks=(k,), curve_k=k)
    evaluator.update(np.arange(N_USERS), random_scores)
    metrics = evaluator.standard_metrics()
    for name, value in _reference(random_scores, train, test, k).items():
        assert metrics[f"{name}@{k}"] == pytest.approx(value, abs=1e-9), name


@pytest.mark.parametrize("curve_k", [1, 7, 20])
def test_curves_match_reference_loops_at_every_k(split, random_scores, curve_k):
    train, test = split
    evaluator = _in_batches(train, test, random_scores, 3, curve_k=curve_k)
    curves = evaluator.curves()
    expected_p, expected_r = _reference_curves(random_scores, train, test, curve_k)
    assert curves["k"] == list(range(1, curve_k + 1))
    np.testing.assert_allclose(curves["precision"], expected_p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curves["recall"], expected_r, rtol=0, atol=1e-12)


def test_standard_metrics_key_order(split, random_scores):
    """The reports' JSON keeps this order: by metric, then by k."""
    train, test = split
    evaluator = _in_batches(train, test, random_scores, 2, ks=(10, 5))
    names = ["precision", "recall", "ndcg", "map", "hit_rate", "mrr"]
    assert list(evaluator.standard_metrics()) == [
        *(f"{name}@{k}" for name in names for k in (5, 10)),
        "auc",
        *(f"{name}@{k}" for name in ("coverage", "popular_share") for k in (5, 10)),
    ]


def test_results_do_not_depend_on_batch_size(split, lightfm_scores):
    train, test = split
    small = _evaluate(lightfm_scores, train, test, batch_size=7)
    large = _evaluate(lightfm_scores, train, test, batch_size=N_USERS)
    assert small.standard_metrics() == pytest.approx(large.standard_metrics())
    assert small.notebook_metrics() == pytest.approx(large.notebook_metrics())
    assert small.score_summary() == pytest.approx(large.score_summary())
    batches = iter_user_batches(lightfm_scores, np.arange(N_USERS), N_ITEMS, N_USERS)
    scores = np.concatenate([batch_scores for _, batch_scores in batches])
    assert small.score_summary()["std"] == pytest.approx(scores.std(), rel=1e-5)


#: Metrics that are ratios of integer counts; the others are float sums, which
#: are accumulated per batch and so differ in the last bits between batchings.
_COUNTED = {"hit_rate", "coverage", "popular_share"}


def _assert_same_results(got: RankingEvaluator, expected: RankingEvaluator) -> None:
    assert got.users_evaluated == expected.users_evaluated
    assert got.shared_top_k() == expected.shared_top_k()
    assert got.notebook_metrics() == expected.notebook_metrics()
    got_standard, expected_standard = (
        got.standard_metrics(),
        expected.standard_metrics(),
    )
    assert list(got_standard) == list(expected_standard)
    for key, value in got_standard.items():
        if key.partition("@")[0] in _COUNTED:
            assert value == expected_standard[key], key
        else:
            assert value == pytest.approx(expected_standard[key], rel=1e-12), key
    got_summary, expected_summary = got.score_summary(), expected.score_summary()
    assert got_summary["min"] == expected_summary["min"]
    assert got_summary["max"] == expected_summary["max"]
    assert got_summary == pytest.approx(expected_summary, rel=1e-12)
    got_curves, expected_curves = got.curves(), expected.curves()
    assert got_curves["k"] == expected_curves["k"]
    for name in ("precision", "recall"):
        np.testing.assert_allclose(
            got_curves[name], expected_curves[name], rtol=1e-12, atol=1e-15
        )


@pytest.mark.parametrize("n_batches", [2, 7])
def test_several_batches_give_the_same_metrics_as_one(split, random_scores, n_batches):
    train, test = split
    tied = np.round(random_scores * 4) / 4  # ties between items, too
    for scores in (random_scores, tied):
        _assert_same_results(
            _in_batches(train, test, scores, n_batches, **DEFAULTS),
            _in_batches(train, test, scores, 1, **DEFAULTS),
        )


class _FixedScores:
    """A model whose scores for every (user, item) are given up front."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def score_users(self, users: np.ndarray, n_items: int) -> np.ndarray:
        return self.scores[users, :n_items]


def test_scoring_in_chunks_gives_the_same_metrics_as_one_batch(split, random_scores):
    train, test = split
    model = _FixedScores(random_scores)
    users = np.arange(N_USERS)
    chunks = list(
        iter_user_batches(model, users, N_ITEMS, N_USERS, max_cells=3 * N_ITEMS)
    )
    assert len(chunks) > 1
    np.testing.assert_array_equal(np.concatenate([u for u, _ in chunks]), users)
    chunked = evaluate_scores(chunks, train, test, **DEFAULTS)
    whole = evaluate_scores([(users, random_scores)], train, test, **DEFAULTS)
    _assert_same_results(chunked, whole)


# Six items; both users have seen items 0-3, so only 4 and 5 are unseen, fewer
# than k = 6. User 1's test item 2 is also a train item: it is ranked among the
# masked items at the end of the top 6, and must not count as a hit.
_FEW_UNSEEN_TRAIN = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0]], dtype=np.int8)
_FEW_UNSEEN_TEST = np.array([[0, 0, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0]], dtype=np.int8)
_D2 = 1 / np.log2(3)  # the discount of rank 2
_FEW_UNSEEN_EXPECTED = [
    # Ranked unseen: 4 (miss), 5 (hit); one relevant item.
    {
        "precision": 1 / 6,
        "recall": 1.0,
        "ndcg": _D2,
        "map": 1 / 2,
        "hit_rate": 1.0,
        "mrr": 1 / 2,
    },
    # Ranked unseen: 4 (hit), 5 (miss); two relevant items, one of them masked.
    {
        "precision": 1 / 6,
        "recall": 1 / 2,
        "ndcg": 1 / (1 + _D2),
        "map": 1 / 2,
        "hit_rate": 1.0,
        "mrr": 1.0,
    },
]


@pytest.mark.parametrize("user", [0, 1])
def test_user_with_fewer_unseen_items_than_k(user):
    train = sp.csr_matrix(_FEW_UNSEEN_TRAIN)
    test = sp.csr_matrix(_FEW_UNSEEN_TEST)
    scores = np.array([[6, 5, 4, 3, 2, 1]], dtype=np.float32)
    evaluator = RankingEvaluator(train, test, ks=(6,), curve_k=6)
    evaluator.update(np.array([user]), scores)
    metrics = evaluator.standard_metrics()
    for name, value in _FEW_UNSEEN_EXPECTED[user].items():
        assert metrics[f"{name}@6"] == pytest.approx(value, abs=1e-12), name
    assert evaluator.curves()["precision"][-1] == pytest.approx(1 / 6)


# Four users, five items; item 0 is the most frequent train item, the popular
# one with popular_share=0.2. User 3 hasn't seen it, so it can be recommended.
_POPULAR_TRAIN = np.array(
    [[1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]],
    dtype=np.int8,
)
_POPULAR_TEST = np.array(
    [[0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0]],
    dtype=np.int8,
)


@pytest.mark.parametrize(
    ("item_scores", "expected"),
    [
        # Top 2 after removing train items: u0 1,2; u1 1,2; u2 2,3; u3 0,1.
        (
            [5, 4, 3, 2, 1],
            {
                "coverage@1": 3 / 5,
                "coverage@2": 4 / 5,
                "popular_share@1": 1 / 4,
                "popular_share@2": 1 / 8,
            },
        ),
        # Everyone gets 4 then 3: item 0 is never recommended.
        (
            [1, 2, 3, 4, 5],
            {
                "coverage@1": 1 / 5,
                "coverage@2": 2 / 5,
                "popular_share@1": 0.0,
                "popular_share@2": 0.0,
            },
        ),
    ],
)
def test_coverage_and_popular_share(item_scores, expected):
    train, test = sp.csr_matrix(_POPULAR_TRAIN), sp.csr_matrix(_POPULAR_TEST)
    scores = np.tile(np.array(item_scores, dtype=np.float32), (4, 1))
    evaluator = RankingEvaluator(train, test, ks=(1, 2), curve_k=2, popular_share=0.2)
    evaluator.update(np.arange(4), scores)
    metrics = evaluator.standard_metrics()
    for key, value in expected.items():
        assert metrics[key] == value, key


# Five users, five items; item 0 is the popular one (popular_share=0.2). Only
# users 0 and 1 have test items. Untested, user 2 gets items 3 and 4, which no
# tested user gets, and users 3 and 4 (no data at all) get item 0 first.
_UNTESTED_TRAIN = np.array(
    [[0, 0, 0, 0, 1], [1, 0, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [0] * 5],
    dtype=np.int8,
)
_UNTESTED_TEST = np.zeros((5, 5), dtype=np.int8)
_UNTESTED_TEST[[0, 1], 3] = 1


@pytest.mark.parametrize(
    "batches", [[[0, 1, 2, 3, 4]], [[0], [1], [2], [3], [4]], [[0, 3, 4], [1, 2]]]
)
def test_catalogue_metrics_ignore_users_without_test_items(batches):
    """Coverage and popular share are over the users with test items, like every
    standard metric, however users are batched (in one batch, popular_share@1
    was 3/2 and coverage@2 was 1)."""
    train, test = sp.csr_matrix(_UNTESTED_TRAIN), sp.csr_matrix(_UNTESTED_TEST)
    evaluator = RankingEvaluator(train, test, ks=(1, 2), curve_k=2, popular_share=0.2)
    for users in batches:
        scores = np.tile(np.array([5, 4, 3, 2, 1], dtype=np.float32), (len(users), 1))
        evaluator.update(np.array(users), scores)
    metrics = evaluator.standard_metrics()
    # Top 2 after removing train items: u0 0,1; u1 1,2.
    assert evaluator.users_evaluated == 2
    assert metrics["popular_share@1"] == 1 / 2
    assert metrics["popular_share@2"] == 1 / 4
    assert metrics["coverage@1"] == 2 / 5
    assert metrics["coverage@2"] == 3 / 5


def test_top_k_indices_are_sorted_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [3.0, 1.0, 2.0, 0.0]])
    np.testing.assert_array_equal(top_k_indices(scores, 3), [[1, 3, 2], [0, 2, 1]])
    np.testing.assert_array_equal(
        top_k_indices(scores, 10), [[1, 3, 2, 0], [0, 2, 1, 3]]
    )


# The small parts on their own.


def test_per_user_metric_functions_by_hand():
    # User 0: hits at ranks 2 and 4 of 4, three relevant items; user 1: none.
    top = TopKHits(np.array([[0.0, 1, 0, 1], [0, 0, 0, 0]]), np.array([3, 2]), 4)
    d = 1 / np.log2(np.arange(2, 6))  # discounts of ranks 1..4
    np.testing.assert_allclose(precision(top), [2 / 4, 0])
    np.testing.assert_allclose(recall(top), [2 / 3, 0])
    np.testing.assert_allclose(ndcg(top), [(d[1] + d[3]) / d[:3].sum(), 0])
    np.testing.assert_allclose(average_precision(top), [(1 / 2 + 2 / 4) / 3, 0])
    np.testing.assert_allclose(hit_rate(top), [1, 0])
    np.testing.assert_allclose(reciprocal_rank(top), [1 / 2, 0])
    metrics = per_user_metrics(top.hits.astype(bool), top.n_relevant, 4)
    assert list(metrics) == ["precision", "recall", "ndcg", "map", "hit_rate", "mrr"]
    np.testing.assert_allclose(metrics["ndcg"], ndcg(top))


def test_score_stats_match_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3, 2, (n, 11)).astype(np.float32) for n in (5, 1, 8)]
    stats = ScoreStats()
    for batch in batches:
        stats.update(batch)
    everything = np.concatenate(batches).astype(np.float64)
    summary = stats.summary()
    assert summary["mean"] == pytest.approx(everything.mean(), rel=1e-12)
    assert summary["std"] == pytest.approx(everything.std(), rel=1e-9)
    assert summary["min"] == everything.min()
    assert summary["max"] == everything.max()
    assert stats.count == everything.size


def test_shared_top_k():
    same = SharedTopK()
    same.update(np.array([[3, 1], [1, 3]]))
    same.update(np.array([[1, 3]]))
    assert same.result() == [1, 3]
    differ = SharedTopK()
    differ.update(np.array([[3, 1]]))
    differ.update(np.array([[1, 2]]))
    assert differ.result() is None
    alone = SharedTopK()
    alone.update(np.array([[3, 1]]))
    assert alone.result() is None


def test_seed_protocol_counts_by_hand():
    test = sp.csr_matrix(np.array([[1, 0, 0, 1], [0, 0, 1, 0]], dtype=np.int8))
    seed = NotebookProtocol(test, k=2)
    # Top 2: user 0 -> items 0, 1 (one hit); user 1 -> items 3, 2 (one hit).
    seed.update(np.array([0]), np.array([[4.0, 3, 2, 1]]))
    seed.update(np.array([1]), np.array([[1.0, 2, 3, 4]]))
    assert seed.metrics() == {"precision@2": 2 / 4, "recall@2": 2 / 3}


def test_ranked_batch_without_test_users():
    train = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]], dtype=np.int8))
    test = sp.csr_matrix((2, 3), dtype=np.int8)
    batch = RankedBatch.rank(np.arange(2), np.array([[3.0, 2, 1]] * 2), train, test, 2)
    np.testing.assert_array_equal(batch.top, [[1, 2], [0, 1]])
    assert not batch.tested.any()
    assert batch.hits.shape == (0, 2)


def test_curves_shorter_than_curve_k_are_padded_with_zeros():
    curves = PrecisionRecallCurves(max_k=4)
    curves.update(np.array([[True, False, True]]), np.array([2]))
    result = curves.result(n_users=1)
    assert result["k"] == [1, 2, 3, 4]
    np.testing.assert_allclose(result["precision"], [1, 1 / 2, 2 / 3, 0])
    np.testing.assert_allclose(result["recall"], [1 / 2, 1 / 2, 1, 0])

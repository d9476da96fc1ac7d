"""The most-popular baseline (``ncf_movielens.models.most_popular``): every user
gets the train interaction counts."""

from __future__ import annotations

import pickle

import numpy as np

from ncf_movielens.models.most_popular import MostPopular, fit_most_popular


def test_scores_are_column_sums_for_every_user(train_matrix):
    model = fit_most_popular(train_matrix)
    users = np.array([0, 5, 39])
    scores = model.score_users(users, train_matrix.shape[1])
    column_sums = train_matrix.toarray().sum(axis=0)
    assert model.counts.dtype == np.float32
    np.testing.assert_array_equal(scores, np.tile(column_sums, (3, 1)))


def test_round_trips_through_pickle(train_matrix):
    model = fit_most_popular(train_matrix)
    restored = pickle.loads(pickle.dumps(model))
    assert type(restored) is MostPopular
    np.testing.assert_array_equal(restored.counts, model.counts)

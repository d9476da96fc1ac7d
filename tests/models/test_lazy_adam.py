"""LazyAdam (``ncf_movielens.models.lazy_adam``): a sparse gradient moves only
the rows it touches, duplicated rows are summed, a first step equals Keras'
Adam, dense gradients are Keras' Adam, and it trains NeuMF under XLA with the
per-batch embedding penalty."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from ncf_movielens.models.lazy_adam import LazyAdam
from ncf_movielens.models.neumf import LookedUpL2Embedding, NeuMF, build_neumf


def sparse_gradient(
    rows: list[int], dim: int, seed: int, n_rows: int = 6
) -> tf.IndexedSlices:
    values = np.random.default_rng(seed).normal(size=(len(rows), dim))
    return tf.IndexedSlices(
        tf.constant(values, tf.float32),
        tf.constant(rows, tf.int32),
        dense_shape=tf.constant([n_rows, dim]),
    )


def table(n_rows: int = 6, dim: int = 3) -> keras.Variable:
    start = np.arange(n_rows * dim, dtype=np.float32).reshape(n_rows, dim) / 10
    return keras.Variable(start)


def test_duplicated_rows_step_on_their_summed_gradient():
    # Row 3 looked up twice with gradients 1 and 4 steps as one entry of 5:
    # Adam's first step is lr * sign(gradient) whatever its size, so compare
    # the moments.
    optimizer = LazyAdam(learning_rate=0.1)
    variable = table(n_rows=4, dim=1)
    gradient = tf.IndexedSlices(
        tf.constant([[1.0], [2.0], [4.0]]),
        tf.constant([3, 1, 3]),
        dense_shape=tf.constant([4, 1]),
    )
    optimizer.apply([gradient], [variable])
    momentum = optimizer._momentums[0].numpy().ravel()
    np.testing.assert_allclose(momentum, [0.0, 0.2, 0.0, 0.5], rtol=1e-6)
    assert not optimizer._row_sums[0].numpy().any()  # the scratch table is zero again


def test_a_first_step_equals_adam_on_the_dense_gradient():
    # From zero moments, Adam leaves a row with a zero gradient where it was;
    # so one lazy step and one dense step agree everywhere.
    gradient = sparse_gradient([4, 1, 4, 2], dim=3, seed=0)
    lazy, dense = table(), table()
    LazyAdam(learning_rate=0.1).apply([gradient], [lazy])
    keras.optimizers.Adam(learning_rate=0.1).apply(
        [tf.convert_to_tensor(gradient)], [dense]
    )
    np.testing.assert_allclose(lazy.numpy(), dense.numpy(), atol=1e-5)


def test_rows_a_step_does_not_touch_keep_their_weights_and_moments():
    variable = table()
    optimizer = LazyAdam(learning_rate=0.1)
    optimizer.apply([sparse_gradient([0, 1, 1], dim=3, seed=1)], [variable])
    before = variable.numpy().copy()
    moments = [v.numpy().copy() for v in optimizer.variables[2:4]]
    optimizer.apply([sparse_gradient([2, 2], dim=3, seed=2)], [variable])
    after = variable.numpy()
    untouched = [0, 1, 3, 4, 5]
    np.testing.assert_array_equal(after[untouched], before[untouched])
    assert not np.allclose(after[2], before[2])
    for new, old in zip(optimizer.variables[2:4], moments, strict=True):
        np.testing.assert_array_equal(new.numpy()[untouched], old[untouched])
    # Keras' Adam, given the same steps densified, moves rows 0 and 1 again:
    # their moments decay at every step.
    dense = table()
    adam = keras.optimizers.Adam(learning_rate=0.1)
    for rows, seed in (([0, 1, 1], 1), ([2, 2], 2)):
        adam.apply([tf.convert_to_tensor(sparse_gradient(rows, 3, seed))], [dense])
    assert not np.allclose(dense.numpy()[[0, 1]], before[[0, 1]])


def test_dense_gradients_take_keras_adam_steps():
    gradient = tf.constant(np.random.default_rng(3).normal(size=(6, 3)), tf.float32)
    lazy, dense = table(), table()
    for _ in range(3):
        LazyAdam(learning_rate=0.05).apply([gradient], [lazy])
        keras.optimizers.Adam(learning_rate=0.05).apply([gradient], [dense])
    np.testing.assert_allclose(lazy.numpy(), dense.numpy(), atol=1e-5)


def test_it_round_trips_through_its_config_and_refuses_amsgrad():
    optimizer = LazyAdam(learning_rate=0.02, beta_1=0.8)
    copy = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(copy, LazyAdam)
    assert copy.get_config()["beta_1"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="amsgrad"):
        LazyAdam(amsgrad=True)


def test_per_batch_l2_keeps_the_embedding_gradients_sparse():
    pairs = {
        "user_id": np.array([0, 2], np.int32),
        "item_id": np.array([1, 1], np.int32),
    }
    labels = np.array([[1.0], [0.0]], np.float32)
    for mode, sparse in (("batch", True), ("table", False)):
        model = build_neumf(5, 4, reg_mf=0.01, reg_mlp=0.01, embedding_l2=mode)
        with tf.GradientTape() as tape:
            loss = keras.losses.binary_crossentropy(labels, model(pairs)) + sum(
                model.losses
            )
        grads = tape.gradient(loss, model.trainable_variables)
        embedding = [
            grad
            for grad, var in zip(grads, model.trainable_variables, strict=True)
            if "embedding" in var.path
        ]
        assert len(embedding) == 4
        assert all(isinstance(g, tf.IndexedSlices) == sparse for g in embedding), mode
        assert model.losses, f"{mode}: no penalty"


def test_neumf_trains_under_xla_and_untouched_rows_stay_put():
    # Users 0-5 only: the user rows 6-9 of both user tables must not move.
    rng = np.random.default_rng(4)
    users = rng.integers(0, 6, 512).astype(np.int32)
    items = rng.integers(0, 8, 512).astype(np.int32)
    labels = (users % 2 == items % 2).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_neumf(10, 8, reg_mf=0.001, reg_mlp=0.001, embedding_l2="batch")
    model.compile(
        optimizer=LazyAdam(learning_rate=0.05),
        loss="binary_crossentropy",
        jit_compile=True,
        steps_per_execution=4,
    )
    tables = ("mf_user_embedding", "mlp_user_embedding")
    before = {name: model.get_layer(name).embeddings.numpy().copy() for name in tables}
    history = model.fit(
        {"user_id": users, "item_id": items}, labels, batch_size=64, epochs=8, verbose=0
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    for name in tables:
        after = model.get_layer(name).embeddings.numpy()
        np.testing.assert_array_equal(after[6:], before[name][6:])
        assert not np.allclose(after[:6], before[name][:6])


def test_a_sparse_model_saves_and_loads_as_itself(tmp_path):

    rng = np.random.default_rng(5)
    x = {
        "user_id": rng.integers(0, 10, 256).astype(np.int32),
        "item_id": rng.integers(0, 8, 256).astype(np.int32),
    }
    model = build_neumf(10, 8, reg_mf=0.01, reg_mlp=0.01, embedding_l2="batch")
    model.compile(optimizer=LazyAdam(learning_rate=0.01), loss="binary_crossentropy")
    model.fit(x, rng.integers(0, 2, 256).astype(np.float32), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, NeuMF) and isinstance(loaded.optimizer, LazyAdam)
    assert isinstance(loaded.get_layer("mf_user_embedding"), LookedUpL2Embedding)
    np.testing.assert_allclose(
        loaded.score_users(np.arange(10), 8), model.score_users(np.arange(10), 8)
    )

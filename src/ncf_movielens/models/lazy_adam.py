"""A lazy Adam for embedding tables: a step updates only the rows a batch looked
up, as TF-Addons' ``LazyAdam`` did (TF-Addons is no longer maintained and
Keras 3 has no equivalent).

Keras 3's ``Adam`` decays both moments of every row of every table at every
step, so a step costs as much as the tables are large, whatever the batch.
Here a sparse gradient (``tf.IndexedSlices``, what an embedding lookup gives
when no penalty covers the whole table) moves the moments and the weights of
the looked-up rows only; a row no batch touches keeps its moments as they
were. Dense gradients (the Dense layers) take Keras' own ``Adam`` step.
TensorFlow backend only (the project's).
"""

from __future__ import annotations

import keras
import tensorflow as tf


def _resource(variable):
    """The ``tf.Variable`` under a Keras variable: ``tf.gather`` on it reads the
    looked-up rows only (a Keras variable converted to a tensor reads it all)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


@keras.saving.register_keras_serializable(package="ncf_movielens")
class LazyAdam(keras.optimizers.Adam):
    """Adam (Kingma and Ba, 2015) whose sparse gradients update only the rows
    they touch; see the module's docstring. Same arguments as Keras' ``Adam``
    except ``amsgrad``, which it does not support."""

    def __init__(self, *args, **kwargs) -> None:
        if kwargs.get("amsgrad"):
            raise ValueError("LazyAdam does not support amsgrad")
        super().__init__(*args, **kwargs)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # A zeroed scratch table per variable: a sparse step adds its entries
        # into it, reads each entry's row sum back and zeroes those rows again
        # (sorting the rows instead costs XLA on CPU 5 ms a table per step).
        self._row_sums = [
            self.add_variable_from_reference(variable, "row_sums")
            for variable in var_list
        ]

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, step)) / (1 - tf.pow(beta_1, step))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        sums = _resource(self._row_sums[index])
        rows = gradient.indices
        values = tf.cast(gradient.values, dtype)
        # Each entry's gradient summed over every entry of its row (a row a
        # batch looked up k times has k entries, all given the same sum).
        sums.scatter_add(tf.IndexedSlices(values, rows))
        grad = tf.gather(sums, rows)
        sums.scatter_update(tf.IndexedSlices(tf.zeros_like(values), rows))
        # Every entry of a row carries the same new values, so the order in
        # which duplicated rows are written does not matter.
        m_rows = beta_1 * tf.gather(_resource(m), rows) + (1 - beta_1) * grad
        v_rows = beta_2 * tf.gather(_resource(v), rows) + (1 - beta_2) * tf.square(grad)
        new_rows = tf.gather(_resource(variable), rows) - alpha * m_rows / (
            tf.sqrt(v_rows) + self.epsilon
        )
        self.assign(m, tf.IndexedSlices(m_rows, rows))
        self.assign(v, tf.IndexedSlices(v_rows, rows))
        self.assign(variable, tf.IndexedSlices(new_rows, rows))
        return None

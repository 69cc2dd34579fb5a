"""Stateless randomness helpers: a seed int32/int64 [2] in, draws out.

All functions run anywhere (eager, tf.function, tf.data.Dataset.map) and are
pure functions of their seed, which is what makes the input pipeline
reproducible and checkpointable.
"""

import tensorflow as tf


def split(seed, num: int) -> list[tf.Tensor]:
  """Splits one seed into `num` independent seeds.

  Args:
    seed: int32/int64 [2].
    num: how many seeds (python int >= 1).

  Returns:
    A list of `num` seeds, each of the dtype of `seed`, shape [2].
  """
  return tf.unstack(tf.random.experimental.stateless_split(seed, num), num)


def element_seed(base_seed, index) -> tf.Tensor:
  """A seed for element `index` of a stream seeded by `base_seed`.

  Args:
    base_seed: python int or int64 scalar.
    index: int64 scalar (e.g. from `Dataset.enumerate` or an example id).

  Returns:
    int64 [2], different for every index.
  """
  base = tf.stack([tf.cast(base_seed, tf.int64), tf.constant(0, tf.int64)])
  return tf.random.experimental.stateless_fold_in(
    base, tf.cast(index, tf.int64)
  )


def uniform(seed, minval=0.0, maxval=1.0) -> tf.Tensor:
  """float32 scalar ~ U[minval, maxval)."""
  return tf.random.stateless_uniform(
    [], seed, minval=minval, maxval=maxval, dtype=tf.float32
  )


def randint(seed, minval, maxval) -> tf.Tensor:
  """int32 scalar ~ uniform over the integers [minval, maxval)."""
  return tf.random.stateless_uniform(
    [], seed, minval=minval, maxval=maxval, dtype=tf.int32
  )


def coin(seed, prob) -> tf.Tensor:
  """bool scalar, True with probability `prob`."""
  return uniform(seed) < prob


def random_sign(seed, value) -> tf.Tensor:
  """`value` or `-value` with probability 1/2 each (float32 scalar)."""
  value = tf.cast(value, tf.float32)
  return tf.where(coin(seed, 0.5), -value, value)

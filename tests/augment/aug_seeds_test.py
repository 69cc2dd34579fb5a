"""Tests of ieg_tf.augment.seeds (stateless seed plumbing)."""

import numpy as np
import tensorflow as tf

from ieg_tf.augment import seeds


class SeedsTest(tf.test.TestCase):
  def test_split_is_deterministic_and_distinct(self):
    seed = tf.constant([7, 8], tf.int64)
    a = seeds.split(seed, 3)
    b = seeds.split(seed, 3)
    self.assertLen(a, 3)
    for x, y in zip(a, b):
      self.assertAllEqual(x, y)
      self.assertEqual(x.shape, (2,))
    self.assertLen({tuple(x.numpy()) for x in a}, 3)

  def test_element_seeds_differ_per_index_and_base(self):
    got = {tuple(seeds.element_seed(1, i).numpy()) for i in range(50)}
    self.assertLen(got, 50)
    self.assertNotAllEqual(seeds.element_seed(1, 0), seeds.element_seed(2, 0))
    self.assertEqual(seeds.element_seed(1, 3).dtype, tf.int64)
    index = tf.data.Dataset.range(3).map(lambda i: seeds.element_seed(1, i))
    for i, s in enumerate(index.as_numpy_iterator()):
      self.assertAllEqual(s, seeds.element_seed(1, i))

  def test_draws(self):
    values = np.array(
      [
        [
          seeds.uniform(s, 2.0, 3.0),
          seeds.randint(s, 4, 7),
          seeds.coin(s, 0.25),
          seeds.random_sign(s, 1.5),
        ]
        for s in (seeds.element_seed(0, i) for i in range(400))
      ],
      np.float64,
    )
    self.assertBetween(values[:, 0].min(), 2.0, 3.0)
    self.assertBetween(values[:, 0].max(), 2.0, 3.0)
    self.assertEqual(set(values[:, 1]), {4, 5, 6})
    # Binomial(400, 0.25): mean 100, sd 8.7; +-5 sd.
    self.assertBetween(values[:, 2].sum(), 57, 143)
    self.assertEqual(set(values[:, 3]), {-1.5, 1.5})
    self.assertEqual(seeds.uniform([1, 2]), seeds.uniform([1, 2]))


if __name__ == '__main__':
  tf.test.main()

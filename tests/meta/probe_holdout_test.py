"""The probe's held-out half against numpy."""

import numpy as np
import tensorflow as tf

from ieg_tf.meta import probe_holdout


class ProbeHoldoutTest(tf.test.TestCase):
  def test_mixup_rows_cycle_the_training_rows(self):
    holdout = np.array([False, True, True, False, False, True, True, False])
    got = probe_holdout.mixup_rows(tf.constant(holdout)).numpy()
    train = np.flatnonzero(~holdout)
    self.assertAllEqual(got, train[np.arange(8) % len(train)])
    self.assertFalse(holdout[got].any())

  def test_mixup_rows_without_training_rows_take_every_row(self):
    for flags in (np.zeros(5, bool), np.ones(5, bool)):
      got = probe_holdout.mixup_rows(tf.constant(flags)).numpy()
      self.assertAllEqual(got, np.arange(5))

  def test_mixup_rows_compile_with_xla(self):
    holdout = tf.constant([True, False, True, False, False, True])
    got = tf.function(probe_holdout.mixup_rows, jit_compile=True)(holdout)
    self.assertAllEqual(got, [1, 3, 4, 1, 3, 4])

  def test_held_out_accuracy(self):
    correct = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0], np.float32)
    holdout = np.array([True, True, False, False, True, False])
    got = probe_holdout.held_out_accuracy(
      tf.constant(correct), tf.constant(holdout)
    )
    self.assertAllClose(got, correct[holdout].mean())
    none = probe_holdout.held_out_accuracy(
      tf.constant(correct), tf.zeros(6, tf.bool)
    )
    self.assertAllClose(none, correct.mean())


if __name__ == '__main__':
  tf.test.main()

"""logit_norm, sharpen and guess_label against numpy, gradients by FD."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import label_guess


def _np_logit_norm(v):
  return v / np.sqrt(np.mean(v**2) + 1e-8)


def _np_softmax(z):
  e = np.exp(z - z.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def _np_sharpen(p, t):
  q = p ** (1.0 / t)
  return q / q.sum(axis=-1, keepdims=True)


class LabelGuessTest(tf.test.TestCase, parameterized.TestCase):
  def setUp(self):
    super().setUp()
    self.rng = np.random.default_rng(0)

  @parameterized.parameters(tf.float32, tf.float64)
  def test_logit_norm(self, dtype):
    v = self.rng.normal(0.0, 3.0, (4, 5))
    got = label_guess.logit_norm(tf.constant(v, dtype))
    self.assertEqual(got.dtype, dtype)
    self.assertAllClose(got, _np_logit_norm(v), rtol=1e-5)

  def test_logit_norm_is_one_scalar_for_the_whole_batch(self):
    v = self.rng.normal(size=(3, 4))
    v[0] *= 10.0  # A per-row RMS would undo this; the batch RMS keeps it.
    got = label_guess.logit_norm(tf.constant(v)).numpy()
    self.assertAllClose(got / v, np.full_like(v, got[0, 0] / v[0, 0]))
    self.assertAllClose(np.mean(got**2), 1.0, atol=1e-6)
    zeros = label_guess.logit_norm(tf.zeros([2, 3], tf.float64))
    self.assertAllEqual(zeros, np.zeros((2, 3)))

  @parameterized.parameters(0.25, 0.3, 0.5, 1.0, 2.0)
  def test_sharpen(self, temperature):
    p = _np_softmax(self.rng.normal(size=(4, 6)))
    got = label_guess.sharpen(tf.constant(p), temperature)
    # Tight: 1/T must not be rounded through float32 for float64 inputs.
    expected = _np_sharpen(p, temperature)
    self.assertAllClose(got, expected, rtol=1e-13, atol=1e-15)
    self.assertAllClose(tf.reduce_sum(got, -1), np.ones(4))

  @parameterized.parameters(1, 2, 3)
  def test_guess_label(self, num_views):
    views = [self.rng.normal(0.0, 2.0, (5, 4)) for _ in range(num_views)]
    q = np.mean([_np_softmax(_np_logit_norm(v)) for v in views], axis=0)
    got = label_guess.guess_label([tf.constant(v) for v in views], 0.5)
    self.assertAllClose(got, _np_sharpen(q, 0.5))
    # T = 0.5 means g is proportional to q^2.
    self.assertAllClose(got, q**2 / (q**2).sum(-1, keepdims=True))

  def test_guess_label_gradient_matches_finite_differences(self):
    weak = tf.constant(self.rng.normal(size=(3, 4)))
    strong = tf.constant(self.rng.normal(size=(3, 4)))
    # Weights make the scalar depend on every output entry differently.
    proj = tf.constant(self.rng.normal(size=(3, 4)))

    def scalar(w, s):
      return tf.reduce_sum(proj * label_guess.guess_label([w, s], 0.5))

    theoretical, numerical = tf.test.compute_gradient(
      scalar, [weak, strong], delta=1e-6
    )
    for t, n in zip(theoretical, numerical):
      self.assertGreater(np.abs(n).max(), 1e-3)
      self.assertAllClose(t, n, rtol=1e-6, atol=1e-8)

  def test_compiles_with_xla(self):
    views = [tf.constant(self.rng.normal(size=(4, 3)), tf.float32)] * 2
    fn = tf.function(label_guess.guess_label, jit_compile=True)
    self.assertAllClose(fn(views), label_guess.guess_label(views), rtol=1e-5)

  @parameterized.parameters(0.0, 0.3, 1.0)
  def test_guess_label_with_a_prior(self, mix):
    weak, strong = self.rng.normal(size=(2, 5, 4))
    prior = self.rng.dirichlet(np.ones(4), 5)
    got = label_guess.guess_label(
      [tf.constant(weak), tf.constant(strong)], 0.5, tf.constant(prior), mix
    )
    q = 0.5 * (
      _np_softmax(_np_logit_norm(weak)) + _np_softmax(_np_logit_norm(strong))
    )
    want = _np_sharpen((1 - mix) * q + mix * prior, 0.5)
    self.assertAllClose(got, want, rtol=1e-6)

  def test_no_gradient_flows_into_the_prior(self):
    logits = tf.constant(self.rng.normal(size=(3, 4)))
    prior = tf.constant(self.rng.dirichlet(np.ones(4), 3))
    with tf.GradientTape(persistent=True) as tape:
      tape.watch([logits, prior])
      g = label_guess.guess_label([logits], 0.5, prior, 0.5)
      scalar = tf.reduce_sum(g * tf.range(4.0, dtype=g.dtype))
    self.assertIsNone(tape.gradient(scalar, prior))
    self.assertGreater(np.abs(tape.gradient(scalar, logits)).max(), 1e-4)

  def test_no_views_is_an_error(self):
    with self.assertRaises(ValueError):
      label_guess.guess_label([])


if __name__ == '__main__':
  tf.test.main()

"""Every function of ieg_tf/meta/losses.py against a numpy oracle."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import losses


def _log_softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _random_problem(seed, batch=6, classes=5):
  rng = np.random.default_rng(seed)
  logits = rng.normal(0.0, 2.0, (batch, classes))
  labels = rng.integers(0, classes, batch)
  raw = rng.random((batch, classes))
  targets = raw / raw.sum(axis=-1, keepdims=True)
  return logits, labels, targets


class LossesTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters(tf.float32, tf.float64)
  def test_sparse_cross_entropy(self, dtype):
    logits, labels, _ = _random_problem(0)
    expected = -_log_softmax(logits)[np.arange(len(labels)), labels]
    got = losses.sparse_cross_entropy(
      tf.constant(labels, tf.int64), tf.constant(logits, dtype)
    )
    self.assertEqual(got.dtype, dtype)
    tol = 1e-5 if dtype == tf.float32 else 1e-12
    self.assertAllClose(got, expected, rtol=tol, atol=tol)

  def test_soft_cross_entropy_and_its_target_gradient(self):
    logits, _, targets = _random_problem(1)
    t = tf.constant(targets)
    z = tf.constant(logits)
    with tf.GradientTape(persistent=True) as tape:
      tape.watch([t, z])
      loss = losses.soft_cross_entropy(t, z)
      total = tf.reduce_sum(loss)
    self.assertAllClose(loss, -(targets * _log_softmax(logits)).sum(-1))
    # d/dt_ic of -sum_c t_ic log_softmax(z_i)_c is -log_softmax(z_i)_c.
    self.assertAllClose(tape.gradient(total, t), -_log_softmax(logits))
    # d/dz_i = softmax(z_i) * sum(t_i) - t_i.
    probs = np.exp(_log_softmax(logits))
    self.assertAllClose(tape.gradient(total, z), probs - targets)

  def test_soft_cross_entropy_with_one_hot_equals_sparse(self):
    logits, labels, _ = _random_problem(2)
    onehot = np.eye(logits.shape[1])[labels]
    self.assertAllClose(
      losses.soft_cross_entropy(tf.constant(onehot), tf.constant(logits)),
      losses.sparse_cross_entropy(labels, tf.constant(logits)),
    )

  @parameterized.parameters(0.3, 0.7, 1.0)
  def test_generalized_cross_entropy(self, q):
    logits, labels, _ = _random_problem(3)
    p_y = np.exp(_log_softmax(logits))[np.arange(len(labels)), labels]
    got = losses.generalized_cross_entropy(labels, tf.constant(logits), q)
    self.assertAllClose(got, (1.0 - p_y**q) / q, rtol=1e-12, atol=1e-12)

  def test_generalized_cross_entropy_limits(self):
    logits, labels, _ = _random_problem(4)
    z = tf.constant(logits)
    ce = losses.sparse_cross_entropy(labels, z)
    p_y = np.exp(_log_softmax(logits))[np.arange(len(labels)), labels]
    # q = 1 is MAE-like: 1 - p_y.
    self.assertAllClose(
      losses.generalized_cross_entropy(labels, z, 1.0), 1.0 - p_y
    )
    # q -> 0 tends to CE; the gap is O(q * CE^2 / 2).
    near_ce = losses.generalized_cross_entropy(labels, z, 1e-6)
    self.assertAllClose(near_ce, ce, rtol=1e-4, atol=1e-5)
    far = losses.generalized_cross_entropy(labels, z, 0.5)
    self.assertGreater(np.max(np.abs(far - ce)), 1e-2)

  def test_kl_consistency_value_and_stop_gradient(self):
    target, _, _ = _random_problem(5)
    student, _, _ = _random_problem(6)
    log_q, log_p = _log_softmax(target), _log_softmax(student)
    expected = (np.exp(log_q) * (log_q - log_p)).sum(-1)
    t = tf.constant(target)
    s = tf.constant(student)
    with tf.GradientTape(persistent=True) as tape:
      tape.watch([t, s])
      kl = losses.kl_consistency(t, s)
      total = tf.reduce_sum(kl)
    self.assertAllClose(kl, expected)
    self.assertTrue(np.all(kl.numpy() >= 0.0))
    self.assertIsNone(tape.gradient(total, t))
    # d/ds KL(q || softmax(s)) = softmax(s) - q.
    self.assertAllClose(tape.gradient(total, s), np.exp(log_p) - np.exp(log_q))
    self.assertAllClose(
      losses.kl_consistency(t, t), np.zeros(len(target)), atol=1e-12
    )

  def test_l2_penalty(self):
    rng = np.random.default_rng(7)
    params = [rng.normal(size=s) for s in [(3, 2), (2,), (4,)]]
    mask = [True, False, True]
    expected = 0.5 * 0.01 * sum(np.sum(p**2) for p, m in zip(params, mask) if m)
    tensors = [tf.constant(p) for p in params]
    self.assertAllClose(losses.l2_penalty(tensors, mask, 0.01), expected)
    self.assertAllClose(losses.l2_penalty(tensors, [False] * 3, 0.01), 0.0)
    self.assertAllClose(losses.l2_penalty(tensors, mask, 0.0), 0.0)

  def test_l2_penalty_gradient_is_wd_times_params(self):
    rng = np.random.default_rng(8)
    params = [tf.constant(rng.normal(size=(3, 2))), tf.constant([1.0, 2.0])]
    with tf.GradientTape() as tape:
      tape.watch(params)
      penalty = losses.l2_penalty(params, [True, False], 0.1)
    grads = tape.gradient(penalty, params)
    self.assertAllClose(grads[0], 0.1 * params[0].numpy())
    self.assertIsNone(grads[1])

  def test_scale_to_global(self):
    per_example = np.array([0.5, 1.5, 2.0, 4.0])
    got = losses.scale_to_global(tf.constant(per_example), 16)
    self.assertAllClose(got, per_example.sum() / 16)

  def test_scaling_is_replica_invariant(self):
    # One replica with 8 examples and two with 4 each give the same total.
    per_example = np.random.default_rng(9).random(8)
    one = losses.scale_to_global(tf.constant(per_example), 8)
    two = sum(
      losses.scale_to_global(tf.constant(half), 8)
      for half in np.split(per_example, 2)
    )
    self.assertAllClose(one, two)
    means = [tf.constant(np.mean(h)) for h in np.split(per_example, 2)]
    replica_sum = sum(losses.scale_replica_mean(m, 2) for m in means)
    self.assertAllClose(replica_sum, np.mean(per_example))

  def test_scale_replica_mean(self):
    self.assertAllClose(losses.scale_replica_mean(tf.constant(3.0), 4), 0.75)


if __name__ == '__main__':
  tf.test.main()

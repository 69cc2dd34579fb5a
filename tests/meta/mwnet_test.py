"""Meta-Weight-Net pieces against numpy (its meta gradient is checked by
finite differences in meta_gradient_fd_test.py)."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import mwnet
from tests.meta import tiny_net


def _log_softmax(z):
  z = z - z.max(axis=-1, keepdims=True)
  return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _np_forward(mw, losses):
  w1, b1, w2, b2 = (p.numpy() for p in mw)
  hidden = np.maximum(losses[:, None] @ w1 + b1, 0.0)
  return 1.0 / (1.0 + np.exp(-(hidden @ w2 + b2)[:, 0]))


class MwnetTest(tf.test.TestCase, parameterized.TestCase):
  def test_init(self):
    seed = tf.constant([1, 2])
    mw = mwnet.mwnet_init(seed, hidden=100, dtype=tf.float64)
    self.assertEqual(
      [p.shape.as_list() for p in mw], [[1, 100], [100], [100, 1], [1]]
    )
    for p, bound in zip(mw, [1.0, 1.0, 0.1, 0.1]):
      self.assertEqual(p.dtype, tf.float64)
      self.assertLessEqual(np.abs(p.numpy()).max(), bound)
    # Deterministic in the seed, different per tensor and per seed.
    again = mwnet.mwnet_init(seed, hidden=100, dtype=tf.float64)
    for a, b in zip(mw, again):
      self.assertAllEqual(a, b)
    other = mwnet.mwnet_init(tf.constant([1, 3]), 100, tf.float64)
    self.assertNotAllClose(mw[0], other[0])
    self.assertNotAllClose(mw[0][0], mw[1])

  def test_forward_oracle(self):
    mw = mwnet.mwnet_init(tf.constant([3, 4]), hidden=16, dtype=tf.float64)
    losses = np.random.default_rng(0).exponential(1.0, 7)
    got = mwnet.mwnet_forward(mw, tf.constant(losses))
    self.assertAllClose(got, _np_forward(mw, losses))
    self.assertTrue(np.all((got.numpy() > 0) & (got.numpy() < 1)))

  def test_normalize_weights(self):
    w = np.array([0.2, 0.5, 0.3, 1.0])
    self.assertAllClose(mwnet.normalize_weights(tf.constant(w)), w / w.sum())
    zeros = tf.zeros(3, tf.float64)
    with tf.GradientTape() as tape:
      tape.watch(zeros)
      out = mwnet.normalize_weights(zeros)
    self.assertAllEqual(out, np.zeros(3))
    self.assertTrue(np.all(np.isfinite(tape.gradient(out, zeros).numpy())))

  def test_weights_do_not_differentiate_the_losses(self):
    mw = mwnet.mwnet_init(tf.constant([5, 6]), hidden=8, dtype=tf.float64)
    losses = tf.constant([0.5, 1.5, 3.0], tf.float64)
    with tf.GradientTape(persistent=True) as tape:
      tape.watch([losses] + mw)
      w = mwnet.mwnet_weights(mw, losses)
    self.assertIsNone(tape.gradient(w, losses))
    self.assertIsNotNone(tape.gradient(w, mw[0]))
    raw = _np_forward(mw, losses.numpy())
    self.assertAllClose(w, raw / raw.sum())
    self.assertAllClose(mwnet.mwnet_weights(mw, losses, False), raw)

  @parameterized.parameters(True, False)
  def test_final_loss_oracle(self, normalize):
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 3))
    labels = rng.integers(0, 3, 6)
    weights = rng.random(6)
    if normalize:
      weights /= weights.sum()
    terms = mwnet.mwnet_final_loss(
      logits=tf.constant(logits),
      labels=tf.constant(labels),
      weights=tf.constant(weights),
      penalty=tf.constant(0.5, tf.float64),
      global_batch=12,
      num_replicas=2,
      normalize=normalize,
    )
    ce = -_log_softmax(logits)[np.arange(6), labels]
    if normalize:
      weighted, scaled = np.sum(weights * ce), np.sum(weights * ce) / 2
    else:
      weighted, scaled = np.mean(weights * ce), np.sum(weights * ce) / 12
    self.assertAllClose(terms['weighted_ce'], weighted)
    self.assertAllClose(terms['net_loss'], weighted + 0.5)
    self.assertAllClose(terms['total'], scaled + 0.5 / 2)

  def test_meta_gradient_step_lowers_the_probe_loss(self):
    params, slots, x, _, y, xp, yp = tiny_net.ieg_problem(3)
    mw = mwnet.mwnet_init(tf.constant([7, 8]), hidden=8, dtype=tf.float64)
    kwargs = dict(
      images=x,
      labels=y,
      probe_images=xp,
      probe_labels=yp,
      meta_stepsize=0.5,
      weight_decay=0.0,
    )
    before = mwnet.mwnet_meta_gradients(
      tiny_net.forward, params, None, mw, **kwargs
    )
    stepped = [p - 1.0 * g for p, g in zip(mw, before.meta_grads)]
    after = mwnet.mwnet_meta_gradients(
      tiny_net.forward, params, None, stepped, **kwargs
    )
    self.assertLess(after.probe_loss, before.probe_loss)
    self.assertAllClose(before.aux, tiny_net.forward(params, x))


if __name__ == '__main__':
  tf.test.main()

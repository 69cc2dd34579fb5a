"""LARS against hand computation, on 1 and 2 replicas."""

import numpy as np
import tensorflow as tf

from ieg_tf.optim.lars import LARSOptimizer
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)

_W0 = np.array([[1.0, -2.0], [0.5, 3.0]])
_B0 = np.array([0.25, -0.5])
_LR, _MU, _WD, _EETA = 0.5, 0.9, 0.01, 0.001


def _hand(grads):
  """SimCLR's classic-momentum LARS by hand: kernel adapted, bias not."""
  w, b = _W0.copy(), _B0.copy()
  vw, vb = np.zeros_like(w), np.zeros_like(b)
  for gw, gb in grads:
    gw = np.asarray(gw) + _WD * w
    trust = _EETA * np.linalg.norm(w) / np.linalg.norm(gw)
    vw = _MU * vw + _LR * trust * gw
    w = w - vw
    vb = _MU * vb + _LR * np.asarray(gb)  # No decay, trust 1.
    b = b - vb
  return w, b, vw, vb


def _run(strategy, grads):
  with strategy.scope():
    w = tf.Variable(_W0, dtype=tf.float32)
    b = tf.Variable(_B0, dtype=tf.float32)
    opt = LARSOptimizer(
      [w, b],
      lambda step: tf.constant(_LR, tf.float32),
      momentum=_MU,
      weight_decay=_WD,
      eeta=_EETA,
      adapt_mask=[True, False],
    )
  replicas = strategy.num_replicas_in_sync

  @tf.function
  def step(gw, gb):
    def fn():
      # Each replica holds its share; LARS sums the shares.
      opt.apply_gradients([gw / replicas, gb / replicas])

    strategy.run(fn)

  for gw, gb in grads:
    step(tf.constant(gw, tf.float32), tf.constant(gb, tf.float32))
  return w.numpy(), b.numpy(), opt


class LarsTest(tf.test.TestCase):
  def test_matches_hand_computation_on_one_and_two_replicas(self):
    grads = [
      ([[0.3, -0.1], [0.2, 0.4]], [1.0, -1.0]),
      ([[-0.5, 0.2], [0.1, 0.0]], [0.5, 2.0]),
      ([[1.0, 1.0], [-1.0, 0.5]], [0.0, 0.25]),
    ]
    want_w, want_b, want_vw, want_vb = _hand(grads)
    for strategy in (
      tf.distribute.get_strategy(),
      devices.cpu_mirrored_strategy(2),
    ):
      w, b, opt = _run(strategy, grads)
      self.assertAllClose(w, want_w, atol=1e-6)
      self.assertAllClose(b, want_b, atol=1e-6)
      self.assertAllClose(opt.slots[0].numpy(), want_vw, atol=1e-6)
      self.assertAllClose(opt.slots[1].numpy(), want_vb, atol=1e-6)
      self.assertEqual(int(opt.iterations.numpy()), 3)

  def test_trust_is_one_when_a_norm_is_zero(self):
    w = tf.Variable(tf.zeros([3]))
    opt = LARSOptimizer([w], lambda s: 0.1, momentum=0.0, weight_decay=0.5)
    opt.apply_gradients([tf.constant([1.0, 2.0, 2.0])])
    # ||w|| = 0: plain SGD step (the decay of a zero weight is zero).
    self.assertAllClose(w.numpy(), [-0.1, -0.2, -0.2])

  def test_trust_ratio_makes_the_step_scale_free(self):
    # Adapted: the update norm is lr * eeta * ||w|| whatever ||g|| is.
    for scale in (1e-3, 1.0, 1e3):
      w = tf.Variable([3.0, 4.0])
      opt = LARSOptimizer([w], lambda s: 2.0, momentum=0.0)
      opt.apply_gradients([tf.constant([scale, 0.0])])
      self.assertAllClose(
        np.linalg.norm(w.numpy() - [3.0, 4.0]), 2.0 * 0.001 * 5.0
      )

  def test_mask_length_must_match(self):
    with self.assertRaises(ValueError):
      LARSOptimizer([tf.Variable(1.0)], lambda s: 0.1, adapt_mask=[True, True])


if __name__ == '__main__':
  tf.test.main()

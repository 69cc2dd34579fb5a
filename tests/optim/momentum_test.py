"""Momentum optimizer and EMA against hand computation, on 1 and 2 replicas."""

import numpy as np
import tensorflow as tf

from ieg_tf.optim import ema as ema_lib
from ieg_tf.optim import momentum
from ieg_tf.runtime import devices

devices.ensure_logical_cpus(2)


def _run(strategy, grads_per_step, lr=0.1, mu=0.9, decay=0.999, loss_ok=None):
  """Applies fixed gradients; each replica gets its share g / replicas.

  `loss_ok`: None = no non-finite guard, else one bool per step given to
  `apply_gradients(apply_if=...)` (the loss's finiteness).
  """
  with strategy.scope():
    var = tf.Variable([1.0, -2.0])
    opt = momentum.MomentumOptimizer([var], lambda step: lr, mu)
    ema = ema_lib.WeightEMA([var], decay)
  replicas = strategy.num_replicas_in_sync

  @tf.function
  def step(g, ok):
    def fn():
      share = tf.constant(g, tf.float32) / replicas
      opt.apply_gradients(
        [share],
        post_update=lambda s, ok: ema.update(s, opt.iterations, ok),
        apply_if=ok,
      )

    strategy.run(fn)

  slots_before = [s.numpy().copy() for s in opt.slots]
  for i, g in enumerate(grads_per_step):
    step(g, None if loss_ok is None else tf.constant(loss_ok[i]))
  return (
    var.numpy(),
    opt.slots[0].numpy(),
    ema.shadows[0].numpy(),
    (
      slots_before,
      int(opt.iterations.numpy()),
    ),
  )


class MomentumTest(tf.test.TestCase):
  def test_matches_tf1_momentum_and_ema_by_hand(self):
    grads = [[0.5, 1.0], [-1.0, 0.25], [2.0, 0.0]]
    theta = np.array([1.0, -2.0])
    accum = np.zeros(2)
    shadow = theta.copy()
    for n, g in enumerate(grads):
      accum = 0.9 * accum + np.array(g)
      theta = theta - 0.1 * accum
      d = min(0.999, (1 + n) / (10 + n))
      shadow = d * shadow + (1 - d) * theta
    for strategy in (
      tf.distribute.get_strategy(),
      devices.cpu_mirrored_strategy(2),
    ):
      var, slot, shadow_got, (slots_before, iters) = _run(strategy, grads)
      self.assertAllClose(var, theta, atol=1e-6)
      self.assertAllClose(slot, accum, atol=1e-6)
      self.assertAllClose(shadow_got, shadow, atol=1e-6)
      self.assertEqual(iters, 3)
      # Slots exist (zeros) before the first distributed step.
      self.assertAllEqual(slots_before[0], [0.0, 0.0])

  def test_non_finite_steps_are_skipped_and_counted(self):
    # Steps 1 (NaN gradient) and 2 (finite gradient, non-finite loss) must
    # leave weights, momentum and EMA exactly as after step 0; the counter
    # still advances (the input stream and LR follow it).
    nan = float('nan')
    grads = [[0.5, 1.0], [nan, 0.25], [2.0, 0.0], [1.0, 1.0]]
    loss_ok = [True, True, False, True]
    clean = [grads[0], grads[3]]
    for strategy in (
      tf.distribute.get_strategy(),
      devices.cpu_mirrored_strategy(2),
    ):
      want = _run(strategy, clean)
      var, slot, shadow, (_, iters) = _run(strategy, grads, loss_ok=loss_ok)
      self.assertAllClose(var, want[0], atol=1e-6)
      self.assertAllClose(slot, want[1], atol=1e-6)
      self.assertEqual(iters, 4)
      self.assertTrue(np.all(np.isfinite(shadow)))

  def test_guard_counts_and_records_the_first_bad_step(self):
    with tf.distribute.get_strategy().scope():
      var = tf.Variable([1.0])
      opt = momentum.MomentumOptimizer([var], lambda step: 0.1, 0.9)

    @tf.function
    def step(g):
      tf.distribute.get_strategy().run(
        lambda: opt.apply_gradients([g], apply_if=tf.constant(True))
      )

    for g in ([1.0], [float('inf')], [1.0], [float('nan')]):
      step(tf.constant(g))
    self.assertEqual(int(opt.nonfinite_steps.numpy()), 2)
    self.assertEqual(int(opt.first_nonfinite_step.numpy()), 1)
    self.assertEqual(int(opt.iterations.numpy()), 4)
    self.assertTrue(np.isfinite(var.numpy()).all())
    self.assertFalse(momentum.all_finite([tf.constant([1.0, np.inf])]))
    self.assertTrue(momentum.all_finite([tf.constant([1, 2]), None]))

  def test_effective_decay_ramp(self):
    self.assertAllClose(ema_lib.effective_decay(0.999, 0), 0.1)
    self.assertAllClose(ema_lib.effective_decay(0.999, 90), 91 / 100)
    self.assertAllClose(ema_lib.effective_decay(0.999, 10**6), 0.999)


if __name__ == '__main__':
  tf.test.main()

"""The IEG and MW-Net meta steps compile with XLA and match eager execution."""

import tensorflow as tf
from absl.testing import parameterized

from ieg_tf.meta import mwnet
from tests.meta import tiny_net


class LookaheadXlaTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters((tf.float64, 1e-10), (tf.float32, 2e-4))
  def test_xla_matches_eager(self, dtype, tol):
    args = tiny_net.ieg_problem(4, dtype=dtype)
    eager = tiny_net.ieg_step(*args)
    compiled = tf.function(tiny_net.ieg_step, jit_compile=True)(*args)
    for name in ('grad_w', 'grad_eps', 'weights', 'probe_loss'):
      self.assertAllClose(
        getattr(compiled, name), getattr(eager, name), rtol=tol, atol=tol
      )
    self.assertAllEqual(compiled.eps, eager.eps)
    # Not a vacuous comparison: the gradients are far from zero.
    self.assertGreater(float(tf.reduce_max(tf.abs(eager.grad_w))), 1e-3)

  @parameterized.parameters((tf.float64, 1e-10), (tf.float32, 2e-4))
  def test_mwnet_xla_matches_eager(self, dtype, tol):
    params, slots, x, _, y, xp, yp = tiny_net.ieg_problem(5, dtype=dtype)
    mw = mwnet.mwnet_init(tf.constant([1, 2]), hidden=8, dtype=dtype)

    def meta(params, slots, mw, x, y, xp, yp):
      out = mwnet.mwnet_meta_gradients(
        tiny_net.forward,
        params,
        slots,
        mw,
        images=x,
        labels=y,
        probe_images=xp,
        probe_labels=yp,
        meta_stepsize=0.1,
        weight_decay=0.01,
        meta_momentum=0.9,
        decay_mask=tiny_net.DECAY_MASK,
      )
      return out.meta_grads, out.probe_loss

    args = (params, slots, mw, x, y, xp, yp)
    eager = meta(*args)
    compiled = tf.function(meta, jit_compile=True)(*args)
    for a, b in zip(compiled[0], eager[0]):
      self.assertAllClose(a, b, rtol=tol, atol=tol)
    self.assertAllClose(compiled[1], eager[1], rtol=tol, atol=tol)
    self.assertGreater(float(tf.reduce_max(tf.abs(eager[0][0]))), 1e-6)


if __name__ == '__main__':
  tf.test.main()

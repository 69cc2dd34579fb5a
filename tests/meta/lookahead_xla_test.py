"""The IEG meta step compiles with XLA and matches eager execution."""

import tensorflow as tf
from absl.testing import parameterized

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


if __name__ == '__main__':
  tf.test.main()

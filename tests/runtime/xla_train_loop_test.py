"""Supervised and L2R: the whole train loop compiles with XLA (TPU-ready).

See tests/runtime/xla_loop_harness.py for how the production loop is
compiled. Neither method draws random numbers inside the step, so the
XLA-compiled loop must give the graph-mode update to float32 round-off.
"""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from tests.runtime import xla_loop_harness as harness


class XlaTrainLoopTest(tf.test.TestCase, parameterized.TestCase):
  @parameterized.parameters('supervised', 'l2r')
  def test_compiled_loop_matches_graph_mode(self, method):
    graph = harness.run(method, jit=False, steps=2)
    xla = harness.run(method, jit=True, steps=2)
    self.assertEmpty(xla['ops'] & harness.PYTHON_OPS)
    # Summaries are written by the host loop, never inside the step.
    self.assertEmpty({op for op in xla['ops'] if 'Summary' in op})
    self.assertEqual(graph['metrics'].keys(), xla['metrics'].keys())
    for name, value in graph['metrics'].items():
      self.assertAllClose(xla['metrics'][name], value, atol=1e-5, msg=name)
    moved = 0.0
    for before, a, b in zip(xla['initial'], graph['weights'], xla['weights']):
      self.assertAllClose(a, b, atol=1e-5)
      self.assertTrue(np.all(np.isfinite(b)))
      moved = max(moved, float(np.max(np.abs(b - before))))
    self.assertGreater(moved, 1e-4)  # the comparison is not of two no-ops


if __name__ == '__main__':
  tf.test.main()

"""IEG: the whole train loop compiles with XLA (TPU-ready).

See tests/runtime/xla_loop_harness.py for how the production loop is
compiled. IEG's MixUp coefficients come from `tf.random.stateless_*`, whose
XLA kernels use a different bit generator than the CPU kernels (same seed,
same distribution, other numbers), so the MixUp loss differs between the
compiled and the graph-mode step. Everything computed before MixUp (the
look-ahead re-weighting, the pseudo-labels, the consistency term) must
agree after one step.
"""

import numpy as np
import tensorflow as tf

from tests.runtime import xla_loop_harness as harness

# Metrics of the first step that do not depend on the MixUp draws.
_DRAW_FREE = (
  'loss/meta',
  'acc/meta',
  'loss/consistency',
  'weights/zero_fraction',
  'weights/clean_mean',
  'weights/noisy_mean',
  'weights/clean_auc',
  'relabel/replaced_fraction',
  'pseudo/accuracy',
)


class XlaIegLoopTest(tf.test.TestCase):
  def test_compiled_ieg_loop(self):
    self._check_compiled({})

  def test_compiled_ieg_loop_with_the_weight_and_relabel_options(self):
    # Per-label segment means and the p(given label) gather under XLA.
    self._check_compiled(
      {
        'meta_weight_rule': 'class_balanced',
        'weight_source': 'network',
        'relabel_rule': 'reference',
      }
    )

  def test_compiled_ieg_loop_with_class_balanced_weights(self):
    self._check_compiled({'meta_weight_rule': 'class_balanced'})

  def _check_compiled(self, options):
    graph = harness.run('ieg', jit=False, steps=1, method_options=options)
    xla = harness.run('ieg', jit=True, steps=1, method_options=options)
    self.assertEmpty(xla['ops'] & harness.PYTHON_OPS)
    # Summaries are written by the host loop, never inside the step.
    self.assertEmpty({op for op in xla['ops'] if 'Summary' in op})
    self.assertEqual(graph['metrics'].keys(), xla['metrics'].keys())
    for name in _DRAW_FREE:
      self.assertAllClose(
        xla['metrics'][name], graph['metrics'][name], atol=1e-4, msg=name
      )
    for name, value in xla['metrics'].items():
      self.assertTrue(np.isfinite(value), name)
    moved = 0.0
    for before, after in zip(xla['initial'], xla['weights']):
      self.assertTrue(np.all(np.isfinite(after)))
      moved = max(moved, float(np.max(np.abs(after - before))))
    self.assertGreater(moved, 1e-4)


if __name__ == '__main__':
  tf.test.main()

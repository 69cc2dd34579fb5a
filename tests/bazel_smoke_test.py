"""Smoke test that the build runs tests: imports ieg_tf and checks one loss.

Runs under pytest, alone (`python tests/bazel_smoke_test.py`) and under Bazel
(`//:bazel_smoke_test`), where `ieg_tf` comes from the runfiles tree and
TensorFlow from the interpreter given by --python_path.
"""

import os

import numpy as np
import tensorflow as tf

from ieg_tf.meta import losses


def _numpy_sparse_cross_entropy(labels, logits):
  """-log softmax(logits)[label] per row, in float64, stable."""
  logits = logits.astype(np.float64)
  shifted = logits - logits.max(axis=1, keepdims=True)
  log_norm = np.log(np.exp(shifted).sum(axis=1))
  return log_norm - shifted[np.arange(len(labels)), labels]


class BazelSmokeTest(tf.test.TestCase):
  def test_sparse_cross_entropy_matches_numpy(self):
    rng = np.random.default_rng(0)
    # Large logits too, so a naive exp() in the implementation would overflow.
    logits = rng.normal(scale=30.0, size=(6, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=6).astype(np.int64)

    got = losses.sparse_cross_entropy(tf.constant(labels), tf.constant(logits))

    self.assertEqual(got.shape, (6,))
    self.assertEqual(got.dtype, tf.float32)
    self.assertAllClose(
      got, _numpy_sparse_cross_entropy(labels, logits), rtol=1e-5, atol=1e-4
    )

  def test_bazel_imports_ieg_tf_from_runfiles(self):
    if 'TEST_SRCDIR' not in os.environ:
      self.skipTest('only meaningful under bazel test (TEST_SRCDIR unset)')
    # The package must come from this test's runfiles, not from an installed
    # copy (pip install), or Bazel would be testing stale code.
    package_root = os.path.dirname(os.path.dirname(losses.__file__))
    test_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    self.assertEqual(
      os.path.realpath(os.path.dirname(package_root)),
      os.path.realpath(test_root),
    )


if __name__ == '__main__':
  tf.test.main()

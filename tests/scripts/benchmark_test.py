"""scripts/benchmark.py: FLOP counting against hand counts, one tiny run."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

_ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
_SCRIPT = os.path.join(_ROOT, 'scripts', 'benchmark.py')


def _load_script():
  spec = importlib.util.spec_from_file_location('benchmark', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class BenchmarkTest(tf.test.TestCase):
  def test_conv_and_matmul_flops_match_hand_counts(self):
    bench = _load_script()
    kernel = tf.ones([3, 3, 4, 8])
    w = tf.ones([8 * 5 * 5, 7])

    @tf.function
    def f(x):
      y = tf.nn.conv2d(x, kernel, strides=2, padding='SAME')  # [2,5,5,8]
      return tf.matmul(tf.reshape(y, [2, -1]), w)  # [2, 7]

    graph = f.get_concrete_function(tf.TensorSpec([2, 10, 10, 4])).graph
    conv = 2 * (2 * 5 * 5 * 8) * (3 * 3 * 4)
    matmul = 2 * (2 * 7) * (8 * 5 * 5)
    self.assertEqual(bench.graph_flops(graph), conv + matmul)

  def test_backward_counts_twice_the_forward(self):
    bench = _load_script()
    kernel = tf.Variable(tf.ones([3, 3, 4, 8]))

    @tf.function
    def f(x):
      with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, 'SAME'))
      return tape.gradient(y, [x, kernel])

    graph = f.get_concrete_function(tf.TensorSpec([2, 6, 6, 4])).graph
    forward = 2 * (2 * 6 * 6 * 8) * (3 * 3 * 4)
    np.testing.assert_allclose(bench.graph_flops(graph), 3 * forward)

  def test_one_json_line_with_the_contract_fields(self):
    proc = subprocess.run(
      [
        sys.executable,
        _SCRIPT,
        '--method=supervised',
        '--batch_size=8',
        '--image_size=16',
        '--steps_per_loop=1',
        '--warmup_chunks=1',
        '--chunks=2',
      ],
      capture_output=True,
      text=True,
      timeout=600,
      cwd=_ROOT,
      env=dict(os.environ, PYTHONPATH=_ROOT),
    )
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    lines = [x for x in proc.stdout.splitlines() if x.startswith('{')]
    self.assertLen(lines, 1)
    row = json.loads(lines[0])
    for key in (
      'method',
      'network_name',
      'batch_size',
      'images_per_sec',
      'step_ms_median',
      'peak_rss_mb',
      'achieved_gflops',
      'matmul_gflops',
    ):
      self.assertIn(key, row)
    self.assertGreater(row['images_per_sec'], 0)
    self.assertGreater(row['step_gflop'], 0)


if __name__ == '__main__':
  tf.test.main()

"""Smoke test of scripts/benchmark_input.py (table code and one tiny run)."""

import importlib.util
import os

import tensorflow as tf

_SCRIPT = os.path.join(
  os.path.dirname(__file__), '..', '..', 'scripts', 'benchmark_input.py'
)


def _load_script():
  spec = importlib.util.spec_from_file_location('benchmark_input', _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


class BenchmarkInputTest(tf.test.TestCase):
  def test_table_has_the_train_step_column(self):
    bench = _load_script()
    rows = [
      {
        'pipeline': p,
        'size': 32,
        'images_per_sec': 1234.4,
        'passes': 1,
        'batches_per_pass': 2,
        'batch_size': 4,
        'source': 'synthetic',
      }
      for p in ('weak', 'simclr')
    ]
    steps = bench.parse_train_step('weak@32=850.4')
    self.assertEqual(steps, {('weak', 32): 850.4})
    lines = bench.format_table(rows, steps).splitlines()
    self.assertIn('train_step_images_per_sec', lines[0])
    self.assertLen(lines, 4)
    self.assertIn('850', lines[2])
    self.assertIn('1234', lines[2])
    self.assertNotIn('850', lines[3])

  def test_every_pipeline_runs(self):
    bench = _load_script()
    pool = bench.synthetic_pool(8, 4)
    for pipeline in bench.PIPELINES:
      ds = bench.make_dataset(pool, pipeline, batch_size=4)
      rate, rates = bench.measure(ds, 1, 2, 1, 4)
      self.assertLen(rates, 2)
      self.assertGreater(rate, 0.0)


if __name__ == '__main__':
  tf.test.main()

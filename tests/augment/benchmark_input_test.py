"""Smoke test of scripts/benchmark_input.py (table code and tiny runs)."""

import contextlib
import importlib.util
import io
import json
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
    self.assertEqual(bench.format_rate(0.312), '0.31')
    self.assertEqual(bench.format_rate(103.1), '103')

  def test_every_pipeline_runs(self):
    bench = _load_script()
    pool = bench.synthetic_pool(8, 4)
    for pipeline in bench.PIPELINES:
      ds = bench.make_dataset(pool, pipeline, batch_size=4)
      rate, rates = bench.measure(ds, 1, 2, 1, 4)
      self.assertLen(rates, 2)
      self.assertGreater(rate, 0.0)

  def test_each_method_is_measured_once_per_size(self):
    bench = _load_script()
    calls = []

    class FakeStepBenchmark:
      def benchmark(self, args, method):
        calls.append((method, args.network_name, args.image_size))
        return {'method': method, 'images_per_sec': 1.0 + len(calls)}

    steps = bench.measure_train_steps(
      bench.PIPELINES, 224, 'resnet50', 4, bench=FakeStepBenchmark()
    )
    self.assertEqual(
      calls,
      [
        ('supervised', 'resnet50', 224),
        ('ieg', 'resnet50', 224),
        ('contrastive', 'resnet50', 224),
      ],
    )
    self.assertEqual(steps['weak']['method'], 'supervised')
    self.assertIs(steps['strong_randaug'], steps['strong_autoaug'])
    self.assertEqual(steps['strong_autoaug']['method'], 'ieg')
    self.assertEqual(steps['simclr']['method'], 'contrastive')
    self.assertEqual(
      bench.parse_size_map('32:tiny,224:resnet50')[224], 'resnet50'
    )
    self.assertEqual(bench._for_size({32: 'a', 224: 'b'}, 160), 'b')

  def test_measured_train_step_column_from_a_real_run(self):
    """Tiny sizes, one timed step: the column must hold a real rate."""
    bench = _load_script()
    out = io.StringIO()
    argv = [
      '--sizes=8',
      '--pipelines=weak,simclr',
      '--batch_size=4',
      '--passes=1',
      '--warmup=1',
      '--batches_per_pass=8:1',
      '--pool=4',
      '--measure_train_step',
      '--step_network=8:tiny',
      '--step_batch_size=8:4',
      '--step_steps_per_loop=1',
      '--step_warmup_chunks=1',
      '--step_chunks=1',
      '--train_step=simclr@8=77.0',
    ]
    with contextlib.redirect_stdout(out):
      bench.main(argv)
    lines = out.getvalue().splitlines()
    rows = [json.loads(x) for x in lines if x.startswith('{')]
    self.assertEqual([r['pipeline'] for r in rows], ['weak', 'simclr'])
    self.assertEqual(rows[0]['train_step'], 'supervised/tiny/b4')
    self.assertEqual(rows[1]['train_step'], 'contrastive/tiny/b4')
    for row in rows:
      self.assertGreater(row['train_step_images_per_sec'], 0.0)
      self.assertGreater(row['train_step_ms_median'], 0.0)
    header = lines.index(
      next(x for x in lines if x.lstrip().startswith('pipeline'))
    )
    weak_line, simclr_line = lines[header + 2], lines[header + 3]
    measured = bench.format_rate(rows[0]['train_step_images_per_sec'])
    self.assertIn(f' {measured} ', weak_line)
    self.assertIn('supervised/tiny/b4', weak_line)
    # The manual value wins over the measured one and says so.
    self.assertIn(' 77 ', simclr_line)
    self.assertIn('manual', simclr_line)


if __name__ == '__main__':
  tf.test.main()
